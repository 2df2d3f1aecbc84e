"""N independent linear regressions (one per sensor), fitted by least squares, tracked by RLS."""
from __future__ import annotations

import numpy as np


class BatchRLS:
    """Recursive least squares with forgetting, vectorised over N sensors with k features each."""

    def __init__(self, n: int, k: int, forgetting: float, ridge: float = 1e-3):
        self.n, self.k = n, k
        self.lam = forgetting
        self.ridge = ridge
        self.w = np.zeros((n, k))
        self.P = np.tile(np.eye(k) * 100.0, (n, 1, 1))
        self.resid_var = np.ones(n)

    def fit(self, X: np.ndarray, y: np.ndarray, valid: np.ndarray) -> None:
        """Batch least squares. X (m, n, k), y (m, n), valid (m, n) bool."""
        for i in range(self.n):
            v = valid[:, i]
            Xi, yi = X[v, i, :], y[v, i]
            A = Xi.T @ Xi + self.ridge * np.eye(self.k)
            self.w[i] = np.linalg.solve(A, Xi.T @ yi)
            self.P[i] = np.linalg.inv(A)
            r = yi - Xi @ self.w[i]
            self.resid_var[i] = max(float(r.var()) if r.size > 1 else 1.0, 1e-4)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x (n, k) -> (n,)"""
        return np.einsum("nk,nk->n", self.w, x)

    def update(self, x: np.ndarray, y: np.ndarray, valid: np.ndarray, var_decay: float = 0.995) -> None:
        """One RLS step for the sensors where `valid`."""
        e = y - self.predict(x)
        Px = np.einsum("nij,nj->ni", self.P, x)
        gain = Px / (self.lam + np.einsum("ni,ni->n", x, Px))[:, None]
        gain[~valid] = 0.0
        self.w += gain * e[:, None]
        self.P -= gain[:, :, None] * Px[:, None, :]
        self.P[valid] /= self.lam
        # Without excitation, forgetting inflates P without bound; pull such sensors back.
        blown = np.einsum("nii->n", self.P) > 1e4
        if blown.any():
            self.P[blown] = np.eye(self.k) * 100.0
        self.resid_var = np.where(valid, var_decay * self.resid_var + (1 - var_decay) * e * e, self.resid_var)
        np.maximum(self.resid_var, 1e-4, out=self.resid_var)

    def zscores(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.abs(y - self.predict(x)) / np.sqrt(self.resid_var)
