"""Additive spatio-temporal fusion per sensor: X_t = φ0 + φ1 X_{t-1} + φ2 S_t + φ3 X_{t-1} S_t.

S_t is the mean of the sensor's observed neighbours at time t, so a sensor that breaks away
from its neighbours leaves a large residual even when its own history looks ordinary.
Neighbours are kept as padded index lists, so the cost is N × degree, not N².

A sensor flat through the warm-up the normalisation was fitted on (its std the floor: `warmup.flat_sensors:
score`) is an input to its neighbours' S_t only within the values the warm-up saw of it (`bound_inputs`): once it
moves, its value is in units of the floor (a pump at rest, then started: ~2e10), and through S_t its healthy
neighbours scored ~1e8 / 2e7 in its alert (review43; faults18). Clipped rather than dropped from the neighbour
lists: inside the warm-up's range nothing changes, so every fit and score of the warm-up is the same bit for bit,
and the sensor's own score (its own AR, Markov chain and fusion residual) still carries its start. Only a floored
sensor is bounded: one with a learnt spread that moves far is an anomaly its neighbours' residuals may show.
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
        self.n = n
        self.bound_inputs(np.zeros((0, n)), np.zeros((0, n), bool), np.zeros(n, bool))

    def bound_inputs(self, z: np.ndarray, missing: np.ndarray, which: np.ndarray) -> None:
        """Bound sensors `which` (bool, n; the normaliser's floored ones) as inputs to their neighbours' means to
        the values rows `z` (the warm-up's, normalised; `missing` where unread) saw of each; one never read there
        to 0 (its normal). The others unbounded."""
        idx = np.flatnonzero(which)
        lo, hi = np.zeros(len(idx)), np.zeros(len(idx))
        for k, j in enumerate(idx):
            seen = z[~missing[:, j], j]
            seen = seen[np.isfinite(seen)]
            if len(seen):
                lo[k], hi[k] = seen.min(), seen.max()
        self._set_bounds(idx, lo, hi)

    def _set_bounds(self, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self._in_idx, self._in_lo, self._in_hi = np.asarray(idx, np.intp), np.asarray(lo, np.float64), \
            np.asarray(hi, np.float64)
        self.bounded = bool(len(self._in_idx))
        self._in_row = np.empty(self.n)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """x (..., n) as its neighbours read it: the bounded sensors clipped (a copy; one tick's into a kept row),
        x itself when none is bounded."""
        if not self.bounded:
            return x
        if x.ndim == 1:
            out = self._in_row
            fnp.copyto(out, x)
        else:
            out = np.array(x, np.float64)
        idx = self._in_idx
        out[..., idx] = np.clip(out[..., idx], self._in_lo, self._in_hi)
        return out

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
        if self.bounded:
            x = self.inputs(x)
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
            np.matmul(self._mean_w, self.inputs(newest) if self.bounded else newest, out=x[:, 2])   # where it goes
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
        return {"rls": self.rls.state_dict(),
                "inputs": {"index": self._in_idx.tolist(), "lo": self._in_lo.tolist(), "hi": self._in_hi.tolist()}}

    def restore(self, state: dict) -> None:
        """A checkpoint from before faults18 has no `inputs`: no sensor bounded, as then."""
        bounds = state.get("inputs") or {"index": [], "lo": [], "hi": []}
        idx = np.asarray(bounds["index"], np.intp).reshape(-1)
        lo, hi = (np.asarray(bounds[k], np.float64).reshape(-1) for k in ("lo", "hi"))
        if len(lo) != len(idx) or len(hi) != len(idx) or ((idx < 0) | (idx >= self.n)).any():
            raise ValueError(f"fusion.inputs: {len(idx)} sensor indices in 0..{self.n - 1} with as many bounds "
                             f"expected, got {bounds!r}")
        self.rls.restore(state["rls"], "fusion.rls")
        self._set_bounds(idx, lo, hi)
