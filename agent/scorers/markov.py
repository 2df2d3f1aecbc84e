"""A Markov chain per sensor over quantile-binned states.

Score = surprise −log P(s_t | previous state). When the sensor was missing for g ticks, the
previous state is a distribution, propagated P_t = P_{t-1}·M from its last observed state.
"""
from __future__ import annotations

import numpy as np


class MarkovModel:
    def __init__(self, n: int, bins: int, smoothing: float, forgetting: float):
        self.n, self.k = n, bins
        self.alpha = smoothing
        self.lam = forgetting
        self.edges = np.zeros((n, bins - 1))
        self.counts = np.zeros((n, bins, bins))
        self.M = np.full((n, bins, bins), 1.0 / bins)
        self.mean = np.zeros(n)     # surprise standardisation, from calibration
        self.std = np.ones(n)
        self._rows = np.arange(n)

    def states(self, x: np.ndarray) -> np.ndarray:
        """Bin index per sensor; x (..., n)."""
        return (x[..., :, None] > self.edges).sum(axis=-1)

    def _refresh(self) -> None:
        c = self.counts + self.alpha
        self.M = c / c.sum(axis=2, keepdims=True)

    def fit(self, z: np.ndarray, missing: np.ndarray) -> None:
        qs = np.linspace(0, 1, self.k + 1)[1:-1]
        for i in range(self.n):
            obs = z[~missing[:, i], i]
            self.edges[i] = np.quantile(obs, qs) if obs.size else 0.0
        s = self.states(z)
        both = ~missing[1:] & ~missing[:-1]
        for i in range(self.n):
            np.add.at(self.counts[i], (s[:-1, i][both[:, i]], s[1:, i][both[:, i]]), 1.0)
        self._refresh()

    def calibrate(self, z: np.ndarray, missing: np.ndarray) -> None:
        raw = self.batch_surprise(z, missing)
        ok = ~missing[1:]
        for i in range(self.n):
            v = raw[ok[:, i], i]
            if v.size > 1:
                self.mean[i], self.std[i] = v.mean(), max(v.std(), 1e-3)

    def batch_surprise(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray:
        s = self.states(z)
        p = self.M[self._rows, s[:-1], s[1:]]          # (m, n) where prev observed
        return np.where(missing[1:] | missing[:-1], 0.0, -np.log(p))

    def previous_distribution(self, window) -> np.ndarray:
        """(n, k) distribution of each sensor's state one tick before the newest."""
        vals, miss = window.values, window.missing
        prev_state = self.states(vals[-2])
        p = np.zeros((self.n, self.k))
        p[self._rows, prev_state] = 1.0
        gone = np.flatnonzero(miss[-2])
        for i in gone:
            seen = np.flatnonzero(~miss[:-1, i])
            if seen.size == 0:
                p[i] = 1.0 / self.k
                continue
            last = seen[-1]
            d = np.zeros(self.k)
            d[self.states(vals[last])[i]] = 1.0
            for _ in range(len(vals) - 2 - last):
                d = d @ self.M[i]
            p[i] = d
        return p

    def score(self, window) -> np.ndarray:
        p = self.previous_distribution(window)
        s = self.states(window.values[-1])
        prob = np.einsum("nk,nk->n", p, self.M[self._rows, :, s])
        surprise = -np.log(prob)
        z = (surprise - self.mean) / self.std
        return np.where(window.missing[-1], 0.0, np.maximum(z, 0.0))

    def learn(self, window) -> None:
        ok = ~window.missing[-1] & ~window.missing[-2]
        if not ok.any():
            return
        s0, s1 = self.states(window.values[-2]), self.states(window.values[-1])
        idx = np.flatnonzero(ok)
        self.counts[idx] *= self.lam
        self.counts[idx, s0[idx], s1[idx]] += 1.0
        c = self.counts[idx] + self.alpha
        self.M[idx] = c / c.sum(axis=2, keepdims=True)
