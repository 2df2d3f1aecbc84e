"""A drifting sensor's forecast offset learnt only on calm ticks (`scoring.profile.calm_offset_half_life_ticks`).

Why (issue 10, the skab39 round): a sensor in `scoring.profile.drifting` (by default every temperature) is judged by
its newest forecast error alone. The model tier's forecaster was trained on other plants and does not follow a
temperature that sits outside their range (SKAB, W bundles: the fluid's forecast lags a +3 °C shift of its window by
~9 residual σ), so while the plant sits at a new temperature the newest error is a lasting offset — the lead of most
of the tier alone's false rows after an anomaly on SKAB's dev files. The fallback's forecasters learn the new level
on calm ticks and do not alarm on it.

skab37's D64 made that offset follow the error on every tick: the same lasting error carries real anomalies (SKAB
valve1/0, valve1/2), and followed inside an alert it forgot them. So here the tier's offset of each drifting sensor
(plant_fit's mean warm-up error, added to every forecast) is an EW mean of the sensor's own error moved only on a
tick the detector judges calm **by the tier's own score, with no alert open** (`Detector.calm(own, 0)`), and only when
the sensor is read on that tick:

    offset ← offset + (1 − 2^(−1/H)) · (value − forecast − offset)      (in the model's normalised units)

Warm-up is untouched (the threshold is calibrated on the same scores), profiled sensors and the fallback too; a
tick inside an alert teaches nothing. H = 0 (the default): off, bit for bit.
"""
from __future__ import annotations

import numpy as np


def rate_of(half_life_ticks: float) -> float:
    """The EW step of a half-life in ticks (0: off)."""
    return 0.0 if half_life_ticks <= 0 else 1.0 - 0.5 ** (1.0 / half_life_ticks)


def learnt_offset(offset: np.ndarray, err: np.ndarray, scale: np.ndarray, missing: np.ndarray,
                  follows: np.ndarray, rate: float) -> np.ndarray:
    """A new offset array (float32): the sensors in `follows` read on this tick (not `missing`) moved by `rate` × their
    error — `err` in units of the scale (the error the tick was scored with, so already net of `offset`), the offset in
    the model's normalised units (err × scale); every other sensor's entry as it was."""
    moves = np.asarray(follows, bool) & ~np.asarray(missing, bool)
    return np.where(moves, offset + rate * err * scale, offset).astype(np.float32)
