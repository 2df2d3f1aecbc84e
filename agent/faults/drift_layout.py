"""drift's pairs laid out for one product a tick: which pair predicts which sensor, and the median's block.

Each sensor's residuals against its context's pair models go into one (n, width) block (row i: its pairs, then
NaN padding) by one np.dot of a matrix (_slot_w) with the tick's features; the median of a row is then two
gathers at positions fixed by the row's size (_full_median), or, on a busy tick with some pair unusable, at
positions kept while the usable pairs do not change (_busy_median). This is the index bookkeeping of drift.py's
__init__ (~100 lines of it), apart so the rule's own state and its tick read without it."""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .pairs import _HALVES, F, LEARN_CLIP, _ones
from .drift_judge import DOMINANT, _ZERO_I, _row_words

# The largest residual matrix kept (entries; 256 KB of them): past it the pairs' own products (_residuals_block).
DENSE_MAX = 32768


class DriftLayout:
    """A mixin of Drift: the pairs' layout and the busy tick's median."""

    def _init_layout(self, ctx, n: int) -> None:
        """Drift's pairs over every context of `ctx` (n sensors), the median's block and its index maps, each
        sensor's context as slots (_ctx_*: the calm-context and dominance tests read them), the tick's features
        array (_xl_one, the lags a view of it) and the pair models' arrays (PairModels') at their shapes: part of
        Drift.__init__, in its order."""
        # Pairs (target i, predictor j) over every context; slot[i, k] is the k-th pair of i (P: none).
        target, source = [], []
        for i, c in enumerate(ctx.context):
            target += [i] * c.size
            source += c.tolist()
        self.target, self.source = np.array(target, int), np.array(source, int)
        p = self.target.size
        width = max([c.size for c in ctx.context] + [1])
        self.slot = np.full((n, width), p)
        at = 0                          # (i's pairs are the consecutive ones from `at`: target is built in order)
        for i, c in enumerate(ctx.context):
            self.slot[i, :c.size] = np.arange(at, at + c.size)
            at += c.size
        # g of every pair in one take from [x, x², lag1, lag2]: columns x_j, x_j², lag1_j, lag2_j, x_i.
        self.g_index = np.stack([self.source, n + self.source, 2 * n + self.source, 3 * n + self.source,
                                 self.target], axis=1)
        self.rows = np.arange(n)
        # The median's two middle positions in a sorted row of k finite entries, for every k.
        k = np.arange(width + 1)
        mid = (np.maximum((k - 1) // 2, 0), np.minimum(k // 2, width - 1))
        # …as flat indices into a gathered (n, width) block, per row and count: row r with k entries
        # has its two middle entries at _mid_at[:, r·(width + 1) + k] (_row_median: one gather each).
        self._mid_at = np.stack([(self.rows[:, None] * width + m[None, :]).reshape(-1) for m in mid])
        self._row_k = self.rows * (width + 1)
        # Every pair usable (the usual tick): a row's entry count is its context's size, so its two
        # middle positions in the gathered (n, width) block are constants, as flat indices (2, n).
        size = np.array([c.size for c in ctx.context], int)
        self._mid_flat = np.stack([self.rows * width + mid[0][size], self.rows * width + mid[1][size]])
        self._has_full = size > 0
        self._has_full.flags.writeable = False
        context_on = np.zeros((n, width), bool)         # row i's slots: its context sensors, then padding
        context_idx = np.zeros((n, width), int)
        for i, c in enumerate(ctx.context):
            context_on[i, :c.size], context_idx[i, :c.size] = True, c
        # The same with each row's padding slots repeating its first context sensor (a row without a
        # context: sensor 0): an and / max over a row's slots is then the one over its context alone,
        # for a row with a context, with no mask to apply (a repeated entry changes neither).
        # All three kept transposed, (width, n): a tick's reductions over a row's slots run along axis 0,
        # one pass over contiguous rows instead of n short ones (and / or / max: the same results).
        self._ctx_rep_t = np.ascontiguousarray(np.where(context_on, context_idx, context_idx[:, :1]).T)
        self._ctx_on_t = np.ascontiguousarray(context_on.T)
        self._ctx_idx_t = np.ascontiguousarray(context_idx.T)
        self._ctx_any = np.logical_or.reduce(context_on, axis=1)        # has a context
        self._every_ctx = bool(fnp.count_nonzero(self._ctx_any) == n)
        self._ctx_words = _row_words(np.where(context_on, context_idx, context_idx[:, :1]))
        self._c_dominant = fnp.const(DOMINANT)
        # x, x² and the lags as rows of one array (lags: a view): a tick's pair features are one gather of it.
        # A constant 1 after them (_xl_one): the pairs' residuals are one product of it with a matrix (_slot_w).
        self._xl_one = np.full(F * n + 1, np.nan)
        self._xl_one[-1] = 1.0
        self._xl_flat = self._xl_one[:-1]
        self._xl = self._xl_flat.reshape(F, n)
        self.lags = self._xl[2:]
        self._xl_x, self._xl_x2 = self._xl[0], self._xl[1]    # (x's and x²'s rows, written a tick: kept views; perf65)
        self._all_started = False                  # no lag NaN any more (until a restore)
        self._all_n = np.ones(n, bool)             # every sensor (read-only)
        self._all_n.flags.writeable = False
        # Pair moments of g = (x_j, x_j², lag1_j, lag2_j, x_i): running mean and covariance, brought
        # up to date every refit_runs from the runs kept meanwhile (_fold: the same sums, fewer calls).
        self.pair_count = np.zeros(p)
        self.mu = np.zeros((p, F + 1))
        self.cov = np.zeros((p, F + 1, F + 1))
        self.beta = np.zeros((p, F))
        self.icept = np.zeros(p)
        self.spread = np.ones(p)
        self.clip_width = LEARN_CLIP * self.spread
        # A pair's residual over its spread, (x_i − β·g − intercept) / spread, is linear in g and 1: its
        # coefficients folded at each refit (_fold_coefs), (P, F + 2) — β and −1 for x_i times −1 / spread,
        # then the intercept times it — and laid out as one (n · width, F·n + 1) matrix whose row
        # i · width + k is the k-th pair of sensor i, over [x, x², lag1, lag2, 1] (_xl_one): the usual tick's
        # residuals, already in the median's (n, width) block, are one np.dot (1.0 µs against 2.4 for a dot
        # per pair, the intercept, the spread and the gather into the block; perf32). Padding rows have NaN
        # for the constant: NaN in the block, sorted last as the gather's NaN slot was.
        self._pair_coef = np.zeros((p, F + 2))
        self._coef_g, self._coef_1 = self._pair_coef[:, :F + 1], self._pair_coef[:, F + 1]     # (its views, made once)
        pair_row = np.empty(p, int)                 # each pair's row in the block
        on = self.slot < p
        pair_row[self.slot[on]] = np.flatnonzero(on.reshape(-1))
        cols = fnp.concatenate((self.g_index, np.full((p, 1), F * n)), axis=1)
        # The matrix has (n · width) · (F·n + 1) entries, F + 2 of each row's not zero: quadratic in n. Past
        # DENSE_MAX entries (n over ~40 on a corridor) it is not kept: the residuals are the pairs' own products, one take of
        # the features, one multiply and one sum a row, put into the block at the pairs' rows (_pair_cols):
        # at n = 256 the matrix was 10 MB, one product a tick 4 ms and every cache flushed (lead, 7 Dec).
        if n * width * (F * n + 1) <= DENSE_MAX:
            self._slot_w = np.zeros((n * width, F * n + 1))
            self._slot_w[~on.reshape(-1), F * n] = np.nan
            self._slot_w_at = pair_row[:, None] * (F * n + 1) + cols   # (P, F + 2): flat positions of _pair_coef
            self._pair_cols = None
        else:
            self._slot_w = None
            self._pair_cols = cols                  # (P, F + 2): each pair's features in _xl_one, and its 1
            self._pair_terms = np.empty((p, F + 2))
            self._pair_sum = np.empty(p)
        # A busy tick (some pair not usable, every feature a number): the residuals from the same product, the
        # unusable pairs' entries set to NaN in the block by their flat positions (_pair_row), the median over the
        # rest (_busy_median). Its entry counts and middle positions depend on `usable` alone: kept while it does
        # not change (_busy_key: its bytes; None: not known, e.g. after a pair-by-pair tick wrote _has_n).
        self._pair_row = pair_row
        self._ones_w = _ones(width)
        self._busy_key = None
        self._busy_bad = self._busy_mid = None
        self._n_pad = int(fnp.count_nonzero(~on))
        self._block = np.zeros((n, width))
        self._block_flat = self._block.reshape(-1)
        self._block_flat[~on.reshape(-1)] = np.nan     # (padding: NaN, sorted last; the matrix writes it too)
        self._fold_coefs()
        self.fitted = np.zeros(p, bool)
        self._all_pairs = np.ones(p, bool)         # every pair (read-only)
        self._all_pairs.flags.writeable = False
        self._all_fitted = False                   # every pair fitted (set at each refit)
        self._fold_floor = False                   # every pair's and relation's learning rate at alpha_min
        self._e = np.full(p + 1, np.nan)
        self._e_pairs = self._e[:-1]               # (a view: the pairs' residuals; the last slot stays NaN)

    def _residuals_block(self) -> bool:
        """Every pair's residual over its spread into the median's block (row i: i's pairs, then NaN padding), from
        the tick's features (_xl_one); whether every residual is a number (no NaN but the padding's). Padding stays
        NaN without being written: a sort puts NaN last, and a row has at least its padding's count of them."""
        if self._slot_w is not None:
            np.dot(self._slot_w, self._xl_one, self._block_flat)
        else:
            np.multiply(self._pair_coef, self._xl_one.take(self._pair_cols), self._pair_terms)
            np.add.reduce(self._pair_terms, axis=1, out=self._pair_sum)
            self._block_flat[self._pair_row] = self._pair_sum
        return fnp.count_nonzero(np.isnan(self._block_flat)) == self._n_pad

    def _busy_median(self, usable: np.ndarray) -> np.ndarray:
        """Per sensor, the median of its usable pairs' residuals (NaN: none), into _med_n, and whether it has
        any, into _has_n: _row_median's on the block the product wrote (every entry a number but the padding),
        the unusable pairs' entries NaN. A row's entry count is then its usable pairs', so its two middle
        positions depend on `usable` alone, and are kept while `usable` does not change (a busy tick's suspects
        often last: ~half the demo's busy ticks have the last one's). The residuals' sum order is the product's,
        not the pair-by-pair einsum's: the bits may differ from that path's (perf53)."""
        block = self._block
        key = usable.tobytes()
        if key != self._busy_key:
            self._busy_bad = self._pair_row[~usable]
            self._block_flat[self._busy_bad] = np.nan
            k = fnp.dot(block == block, self._ones_w)       # entries not NaN: the usable pairs'
            self._busy_mid = self._mid_at.take(k + self._row_k, axis=1)
            np.greater(k, _ZERO_I, out=self._has_n)
            self._busy_key = key
        else:
            self._block_flat[self._busy_bad] = np.nan
        block.sort(axis=1)                                  # NaN sort last
        return np.dot(_HALVES, block.take(self._busy_mid), self._med_n)
