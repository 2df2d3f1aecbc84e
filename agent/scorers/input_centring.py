"""A bundle's input centring: some sensors' model input read relative to their own window's level.

Why (issue 10, skab39/skab40): a sensor whose level drifts in normal operation (a motor or fluid temperature,
`scoring.profile.drifting`) sits, on a new plant, outside the level range the model was trained on, and the
forecaster follows a level it never saw only in part (skab39: temp_fluid's window shifted by +3 °C left the forecast
9.4 residual σ behind, int8 and fp32 alike). Its level is not the evidence, its shape is. A bundle trained with
`input_centring` reads each such sensor's window minus the mean of its observed context rows (every row but the
newest, which is the forecast target and may not set its own anchor), and the anchor is added back to the forecast.

The transform sits outside the model graph, so the export, its affine fold and the artifacts' parity are as before;
it must be applied identically wherever the model reads a window — the trainer (convert/train.py), the int8
calibration windows, verify, and the agent's scorer (model_scorer.py) — and the manifest says it was trained so:
a bundle without the field is read as before, one with an unknown anchor form or sensor is refused.
"""
from __future__ import annotations

import numpy as np

from ..manifest import INPUT_CENTRING_ANCHORS

CONTEXT_MEAN = INPUT_CENTRING_ANCHORS[0]      # the one form: the mean of the observed context rows


def centring_mask(centred: list[str] | None, sensors: list[str]) -> np.ndarray | None:
    """(N,) bool of the sensors read centred, or None when none is."""
    if not centred:
        return None
    unknown = [s for s in centred if s not in sensors]
    if unknown:
        raise ValueError(f"input_centring.sensors: unknown sensor(s) {', '.join(map(repr, unknown))} "
                         f"(the bundle's: {', '.join(sensors)})")
    return np.array([s in set(centred) for s in sensors])


def window_anchor(values: np.ndarray, missing: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(..., N) the mean of each centred sensor's observed context rows of windows (..., T, N) (values 0 where
    missing; `missing` > 0.5 or True where missing); 0 for the other sensors and for a sensor with no observed
    context row."""
    context = np.asarray(values[..., :-1, :], np.float64)
    seen = np.asarray(missing[..., :-1, :]) < 0.5 if missing.dtype != bool else ~missing[..., :-1, :]
    count = seen.sum(axis=-2)
    total = np.where(seen, context, 0.0).sum(axis=-2)
    anchor = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return np.where(mask, anchor, 0.0)


def centre_windows(values: np.ndarray, missing: np.ndarray, mask: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """(centred float32 copy of windows (..., T, N), anchor (..., N)) — every row of a centred sensor, the newest
    (the target) too, less its anchor; missing cells stay 0. With no mask, (values, None) unchanged."""
    if mask is None:
        return values, None
    anchor = window_anchor(values, missing, mask)
    gone = np.asarray(missing) > 0.5 if np.asarray(missing).dtype != bool else np.asarray(missing)
    centred = np.where(gone, 0.0, values - anchor[..., None, :]).astype(np.float32)
    return centred, anchor


__all__ = ["CONTEXT_MEAN", "centre_windows", "centring_mask", "window_anchor"]
