"""N independent linear regressions (one per sensor), exponentially weighted least squares.

This is what recursive least squares with forgetting λ computes, done in blocks: each learned
tick only appends its features to a buffer (O(1) numpy calls), and every `block` ticks the
weighted normal equations  A ← λ^m A + Σ x xᵀ,  b ← λ^m b + Σ x y  are updated and solved for
all sensors at once. Same estimates as per-tick RLS at the block boundaries, at a fraction of
the per-tick cost — which is what a gateway's fallback path needs.
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from ..checkpoint import array_like


class BatchRLS:
    def __init__(self, n: int, k: int, forgetting: float, ridge: float = 1e-3, block: int = 32,
                 const: int | None = None):
        """`const`: a feature column that is always 1 (the intercept): kept 1 in every buffer slot,
        so a caller that builds its features in next_x() need not write it."""
        self.n, self.k = n, k
        self.lam = forgetting
        self.ridge = ridge
        self.w = np.zeros((n, k))
        self.A = np.tile(np.eye(k) * ridge, (n, 1, 1))
        self.b = np.zeros((n, k))
        self.resid_var = np.ones(n)
        self.inv_sd = np.ones(n)
        self.block = block
        self._X = np.zeros((block, n, k))
        self._y = np.zeros((block, n))
        self._v = np.zeros((block, n), bool)
        if const is not None:
            self._X[:, :, const] = 1.0
        self._m = 0
        self.version = 0        # bumped whenever w or inv_sd change (what a caller's cached residuals were made with)

    def fit(self, X: np.ndarray, y: np.ndarray, valid: np.ndarray) -> None:
        """Batch least squares on warm-up data. X (m, n, k), y (m, n), valid (m, n) bool.
        X is the caller's scratch: its invalid rows are zeroed in place."""
        self.fit_blocks(lambda: [(X, y, valid)])

    def fit_blocks(self, blocks) -> None:
        """`fit` over blocks of rows: `blocks()` yields (X, y, valid) blocks and is called twice
        (the normal equations, then the residuals), so the warm-up's features need not exist all
        at once (an AR fit on the demo's day: 2 MB of them). Each X is scratch, as in `fit`, and let go
        before the next is built (two blocks at once were the warm-up's and the run's peak: perf63, perf66)."""
        A, b = np.zeros((self.n, self.k, self.k)), np.zeros((self.n, self.k))
        for X, y, valid in blocks():
            X *= valid[:, :, None]          # invalid rows out of the sums (their residuals are not used)
            A += fnp.einsum("mni,mnj->nij", X, X)
            b += fnp.einsum("mni,mn->ni", X, fnp.where(valid, y, 0.0))
            del X, y, valid                 # (else the loop holds this block while the next is built)
        self.A = A + self.ridge * np.eye(self.k)
        self.b = b
        self._solve_weights(self.A)
        sq, count = np.zeros(self.n), np.zeros(self.n, np.int64)
        for X, y, valid in blocks():
            r = fnp.where(valid, y - fnp.einsum("mnk,nk->mn", X, self.w), 0.0)
            sq += (r * r).sum(axis=0)
            count += valid.sum(axis=0)
            del X, y, valid, r
        self._set_var(np.maximum(sq / np.maximum(count, 1), 1e-4))

    def _set_var(self, var: np.ndarray) -> None:
        self.resid_var = var
        self.inv_sd[...] = 1.0 / np.sqrt(var)       # in place: it may be a view of a JointRegression's
        self.version += 1

    def share(self, w: np.ndarray, inv_sd: np.ndarray, X: np.ndarray, y: np.ndarray, v: np.ndarray) -> None:
        """Keep the weights, the residual scales and the tick buffer in the given arrays (views of a
        JointRegression's, joint.py, any strides) from now on, their current contents copied in:
        shapes (n, k), (n,), (block, n, k), (block, n), (block, n)."""
        for new, old in ((w, self.w), (inv_sd, self.inv_sd), (X, self._X), (y, self._y), (v, self._v)):
            new[...] = old
        self.w, self.inv_sd, self._X, self._y, self._v = w, inv_sd, X, y, v

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x (n, k) -> (n,). The products as k rows of n (C order), added row after row by a reduce over
        the first axis: the order of the sum JointRegression's rows and ARModel.residuals' rows are
        added in, so the same bits (a JointRegression's zero padding adds + 0.0: no change)."""
        return np.add.reduce(np.multiply(self.w.T, x.T, order="C"), axis=0)

    def zscores(self, x: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """|y − prediction| · inv_sd, into `out` when given."""
        r = np.subtract(y, self.predict(x), out=out)
        np.abs(r, out=r)
        r *= self.inv_sd
        return r

    def next_x(self) -> np.ndarray:
        """The buffer slot of the next tick, for the caller to build its features in (its `const`
        column is 1 already); commit() counts it. Valid until the next commit()."""
        return self._X[self._m]

    def commit(self) -> None:
        """Count the tick whose features, value and validity the caller wrote into slot `_m` (next_x(),
        `_y`, `_v`: a JointRegression writes two regressions' at once); solve when the block is full."""
        self._m += 1
        if self._m == self.block:
            self._solve()

    def _solve(self) -> None:
        m = self._m
        X, y, v = self._X[:m], self._y[:m], self._v[:m]
        decay = self.lam ** np.arange(m - 1, -1, -1)[:, None] * v        # newest weighs most
        Xw = X * decay[:, :, None]
        # Σ_m x xᵀ per sensor as a batched matmul (BLAS): ~3 µs against the einsum's ~32 at the
        # demo's (32, 18, 6); the same sums, added in another order (fit's einsum is not per tick)
        self.A = self.lam ** m * self.A + np.matmul(Xw.transpose(1, 2, 0), X.transpose(1, 0, 2))
        self.b = self.lam ** m * self.b + fnp.einsum("mni,mn->ni", Xw, y)
        # Residuals against the weights in use for these ticks, then the new weights.
        r = fnp.where(v, y - fnp.einsum("mnk,nk->mn", X, self.w), 0.0)
        seen = v.sum(axis=0)
        mean_sq = np.divide((r * r).sum(axis=0), seen, out=self.resid_var.copy(), where=seen > 0)
        keep = self.lam ** (seen * 4)           # variance tracks about 4× faster than the weights
        self._set_var(np.maximum(keep * self.resid_var + (1 - keep) * mean_sq, 1e-4))
        self._solve_weights(self.A + self.ridge * np.eye(self.k))
        self.version += 1
        self._m = 0

    def _solve_weights(self, lhs: np.ndarray) -> None:
        """w from lhs (A with the ridge) and b, every sensor in one batched solve. numpy refuses the whole
        batch for one singular matrix, and that refusal stopped the agent: then each sensor is solved
        alone, and one whose lhs is singular keeps the weights it had. (One sensor's scale makes it so:
        flat through the warm-up it gets the normaliser's std floor, moving later its z is 1e6 and more,
        and its x xᵀ goes past float64's precision beside the ridge.)"""
        try:
            self.w[...] = np.linalg.solve(lhs, self.b[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            for i in range(self.n):
                try:
                    self.w[i] = np.linalg.solve(lhs[i], self.b[i])
                except np.linalg.LinAlgError:
                    pass

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        m = self._m
        return {"w": self.w.copy(), "A": self.A, "b": self.b, "resid_var": self.resid_var,
                "X": self._X[:m], "y": self._y[:m], "v": self._v[:m]}

    def restore(self, state: dict, name: str = "rls") -> None:
        """Validates everything before changing anything: a bad state leaves this one as it was."""
        w = array_like(state["w"], self.w, f"{name}.w")
        A = array_like(state["A"], self.A, f"{name}.A")
        b = array_like(state["b"], self.b, f"{name}.b")
        var = array_like(state["resid_var"], self.resid_var, f"{name}.resid_var")
        X, y, v = state["X"], state["y"], state["v"]
        m = len(X) if isinstance(X, np.ndarray) else -1
        if not (0 <= m < self.block):
            raise ValueError(f"{name}.X: {m} buffered ticks, expected fewer than {self.block}")
        X = array_like(X, self._X[:m], f"{name}.X")
        y = array_like(y, self._y[:m], f"{name}.y")
        v = array_like(v, self._v[:m], f"{name}.v")
        if not (np.all(var > 0) and np.isfinite(var).all()):
            raise ValueError(f"{name}.resid_var: not positive and finite")
        self.w[...] = w
        self.A, self.b = A, b
        self._set_var(var)
        self._X[:m], self._y[:m], self._v[:m] = X, y, v
        self._m = m
