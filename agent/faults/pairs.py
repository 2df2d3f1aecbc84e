"""drift's pair models: fitted every REFIT_TICKS ticks' seconds from the moments, and the row medians of their residuals.

A mixin of Drift (drift.py), as StationRelation is: the ridge fit of x_i on g = (x_j, x_j², lag1_j,
lag2_j) per pair (target i, predictor j), from exponentially forgotten moments brought up to date at
each refit from the ticks kept since (_fold: the same sums as a tick-by-tick update, in a few calls).
The refit also folds each pair's residual over its spread, (x_i − β·g − intercept) / spread, into
coefficients of [g, 1] laid out as one matrix (_fold_coefs): the usual tick's residuals of every pair,
already in the (n, width) block the row medians sort, are one product of it with the feature rows
(perf32, issue 16: the einsum, the intercept, the spread and the gather were four calls a tick).
Here rather than in drift.py so that each stays a sitting's read.
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp

F = 4                    # pair features: x_j, x_j², and x_j's two lags
RIDGE = 0.01             # ridge penalty, a share of each feature's variance (lags are collinear)
MIN_PAIR_TICKS = 60      # a pair model predicts once it has learned this many ticks' seconds (drift's min_pair_runs)
LEARN_CLIP = 3.0         # a reading is learned at most this many pair spreads off its prediction
_RIDGE_EYE = RIDGE * np.eye(F)     # (made once: the refit adds it to every pair's feature correlations)
_RIDGE_EYE.flags.writeable = False


class PairModels:
    def _fold(self) -> None:
        """Bring the pair moments (and the relations' level and spread) up to date with the ticks
        kept since the last fold: the exponentially forgotten mean and covariance a tick-by-tick
        update would give (rate max(1 / (count + 1), alpha_min) per learned tick), in a few calls."""
        k, self._filled = self._filled, 0
        if k == 0:
            return
        pl = self._pl[:k]
        p = pl.shape[1]
        w, keep = self._weights(self._on[:k], self._counts)        # the pairs' and the relations' weights
        g = self._kept_g(k)
        self._g_from = 0                # (the next runs' g: gathered from their feature rows)
        # Learned winsorised: an incident's reading far off the prediction does not widen the spread
        # (the models and clip widths are those these ticks were judged with: fitted at the last refit).
        pred = fnp.einsum("pk,tpk->tp", self.beta, g[:, :, :F]) + self.icept
        w_rel, keep_rel, w, keep = w[:, p:], keep[p:], w[:, :p], keep[:p]
        # (fastnp.clip: np.clip's own ufunc; every pair fitted, every kept tick with every pair: the wheres
        # would pick every entry)
        clipped = fnp.clip(g[:, :, F], pred - self.clip_width, pred + self.clip_width)
        g[:, :, F] = clipped if self._all_fitted else fnp.where(self.fitted, clipped, g[:, :, F])
        every = all(self._pl_all[:k])
        if not every:
            g = fnp.where(pl[:, :, None], g, 0.0)
        mu = keep[:, None] * self.mu + fnp.einsum("tp,tpf->pf", w, g)
        d = g - mu if every else fnp.where(pl[:, :, None], g - mu, 0.0)
        dm = self.mu - mu
        wd = (w[:, :, None] * d).transpose(1, 2, 0)                           # (P, F + 1, k)
        self.cov = keep[:, None, None] * (self.cov + dm[:, :, None] * dm[:, None, :]) + wd @ d.transpose(1, 0, 2)
        self.mu = mu
        self.pair_count += pl.sum(axis=0)
        if self.trio.size:
            self._fold_relation(k, w_rel, keep_rel)

    def _weights(self, on: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each kept tick's weight in the moments after them, and the old moments' weight."""
        if self._fold_floor:
            a = fnp.where(on, self.alpha_min, 0.0)
        else:
            before = count + np.cumsum(on, axis=0) - on
            a = fnp.where(on, np.maximum(1.0 / (before + 1.0), self.alpha_min), 0.0)
            # Every count's rate at the floor: so is every later tick's (counts only grow, until a restore).
            self._fold_floor = not fnp.count_nonzero(np.maximum(1.0 / (count + 1.0), self.alpha_min) != self.alpha_min)
        after = np.cumprod((1.0 - a)[::-1], axis=0)[::-1]          # ∏ over this tick and later of (1 − a)
        w = a * fnp.concatenate((after[1:], np.ones((1, a.shape[1]))))
        return w, after[0]

    def _refit(self) -> None:
        self._fold()
        c = self.cov
        # Solved on standardised features (flow² is ~1e7 times flow): ridge as a share of variance.
        sd = np.sqrt(np.maximum(np.diagonal(c, axis1=1, axis2=2), 1e-300))          # (P, F + 1)
        r = c / (sd[:, :, None] * sd[:, None, :])
        rff = r[:, :F, :F] + _RIDGE_EYE
        beta_z = np.linalg.solve(rff, r[:, :F, F:])[:, :, 0]
        var_z = 1.0 - 2 * fnp.einsum("pk,pk->p", beta_z, r[:, :F, F]) \
            + fnp.einsum("pk,pkl,pl->p", beta_z, r[:, :F, :F], beta_z)
        beta = beta_z * sd[:, F:] / sd[:, :F]
        self.beta = beta
        self.icept = self.mu[:, F] - fnp.einsum("pk,pk->p", beta, self.mu[:, :F])
        self.spread = sd[:, F] * np.sqrt(np.maximum(var_z, 1e-6))
        self.clip_width = LEARN_CLIP * self.spread
        self._fold_coefs()
        self.fitted = self.pair_count >= self.min_pair_runs
        self._all_fitted = fnp.count_nonzero(self.fitted) == self.fitted.size

    def _fold_coefs(self) -> None:
        """The pairs' residual (x_i − β·g − intercept) / spread as coefficients of [g, 1], and the block's
        matrix from them (observe's product): −β / spread, 1 / spread for x_i, −intercept / spread."""
        coef = self._pair_coef
        np.divide(self.beta, self.spread[:, None], out=coef[:, :F])
        np.negative(coef[:, :F], out=coef[:, :F])
        np.divide(1.0, self.spread, out=coef[:, F])
        np.divide(self.icept, self.spread, out=coef[:, F + 1])
        np.negative(coef[:, F + 1], out=coef[:, F + 1])
        if self._slot_w is not None:
            self._slot_w.reshape(-1)[self._slot_w_at] = coef


def _row_median(e: np.ndarray, row_k: np.ndarray, mid_at: np.ndarray,
                out: np.ndarray | None = None, has_out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the median of the finite entries (NaN: none), into `out`; and whether a row has any,
    into `has_out` when given.
    `mid_at`: (2, rows · (width + 1)), the flat positions in `e` (C order) of row r's two middle
    entries when it has k, at column r · (width + 1) + k; `row_k`: r · (width + 1) for every row.
    `e` is sorted in place (the caller passes a gathered copy)."""
    k = fnp.dot(e == e, _ones(e.shape[1]))                   # entries not NaN (NaN ≠ NaN): an exact int64 sum
    # (a product with ones, not np.add.reduce along the rows: ~0.75 µs less on the demo's (18, 4); perf45)
    e.sort(axis=1)                                           # NaN sort last (e: the caller's copy)
    two = e.take(mid_at.take(k + row_k, axis=1))             # both middle entries of every row
    return np.dot(_HALVES, two, out), np.greater(k, _ZERO_I, out=has_out)


def _full_median(e: np.ndarray, mid_flat: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """_row_median's median (into `out`) when no entry is NaN but the padding past each row's context: every
    row's entry count is known, and so are its two middle positions (`mid_flat`, flat in `e`).
    The same sums as _row_median's. `e` is sorted in place (the caller passes a gathered copy)."""
    e.sort(axis=1)
    return np.dot(_HALVES, e.take(mid_flat), out)


_ONES: dict[int, np.ndarray] = {}
_ZERO_I = fnp.const(0, np.int64)


def _ones(width: int) -> np.ndarray:
    """A read-only int64 vector of `width` ones (one per width)."""
    out = _ONES.get(width)
    if out is None:
        out = _ONES[width] = np.ones(width, np.int64)
        out.flags.writeable = False
    return out


# The median of two middle entries a, b as 0.5·a + 0.5·b, one np.dot of (0.5, 0.5) with both rows (0.5 µs
# against 0.9 for the rows' sum and its half): the same bits as (a + b) × 0.5 — a half is exact — but
# where a + b overflows or a half is subnormal.
_HALVES = np.array([0.5, 0.5])
_HALVES.flags.writeable = False
