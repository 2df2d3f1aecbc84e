"""Per-sensor anomaly scores from a forecast of the newest row.

One function, used by the converter when it calibrates a bundle and by the agent's model
scorers at run time, so the two can never disagree on what a score is:

    score[s] = |newest[s] − forecast[s]| / residual_std[s],   0 where the newest value is missing

`residual_std` is each sensor's forecast-error scale on validation data, so a score of about
1 is ordinary and large values are surprising. numpy only: the gateway has no torch.
"""
from __future__ import annotations

import numpy as np

#: A sensor the model forecast perfectly on validation still gets a finite score.
RESIDUAL_STD_FLOOR = 1e-6


def sensor_scores(newest: np.ndarray, missing_newest: np.ndarray, forecast: np.ndarray,
                  residual_std: np.ndarray) -> np.ndarray:
    """(N,) non-negative float64 scores. Works on batches too: any leading axes broadcast."""
    newest = np.asarray(newest, np.float64)
    forecast = np.asarray(forecast, np.float64)
    scale = np.maximum(np.asarray(residual_std, np.float64), RESIDUAL_STD_FLOOR)
    scores = np.abs(newest - forecast) / scale
    return np.where(np.asarray(missing_newest, bool), 0.0, scores)


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
