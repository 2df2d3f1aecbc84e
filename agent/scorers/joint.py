"""The AR model's and fusion's regressions held as one: their weights, residual scales and tick
buffer are rows of shared arrays, so a tick predicts, scales and learns both with one call each.

Why one layout: at a few dozen sensors a numpy call is nearly all fixed cost (~1 µs inside a tick),
and the two parts are the same computation, a per-sensor linear regression learned by BatchRLS,
on different features. Stacked as 2N sensors of k = max(k_ar, k_fusion) features (fusion's padded
with zero features that no RLS sees, whose weights stay 0: + 0 · 0 changes no sum), a tick's
prediction is one multiply and one reduce, its residuals over scale one subtract and one
multiply, and learning it one write of the value and one of the validity for both. Each part keeps its own BatchRLS (fit, solve, checkpoint: the
same state and format as before), whose arrays are views of these (BatchRLS.share), so both
solve on the same tick and their checkpoints are what they were.

The arrays are feature-major, (k, 2N): a tick's products are k rows of 2N, added row after row
by a reduce over the first axis, an order that does not depend on where a sensor sits (an einsum
of a row, or a reduce along it, may take another path at another offset: other last bits).
BatchRLS.predict and ARModel.residuals add theirs in that order, so the AR model's kept window
residuals are the same bits whether a row was computed here on its tick or recomputed from the
window (tests/test_tick_cost.py, tests/test_fallback_joint.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import fastnp as fnp

if TYPE_CHECKING:
    from .ar import ARModel
    from .fusion import FusionModel


class JointRegression:
    def __init__(self, ar: ARModel, fusion: FusionModel, rows: int = 2):
        """`rows` ≥ 2: the prediction and scale arrays are (rows, n), the AR model's row, fusion's, and
        rows - 2 more left to the caller (the numpy fallback's Markov surprise: the three parts' residuals
        over scale in one subtract and one multiply, NumpyScorer._next_score); `pred3`, `scale3`."""
        a, f = ar.rls, fusion.rls
        if a.n != f.n or a.block != f.block:
            raise ValueError("the AR and fusion regressions differ in sensors or block")
        n, k, block = a.n, max(a.k, f.k), a.block
        self.n = n
        # Feature-major: a tick's (k, 2n) products are added row after row by one reduce; columns
        # 0..n-1 are the AR model's sensors, n..2n-1 fusion's. Each RLS sees its block transposed.
        self.w = np.zeros((k, 2 * n))
        self.scale3 = np.ones((rows, n))
        self.inv_sd = self.scale3[:2].reshape(2 * n)        # (a view: rows 0 and 1 are contiguous)
        X = np.zeros((block, k, 2 * n))
        y, v = np.zeros((block, 2 * n)), np.zeros((block, 2 * n), bool)
        a.share(self.w[:a.k, :n].T, self.inv_sd[:n], X[:, :a.k, :n].transpose(0, 2, 1), y[:, :n], v[:, :n])
        f.share(self.w[:f.k, n:].T, self.inv_sd[n:], X[:, :f.k, n:].transpose(0, 2, 1), y[:, n:], v[:, n:])
        self._X = X
        self._y, self._v = y.reshape(block, 2, n), v.reshape(block, 2, n)   # a tick's (2, n): AR, fusion
        self._yv = [(self._y[m], self._v[m]) for m in range(block)]      # each slot's, made once (learn)
        self._inv_sd = self.inv_sd.reshape(2, n)
        self._a, self._f = a, f
        self._every = fusion._every                 # every sensor has a neighbour: fusion learns the seen
        self._has_neighbours = fusion.has_neighbours
        self._products = np.empty((k, 2 * n))
        self.pred3 = np.empty((rows, n))
        self._pred = self.pred3[:2].reshape(2 * n)
        self._pred2 = self.pred3[:2]
        self._z = np.empty((2, n))

    def zscores(self, newest: np.ndarray) -> np.ndarray:
        """(2, n) signed residuals over scale of this tick, row 0 the AR model's, row 1 fusion's, from
        the features both parts built in their RLS's next slot (ARModel.features, FusionModel.features).
        Read-only but for the caller's tick: the next call overwrites it."""
        products = np.multiply(self.w, self._X[self._a._m], out=self._products)
        np.add.reduce(products, axis=0, out=self._pred)
        z = np.subtract(newest, self._pred2, out=self._z)
        z *= self._inv_sd
        return z

    def learn(self, newest: np.ndarray, seen: np.ndarray) -> None:
        """Learn the tick whose features are in the next slot (as zscores() read them): both parts'
        value and validity in one write each, then each RLS counts it (and solves a full block)."""
        a, f = self._a, self._f
        m = a._m
        if f._m != m:
            raise RuntimeError("the AR and fusion regressions are out of step")
        y, v = self._yv[m]
        fnp.copyto(y, newest)           # (a copy: setitem's broadcast cost ~0.3 µs more)
        if self._every:
            fnp.copyto(v, seen)
        else:
            fnp.copyto(v[0], seen)
            np.logical_and(seen, self._has_neighbours, out=v[1])
        a.commit()
        f.commit()
