"""Streams the numpy fallback's tests score (shared helpers: a test module must not import another)."""
from __future__ import annotations

import numpy as np


def ar1_stream(rows: int, n: int, missing_p: float, seed: int, phi: float = 0.6, tick: float = 60.0) -> tuple:
    """(z float32, 0 where missing; missing; tick times `tick` s apart) of an AR(1) stream with coefficient
    `phi`, as a scorer sees it."""
    rng = np.random.default_rng(seed)
    x = np.zeros((rows, n))
    for t in range(1, rows):
        x[t] = phi * x[t - 1] + rng.normal(0, 1, n)
    missing = rng.random(x.shape) < missing_p
    return np.where(missing, 0.0, x).astype(np.float32), missing, np.arange(rows) * tick
