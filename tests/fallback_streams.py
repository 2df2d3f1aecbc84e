"""A normalised stream as the numpy fallback's scorer sees it, shared by the fallback's bit-for-bit tests
(test_fallback_joint, test_perf79_long_missing): a helper module, since a test module never imports another."""
from __future__ import annotations

import numpy as np


def normalised_stream(rows: int, n: int, missing_p: float, tick: float) -> tuple:
    """A normalised AR(1) stream as a scorer sees it: (z float32 with 0 where missing, missing, ts)."""
    rng = np.random.default_rng(11)
    x = np.zeros((rows, n))
    for t in range(1, rows):
        x[t] = 0.7 * x[t - 1] + rng.normal(0, 1, n)
    missing = rng.random(x.shape) < missing_p
    return np.where(missing, 0.0, x).astype(np.float32), missing, np.arange(rows) * tick
