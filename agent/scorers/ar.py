"""AR(p) per sensor: X_t = φ0 + Σ φ_i X_{t-i} + ε, least squares at warm-up, RLS online."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .rls import BatchRLS


class ARModel:
    def __init__(self, n: int, order: int, forgetting: float):
        self.p = order
        self.rls = BatchRLS(n, order + 1, forgetting)

    def features(self, window) -> np.ndarray:
        """(n, p+1): [1, x_{t-1}, ..., x_{t-p}] from the window (missing lags are 0 = the mean)."""
        lags = window.values[-1 - self.p:-1][::-1]          # (p, n), newest lag first
        return np.concatenate([np.ones((1, lags.shape[1]), np.float64), lags], axis=0).T

    def batch_features(self, z: np.ndarray) -> np.ndarray:
        """(m, n, p+1) for rows p..end of z (n_rows, n)."""
        lagged = sliding_window_view(z, self.p, axis=0)[:-1]    # (m, n, p) oldest..newest
        lagged = lagged[:, :, ::-1]
        ones = np.ones(lagged.shape[:2] + (1,))
        return np.concatenate([ones, lagged], axis=2)

    def fit(self, z: np.ndarray, missing: np.ndarray) -> None:
        X = self.batch_features(z)
        self.rls.fit(X, z[self.p:], ~missing[self.p:])

    def score(self, window) -> np.ndarray:
        return self.rls.zscores(self.features(window), window.values[-1])

    def batch_scores(self, z: np.ndarray) -> np.ndarray:
        X = self.batch_features(z)
        pred = np.einsum("mnk,nk->mn", X, self.rls.w)
        return np.abs(z[self.p:] - pred) / np.sqrt(self.rls.resid_var)

    def learn(self, window) -> None:
        self.rls.update(self.features(window), window.values[-1].astype(np.float64), ~window.missing[-1])
