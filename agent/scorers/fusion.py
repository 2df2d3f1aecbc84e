"""Additive spatio-temporal fusion per sensor: X_t = φ0 + φ1 X_{t-1} + φ2 S_t + φ3 X_{t-1} S_t.

S_t is the mean of the sensor's observed neighbours at time t, so a sensor that breaks away
from its neighbours leaves a large residual even when its own history looks ordinary.
"""
from __future__ import annotations

import numpy as np

from .rls import BatchRLS


class FusionModel:
    def __init__(self, adjacency: np.ndarray, forgetting: float):
        self.adj = adjacency
        self.has_neighbours = adjacency.sum(axis=1) > 0
        self.rls = BatchRLS(adjacency.shape[0], 4, forgetting)

    def neighbour_mean(self, x: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """x, missing (..., n) -> (..., n) mean over observed neighbours (0 when none observed)."""
        w = self.adj * (~missing)[..., None, :]              # (..., n, n)
        total = w.sum(axis=-1)
        s = np.einsum("...ij,...j->...i", w, x)
        return np.divide(s, total, out=np.zeros_like(s, dtype=np.float64), where=total > 0)

    @staticmethod
    def _features(prev: np.ndarray, s: np.ndarray) -> np.ndarray:
        return np.stack([np.ones_like(prev), prev, s, prev * s], axis=-1)

    def features(self, window) -> np.ndarray:
        prev = window.values[-2].astype(np.float64)
        s = self.neighbour_mean(window.values[-1].astype(np.float64), window.missing[-1])
        return self._features(prev, s)

    def fit(self, z: np.ndarray, missing: np.ndarray) -> None:
        s = self.neighbour_mean(z[1:].astype(np.float64), missing[1:])
        X = self._features(z[:-1].astype(np.float64), s)
        self.rls.fit(X, z[1:], ~missing[1:] & self.has_neighbours)

    def score(self, window) -> np.ndarray:
        return np.where(self.has_neighbours, self.rls.zscores(self.features(window), window.values[-1]), 0.0)

    def batch_scores(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray:
        s = self.neighbour_mean(z[1:].astype(np.float64), missing[1:])
        X = self._features(z[:-1].astype(np.float64), s)
        pred = np.einsum("mnk,nk->mn", X, self.rls.w)
        return np.where(self.has_neighbours, np.abs(z[1:] - pred) / np.sqrt(self.rls.resid_var), 0.0)

    def learn(self, window) -> None:
        valid = ~window.missing[-1] & self.has_neighbours
        self.rls.update(self.features(window), window.values[-1].astype(np.float64), valid)
