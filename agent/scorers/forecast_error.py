"""Per-sensor anomaly scores from a forecast of the newest row.

Pure functions, used by the converter when it calibrates (and verifies) a bundle and by the
agent's model scorers at run time, so the two can never disagree on what a score is. Two
statistics per sensor, on the signed normalised forecast error e_t = (newest − forecast) / residual_std
(0 where the newest value is missing):

- the point error |e_t|: a sudden break (`sensor_scores`);
- the bias |Σ_k w_k e_{t−k}|: the exponentially weighted mean of the last `span` ticks' signed
  errors (half-life BIAS_HALF_LIFE_TICKS, weights scaled so Σw² = 1, i.e. N(0,1) for independent
  unit errors): a lasting shift. A forecaster that reads the shifted values in its context
  follows them after a tick or two, so the point error drops back — but it also reverts towards
  what it learnt is normal, so its errors keep the shift's sign for as long as the shift lasts.

    score[s] = max(|e_t[s]|, |bias_t[s]|),   0 where the newest value is missing  (`combined_scores`)

Ticks with no known error (before a scorer's first tick, a missing reading) count as 0: the
bias is then smaller, never larger. `residual_std` is each sensor's forecast-error scale on
validation data, so a score of about 1 is ordinary and large values are surprising. numpy
only: the gateway has no torch.
"""
from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: A sensor the model forecast perfectly on validation still gets a finite score.
RESIDUAL_STD_FLOOR = 1e-6

#: Half-life, in ticks, of the weights of the lasting-shift (bias) statistic. The one definition:
#: the numpy fallback's AR model (ar.py) imports it.
BIAS_HALF_LIFE_TICKS = 8.0


def sensor_scores(newest: np.ndarray, missing_newest: np.ndarray, forecast: np.ndarray,
                  residual_std: np.ndarray) -> np.ndarray:
    """(N,) non-negative float64 scores |signed_errors|. Works on batches too: any leading axes broadcast."""
    return np.abs(signed_errors(newest, missing_newest, forecast, residual_std))


def residual_std(newest: np.ndarray, missing_newest: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Per-sensor RMS forecast error over the observed (not missing) rows of a (n, N) batch.

    RMS about zero rather than about the mean error: a biased forecast is part of the error
    the score should scale by. Sensors with no observed row get 1.0.
    """
    err = np.asarray(newest, np.float64) - np.asarray(forecast, np.float64)
    seen = ~np.asarray(missing_newest, bool)
    count = seen.sum(axis=0)
    sq = np.where(seen, err * err, 0.0).sum(axis=0)
    rms = np.sqrt(np.divide(sq, count, out=np.ones_like(sq), where=count > 0))
    return np.maximum(rms, RESIDUAL_STD_FLOOR)


def signed_errors(newest: np.ndarray, missing_newest: np.ndarray, forecast: np.ndarray,
                  residual_std: np.ndarray) -> np.ndarray:
    """(newest − forecast) / residual_std, 0 where the newest value is missing. Any leading axes."""
    newest = np.asarray(newest, np.float64)
    forecast = np.asarray(forecast, np.float64)
    scale = np.maximum(np.asarray(residual_std, np.float64), RESIDUAL_STD_FLOOR)
    return np.where(np.asarray(missing_newest, bool), 0.0, (newest - forecast) / scale)


@functools.lru_cache(maxsize=64)
def _weights(span: int) -> np.ndarray:
    w = 0.5 ** (np.arange(span - 1, -1, -1) / BIAS_HALF_LIFE_TICKS)
    w = w / np.sqrt((w * w).sum())
    w.setflags(write=False)
    return w


def bias_weights(span: int) -> np.ndarray:
    """(span,) EW weights, oldest first, half-life BIAS_HALF_LIFE_TICKS, scaled so Σw² = 1."""
    if span < 1:
        raise ValueError(f"the bias needs a span of at least 1 tick, got {span}")
    return _weights(int(span))


def ew_bias(errors: np.ndarray) -> np.ndarray:
    """Signed bias statistic (N,) of a (span, N) run of signed errors, oldest first (0 = unknown)."""
    errors = np.asarray(errors, np.float64)
    return bias_weights(len(errors)) @ errors


def rolling_bias(previous: np.ndarray, current: np.ndarray, span: int) -> np.ndarray:
    """(n, N) bias of every tick of a time-ordered run, in batch.

    Row i is ew_bias([previous[i−span+1], …, previous[i−1], current[i]]): `previous` holds the
    signed errors of consecutive ticks, `current` the errors tick i itself gets scored with
    (usually the same array; verify passes modified copies of a tick). Ticks before row 0 are
    unknown and count as 0, as for a scorer that has just become active.
    """
    previous = np.asarray(previous, np.float64)
    current = np.asarray(current, np.float64)
    w = bias_weights(span)
    out = w[-1] * current
    if span > 1:
        padded = np.concatenate([np.zeros((span - 1,) + previous.shape[1:]), previous])
        past = sliding_window_view(padded, span - 1, axis=0)[:len(current)]     # (n, N, span−1)
        out = out + np.einsum("tnm,m->tn", past, w[:-1])
    return out


def combined_scores(errors: np.ndarray, bias: np.ndarray, missing_newest: np.ndarray) -> np.ndarray:
    """Per-sensor score max(|newest error|, |bias|), 0 where the newest value is missing."""
    score = np.maximum(np.abs(np.asarray(errors, np.float64)), np.abs(np.asarray(bias, np.float64)))
    return np.where(np.asarray(missing_newest, bool), 0.0, score)


def run_scores(errors: np.ndarray, missing_newest: np.ndarray, span: int) -> np.ndarray:
    """(n, N) combined scores of a time-ordered run of ticks' signed errors (n, N), as the agent's
    model scorer gives them tick by tick when it saw every tick of the run from the first."""
    return combined_scores(errors, rolling_bias(errors, errors, span), missing_newest)
