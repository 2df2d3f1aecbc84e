"""AR(p) per sensor: X_t = φ0 + Σ φ_i X_{t-i} + Σ ψ_j F_{t,j} + ε, least squares at warm-up, then
online (RLS). F are optional extra regressors per tick and sensor (seasonal.py: what the clock
says about this tick); without them it is the plain AR(p).

Two statistics per sensor, the larger is the score:
- the newest residual over the residual scale: a sudden break;
- the exponentially weighted mean of the residuals over the window, over its own standard
  error: a lasting shift. An AR model follows a level shift after one tick, but because it
  reverts to its mean its residuals keep the shift's sign for as long as the shift lasts.
Both are pure functions of the window and the weights.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import fastnp as fnp
from .forecast_error import BIAS_HALF_LIFE_TICKS
from .rls import BatchRLS

if TYPE_CHECKING:
    from ..window import WindowBuffer

#: 0.0 as a 0-d array (fastnp.const): what a missing sensor's residual row holds
ZERO = fnp.const(0.0)


class ARModel:
    def __init__(self, n: int, order: int, forgetting: float, extra: int = 0):
        """`extra`: regressors per tick and sensor beyond the lags and the intercept."""
        self.p = order
        self.extra = extra
        self.rls = BatchRLS(n, order + 1 + extra, forgetting, const=order)
        self._bias_w: dict[int, np.ndarray] = {}
        # The window's residuals, kept from tick to tick (window_residuals): (window id, its tick
        # times, the weights' version) they were computed for, and the rows.
        self._r_key: tuple | None = None
        self._r = np.zeros((0, n))
        self._ring = np.zeros((0, n))       # _r is _ring[head:head + len]: a doubled ring (as WindowBuffer's)
        self._head = 0
        # each head's two rows of the ring (h and h + len), as one view: a new row written by one copy; each
        # head's window of the ring (what _r is then), and the bias's weights for that length: made with the ring
        self._ring_rows: list[np.ndarray] = []
        self._ring_windows: list[np.ndarray] = []
        self._ring_weights = np.zeros(0)
        self._bias = np.empty(n)
        # which regressors row (an array no one writes to: SeasonalFeatures' rows) each buffer slot's
        # regressor columns were last copied from by a caller that records it (the numpy fallback's next
        # tick); None: written otherwise (features(), a restore) or not known. The same row again: the same
        # bits there already (the unknown profile's shared zeros, tick after tick, until a bin is known)
        self.extra_in: list = [None] * self.rls.block

    def bias_weights(self, m: int) -> np.ndarray:
        """EW weights over m residuals (oldest first), scaled so the weighted sum is N(0,1)."""
        w = self._bias_w.get(m)
        if w is None:
            w = 0.5 ** (np.arange(m - 1, -1, -1) / BIAS_HALF_LIFE_TICKS)
            w = self._bias_w[m] = w / np.sqrt((w * w).sum())
        return w

    def features(self, window: WindowBuffer, extra: np.ndarray | None = None) -> np.ndarray:
        """(n, p+1+extra): [x_{t-p} … x_{t-1}, 1, F_t] (a missing lag is 0, the sensor's mean).
        `extra`: this tick's (n, extra) regressors. Built in the RLS's next buffer slot (learning
        them copies nothing); valid until the next learn."""
        x = self.rls.next_x()
        x[:, :self.p] = window.values[-1 - self.p:-1].T
        if self.extra:
            x[:, self.p + 1:] = extra
            self.extra_in[self.rls._m] = None
        return x

    def batch_features(self, z: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """(m, n, p+1+extra) for the rows p.. of z (rows, n); extra (len(z), n, extra)."""
        lagged = sliding_window_view(z, self.p, axis=0)[:-1]          # (m, n, p) oldest..newest
        parts = [lagged, np.ones(lagged.shape[:2] + (1,))]
        if self.extra:
            parts.append(extra[self.p:])
        return fnp.concatenate(parts, axis=2)

    def fit(self, z: np.ndarray, missing: np.ndarray, extra: np.ndarray | None = None, chunk: int = 256) -> None:
        """Least squares on rows p.. of z, their features built `chunk` rows at a time."""
        p = self.p

        def blocks():
            for i in range(p, len(z), chunk):
                rows = slice(i - p, i + chunk)          # the block's rows and their p lags
                yield (self.batch_features(z[rows], None if extra is None else extra[rows]),
                       z[i:i + chunk], ~missing[i:i + chunk])
        self.rls.fit_blocks(blocks)

    def residuals(self, z: np.ndarray, missing: np.ndarray, extra: np.ndarray | None = None,
                  out: np.ndarray | None = None) -> np.ndarray:
        """Signed residuals over residual scale for rows p.. (0 where missing); extra (len(z), n, extra);
        written into `out` ((len(z) - p, n) float64) when given. The prediction is added feature by
        feature in the features' order ([lags, 1, extras]), in place (a warm-up day's arrays are
        0.4 MB each): the order BatchRLS.predict and a JointRegression add a tick's products in, so
        a kept row is the same bits as the row recomputed."""
        p, w, m = self.p, self.rls.w, len(z) - self.p
        pred = np.multiply(w[:, 0], z[0:m], out=out)
        for i in range(1, p):
            pred += w[:, i] * z[i:i + m]
        pred += w[:, p]                                # the intercept (× 1.0: itself)
        for j in range(self.extra):
            pred += w[:, p + 1 + j] * extra[p:, :, j]
        r = np.subtract(z[p:], pred, out=pred)
        r *= self.rls.inv_sd
        r[missing[p:]] = 0.0
        return r

    def score(self, window: WindowBuffer, extra=None, newest: np.ndarray | None = None,
              out: np.ndarray | None = None, row: np.ndarray | None = None) -> np.ndarray:
        """`extra`: (T, n, extra) regressors of every row of the window, or a function that
        returns them (called only when the kept residuals are rebuilt); `newest`: their newest
        row (extra[-1]), when the caller has it. The point statistic is
        the window residuals' newest row (kept from tick to tick, one row computed a tick), not a
        second forecast of the newest value: the same number up to the order of the sum's terms,
        0 where the newest value is missing (a score the caller zeroes there anyway). Into `out` when given.
        `row`: the newest row's signed residual over scale, when the caller computed it from this tick's
        features (a JointRegression does, for AR and fusion at once); `out` must then hold |row|
        already (the caller takes its parts' absolute values in one call; a sensor whose newest value
        is missing has its row zeroed in the kept residuals only: the caller zeroes its score)."""
        r = self.window_residuals(window, extra, newest, row)
        if row is None:
            bias = np.dot(self.bias_weights(len(r)), r, out=out)
            return np.maximum(np.abs(r[-1]), np.abs(bias, out=bias), out=bias)
        bias = np.dot(self.bias_weights(len(r)), r, out=self._bias)
        return np.maximum(out, np.abs(bias, out=bias), out=out)

    def window_residuals(self, window: WindowBuffer, extra=None, newest: np.ndarray | None = None,
                         row: np.ndarray | None = None) -> np.ndarray:
        """residuals() of the window's rows p.., kept between ticks: when the window has moved on by
        one tick since the last call (same window, same weights), only its newest row is computed.
        Each row is an elementwise function of its own p lags and regressors, so a kept row is the
        same bits as the row recomputed. `row`: that newest row, computed by the caller from this tick's
        features (zeroed here where the newest value is missing). Read-only: the next call overwrites it."""
        ts = window.ts
        stamp = ts.tobytes()
        key = (id(window), self.rls.version)
        kept = self._r_key
        if kept is not None and kept[0] == key and len(self._r) == len(ts) - self.p:
            if kept[1] == stamp:                                    # the same window again (a retry)
                return self._r
            if kept[1][ts.itemsize:] == stamp[:-ts.itemsize]:       # one tick on
                h, m = self._head, len(self._r)                     # one row written twice, no shift
                if row is None:
                    if newest is None and self.extra:
                        newest = (extra() if callable(extra) else extra)[-1]
                    row = self._newest_residual(window, newest)
                missing = window.missing[-1]
                if fnp.count_nonzero(missing):
                    fnp.copyto(row, ZERO, where=missing)       # (a third of a mask's setitem)
                fnp.copyto(self._ring_rows[h], row)            # rows h and h + m
                self._head = h = (h + 1) % m
                self._r = self._ring_windows[h]
                self._r_key = (key, stamp)
                return self._r
        if callable(extra):
            extra = extra()
        r = self.residuals(window.values, window.missing, extra)
        self._ring = fnp.concatenate([r, r])
        self._ring_rows = [self._ring[h::len(r)] for h in range(len(r))]
        self._ring_windows = [self._ring[h:h + len(r)] for h in range(len(r))]
        self._ring_weights = self.bias_weights(len(r))
        self._head = 0
        self._r = self._ring[:len(r)]
        self._r_key = (key, stamp)
        return self._r

    def _newest_residual(self, window: WindowBuffer, newest: np.ndarray | None) -> np.ndarray:
        """residuals()'s newest row from this tick's features (the RLS's slot, which learning the tick
        reuses): the same products, added in the same order. `newest`: the row's regressors."""
        r = np.subtract(window.newest64, self.rls.predict(self.features(window, newest)))
        r *= self.rls.inv_sd
        return r

    def batch_scores(self, z: np.ndarray, missing: np.ndarray, steps: int,
                     extra: np.ndarray | None = None) -> np.ndarray:
        """Scores for rows p.. of a block, as score() gives them on a window of `steps` rows
        (the first rows' bias sees zeros where the window would have older rows)."""
        w = self.bias_weights(steps - self.p)
        padded = np.zeros((len(w) - 1 + len(z) - self.p, z.shape[1]))     # the residuals after len(w) - 1 zeros
        r = padded[len(w) - 1:]
        self.residuals(z, missing, extra, out=r)
        bias = fnp.einsum("tnm,m->tn", sliding_window_view(padded, len(w), axis=0), w)
        np.abs(bias, out=bias)
        return np.maximum(np.abs(r, out=r), bias, out=bias)     # in place: a warm-up's day is 2880 rows

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        return {"rls": self.rls.state_dict()}

    def restore(self, state: dict) -> None:
        self.rls.restore(state["rls"], "ar.rls")
        self.extra_in = [None] * self.rls.block
