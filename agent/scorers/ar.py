"""AR(p) per sensor: X_t = φ0 + Σ φ_i X_{t-i} + ε, least squares at warm-up, then online (RLS)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .rls import BatchRLS


class ARModel:
    def __init__(self, n: int, order: int, forgetting: float):
        self.p = order
        self.rls = BatchRLS(n, order + 1, forgetting)
        self._x = np.ones((n, order + 1))

    def features(self, window) -> np.ndarray:
        """(n, p+1): [x_{t-p} … x_{t-1}, 1] (a missing lag is 0, the sensor's mean). Reused buffer."""
        self._x[:, :self.p] = window.values[-1 - self.p:-1].T
        return self._x

    def batch_features(self, z: np.ndarray) -> np.ndarray:
        """(m, n, p+1) for the rows p.. of z (rows, n)."""
        lagged = sliding_window_view(z, self.p, axis=0)[:-1]          # (m, n, p) oldest..newest
        return np.concatenate([lagged, np.ones(lagged.shape[:2] + (1,))], axis=2)

    def fit(self, z: np.ndarray, missing: np.ndarray) -> None:
        self.rls.fit(self.batch_features(z), z[self.p:], ~missing[self.p:])

    def score(self, window, x: np.ndarray | None = None) -> np.ndarray:
        """`x`: this tick's features when the caller already built them."""
        return self.rls.zscores(self.features(window) if x is None else x, window.values[-1])

    def batch_scores(self, z: np.ndarray) -> np.ndarray:
        pred = np.einsum("mnk,nk->mn", self.batch_features(z), self.rls.w)
        return np.abs(z[self.p:] - pred) * self.rls.inv_sd

    def learn(self, window, x: np.ndarray | None = None) -> None:
        self.rls.update(self.features(window) if x is None else x, window.values[-1], ~window.missing[-1])
