"""A drifting sensor's forecast offset that follows its own forecast error (`scoring.profile.drifting_offset_half_life_ticks`).

Why (issue 10, the skab37 round): a sensor in `scoring.profile.drifting` (by default every temperature) is meant to
be judged by its newest forecast error alone — no profile distance and no lasting-shift statistic, "both of which
would add the drift up into an alarm". But the model tier's forecaster was trained on other plants and reverts
towards what it learnt as normal: while a temperature sits away from that (SKAB other/10's fluid 2.4 °C above its
warm-up after a test), the model's forecast lags it by about the same amount tick after tick, and its newest error
becomes a level statistic after all — a lasting bias of 1.3–2 × the threshold that held the tier alone's alert open
to the end of the file. The fallback's forecasters learn the new level and do not.

With a half-life H > 0 the tier's forecast offset of each drifting sensor (`plant_fit`'s mean warm-up error, added to
every forecast) follows the sensor's own error on every tick it is read, inside alerts too:

    e'_t = e_t − b_{t−1}              the error the tick is scored with (in the scale's units)
    b_t  = b_{t−1} + (1 − 2^(−1/H))·e'_t

so a drifting sensor is scored by how its newest value breaks from its recent course. Warm-up (the scores the tier's
threshold is calibrated on) and live ticks are treated alike; the live offset continues from where the warm-up
left it. Profiled sensors, and the fallback, are untouched. H = 0 (the default): off, bit for bit.
"""
from __future__ import annotations

import numpy as np


def rate_of(half_life_ticks: float) -> float:
    """The EW step of a half-life in ticks (0: off)."""
    return 0.0 if half_life_ticks <= 0 else 1.0 - 0.5 ** (1.0 / half_life_ticks)


def follow_in_batch(errors: np.ndarray, missing: np.ndarray, follows: np.ndarray, rate: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(errors as scored, final b) over a time-ordered (n, N) run of signed errors (oldest first), b starting at 0:
    the columns in `follows` (N,) become e'_t = e_t − b_{t−1}; a missing tick neither scores nor moves b. The other
    columns, and b for them (0), are as given."""
    errors = np.array(errors, np.float64)
    missing = np.asarray(missing, bool)
    b = np.zeros(errors.shape[1], np.float64)
    cols = np.flatnonzero(np.asarray(follows, bool))
    if rate <= 0 or not cols.size:
        return errors, b
    for t in range(len(errors)):
        seen = cols[~missing[t, cols]]
        errors[t, seen] -= b[seen]
        b[seen] += rate * errors[t, seen]
    return errors, b


class DriftingOffset:
    """The live part: the tier's offset moved by each scored tick's error on the drifting sensors, once per tick.

    `before(now, offset)` is the offset the tick at `now` is forecast with: the one it had before that tick's
    update, when the same tick is scored again (the chain retrying, a shadow over the pipeline's window), so that
    scoring a tick twice gives the same score and moves the offset once, as the error rings record it once."""

    def __init__(self, follows: np.ndarray, rate: float):
        self.follows = np.asarray(follows, bool)
        self.rate = float(rate)
        self._tick: float | None = None
        self._offset: np.ndarray | None = None

    def before(self, now: float, offset: np.ndarray) -> np.ndarray:
        if self._tick is not None and now == self._tick:
            return self._offset
        self._tick, self._offset = now, offset
        return offset

    def after(self, offset: np.ndarray, err: np.ndarray, scale: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """A new offset array: the drifting sensors read on this tick moved by rate × their error (err in the
        scale's units, the offset in the model's normalised ones)."""
        moves = self.follows & ~np.asarray(missing, bool)
        return np.where(moves, offset + self.rate * err * scale, offset).astype(np.float32)

    def forget(self) -> None:
        """A restored offset is the newest: no tick's before-offset is kept."""
        self._tick = self._offset = None
