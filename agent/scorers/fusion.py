"""Additive spatio-temporal fusion per sensor: X_t = φ0 + φ1 X_{t-1} + φ2 S_t + φ3 X_{t-1} S_t.

S_t is the mean of the sensor's observed neighbours at time t, so a sensor that breaks away
from its neighbours leaves a large residual even when its own history looks ordinary.
Neighbours are kept as padded index lists, so the cost is N × degree, not N².
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import fastnp as fnp
from .rls import BatchRLS

#: 0.0 as a 0-d array (fastnp.const): what the seen neighbours' weight is compared with
ZERO = fnp.const(0.0)

if TYPE_CHECKING:
    from ..window import WindowBuffer


class FusionModel:
    def __init__(self, adjacency: np.ndarray, forgetting: float):
        n = adjacency.shape[0]
        degree = max(int((adjacency > 0).sum(axis=1).max()) if n else 0, 1)
        self.nbr = np.tile(np.arange(n)[:, None], (1, degree))
        self.nbr_w = np.zeros((n, degree))
        for i in range(n):
            js = np.flatnonzero(adjacency[i])
            self.nbr[i, :len(js)] = js
            self.nbr_w[i, :len(js)] = adjacency[i, js]
        self.has_neighbours = self.nbr_w.sum(axis=1) > 0
        self._total = self.nbr_w.sum(axis=-1)          # every neighbour observed: the common tick
        self._some = self._total > 0
        self._every = bool(self._some.all())          # every sensor has a neighbour: no 0/0 to avoid
        # Every neighbour observed (the common tick): the mean as one product with each sensor's
        # neighbour weights over their total (a sensor with none: a row of zeros, mean 0)
        self._mean_w = np.zeros((n, n))
        for i in range(n):
            if self._some[i]:
                np.add.at(self._mean_w[i], self.nbr[i], self.nbr_w[i] / self._total[i])
        # The lists neighbour-major, (degree, n), for neighbour_mean: a sensor's j-th neighbours of every
        # sensor are one row, so the sum over neighbours adds rows of n (a reduce along a last axis of a
        # few neighbours costs ~2.5× at N = 256); and its one-tick buffers
        self._nbr_t, self._nbr_w_t = np.ascontiguousarray(self.nbr.T), np.ascontiguousarray(self.nbr_w.T)
        self._both, self._sums, self._some_seen = np.empty((2, n)), np.empty((2, n)), np.empty(n, bool)
        self._gathered = np.empty((2, degree, n))
        self.rls = BatchRLS(n, 4, forgetting, const=0)

    def neighbour_mean(self, x: np.ndarray, missing: np.ndarray, seen: np.ndarray | None = None,
                       out: np.ndarray | None = None) -> np.ndarray:
        """x, missing (..., n) -> (..., n): mean of observed neighbours (0 when none observed), into
        `out` when given. `seen`: ~missing, when the caller has it (one call fewer). [x · seen; seen]
        gathered by the neighbour lists in one take (a third of the fancy index's cost), neighbour-major
        ((2, ..., degree, n)), weighted in one multiply and summed over the neighbours by one add.reduce:
        the seen neighbours' weighted values and their weights, each added in the lists' order, the
        first neighbour's, then the second's, ... (perf30; the last-axis reduce before it added the
        first to the sum of the others)."""
        seen = ~missing if seen is None else seen
        if x.ndim == 1:                 # one tick: kept buffers
            both, gathered, sums, some = self._both, self._gathered, self._sums, self._some_seen
        else:
            both, some = np.empty((2,) + x.shape), np.empty(x.shape, bool)
            gathered = sums = None
        fnp.copyto(both[1], seen)       # (0.0 / 1.0, then x times it: the same values as x · seen without
        np.multiply(x, both[1], out=both[0])    # the multiply's buffered cast of a bool operand)
        gathered = both.take(self._nbr_t, axis=-1, out=gathered)     # (2, ..., degree, n)
        gathered *= self._nbr_w_t
        sums = np.add.reduce(gathered, axis=-2, out=sums)
        np.greater(sums[1], ZERO, out=some)
        if fnp.count_nonzero(some) == some.size:        # a seen neighbour each (most ticks): no mask to
            return np.divide(sums[0], sums[1], out=out)  # apply (where= costs ~0.8 µs; the same quotients)
        if out is None:
            out = np.zeros(x.shape)
        else:
            out[...] = 0.0
        return np.divide(sums[0], sums[1], out=out, where=some)

    def features(self, window: WindowBuffer) -> np.ndarray:
        newest, missing = window.newest64, window.missing[-1]
        x = self.rls.next_x()          # built in the RLS's next buffer slot: learning them copies nothing
        x[:, 1] = window.values[-2]
        if fnp.count_nonzero(missing):
            self.neighbour_mean(newest, missing, window.newest_seen, out=x[:, 2])
        else:               # neighbour_mean's value in one call (its sum in another order: last bits),
            np.matmul(self._mean_w, newest, out=x[:, 2])        # written where it goes
        np.multiply(x[:, 1], x[:, 2], out=x[:, 3])     # (prev as float64: exactly the float32 row's values)
        return x

    def batch_features(self, z: np.ndarray, missing: np.ndarray, chunk: int = 256) -> np.ndarray:
        prev = z[:-1].astype(np.float64)
        # In blocks of rows: all at once, neighbour_mean's (rows, n, degree) temporaries were most
        # of the warm-up's peak memory (~3 MB on the demo's day of ticks).
        s = fnp.concatenate([self.neighbour_mean(z[1 + i:1 + i + chunk], missing[1 + i:1 + i + chunk])
                            for i in range(0, len(prev), chunk)] or [np.zeros((0, z.shape[1]))])
        return np.stack([np.ones_like(prev), prev, s, prev * s], axis=-1)

    def fit(self, z: np.ndarray, missing: np.ndarray, chunk: int = 256) -> None:
        """Least squares on rows 1.. of z, their features built `chunk` rows at a time."""
        def blocks():
            for i in range(0, len(z) - 1, chunk):
                zs, ms = z[i:i + chunk + 1], missing[i:i + chunk + 1]
                yield self.batch_features(zs, ms), zs[1:], ~ms[1:] & self.has_neighbours
        self.rls.fit_blocks(blocks)

    def score(self, window: WindowBuffer, x: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Into `out` when given."""
        x = self.features(window) if x is None else x
        z = self.rls.zscores(x, window.newest64, out=out)
        if not self._every:                # every sensor has one: × True changes nothing
            z *= self.has_neighbours
        return z

    def batch_scores(self, z: np.ndarray, missing: np.ndarray, chunk: int = 256) -> np.ndarray:
        err = np.empty((max(len(z) - 1, 0), z.shape[1]))
        for i in range(0, len(err), chunk):          # in blocks of rows: no (rows, n, 4) features at once
            zs, ms = z[i:i + chunk + 1], missing[i:i + chunk + 1]
            err[i:i + chunk] = np.abs(zs[1:] - fnp.einsum("mnk,nk->mn", self.batch_features(zs, ms), self.rls.w))
        err *= self.rls.inv_sd
        err *= self.has_neighbours
        return err

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        return {"rls": self.rls.state_dict()}

    def restore(self, state: dict) -> None:
        self.rls.restore(state["rls"], "fusion.rls")
