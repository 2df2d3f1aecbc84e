"""A Markov chain per sensor over quantile-binned states.

Score = surprise −log P(s_t | previous state), standardised by its warm-up mean and spread.
When the sensor was missing for g ticks, the previous state is a distribution propagated
P_t = P_{t-1}·M from its last observed state.

Forgetting is applied lazily: instead of decaying every count on every tick, each new count
weighs g = λ^-t more (rescaled now and then), so learning one tick is O(N).

The counts and their row sums are one table, (n, k, k + 1): a state's k counts, then their sum.
A tick reads its N counts and N row sums with one `take` of 2N flat indices and adds to them
with one `take` and one `put` (at a few dozen sensors a numpy call is nearly all fixed cost); the
flat indices are one `ravel_multi_index` of (sensor, previous state, [state; k]).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import fastnp as fnp
from ..checkpoint import array_like
from ..quantile import quantile

if TYPE_CHECKING:
    from ..window import WindowBuffer


class MarkovModel:
    def __init__(self, n: int, bins: int, smoothing: float, forgetting: float):
        self.n, self.k = n, bins
        self.alpha = smoothing
        self.lam = forgetting
        self.edges = np.zeros((n, bins - 1))
        self._edges_t = self.edges.T.copy()     # (bins - 1, n), what states() compares with (set with edges)
        self._above = np.empty((bins - 1, n), bool)     # _state_row()'s comparison
        self._table = np.zeros((n, bins, bins + 1))
        self.counts = self._table[:, :, :bins]          # views of the table: what the block code reads
        self.rowsum = self._table[:, :, bins]
        self.g = 1.0
        self.mean = np.zeros(n)
        self.inv_std = np.ones(n)
        # surprise()'s factor, and −mean: set together, as new arrays, whenever mean or inv_std change
        # (calibrate, restore): a caller that keeps copies of them (NumpyScorer) re-reads them when
        # _neg_inv_std is another object
        self._neg_inv_std, self._neg_mean = -self.inv_std, -self.mean
        self._rows = np.arange(n)
        # One tick's entries as flat indices into the table (_flat_index): [count of s0 → s1; row sum
        # of s0] per sensor, (2, n), the table's indices (sensor, s0, [s1; k]) raveled in one call. A
        # row's states are made as the first row of a copy of _cols_k ([·; k]), so a tick's [s1; k]
        # is there when its flat index is (_cols: the last states row made, and its pair).
        self._rows2 = np.stack([self._rows, self._rows]).astype(np.intp)
        self._dims = self._table.shape
        self._cols_k = np.full((2, n), bins, np.intp)
        self._cols: tuple | None = None
        # The smoothing added to a tick's [counts; row sums]: [1; k] × alpha·g, in _smooth. Operands
        # as arrays of the result's shape: a Python scalar or a broadcast costs a numpy call more.
        self._one_k, self._smooth = np.ones((2, n)), np.empty((2, n))
        self._one_k[1] = bins
        self._zeros = np.zeros(n)
        self._column = np.empty((bins, bins))[:, 0]     # _two_steps()'s column of M, strided as M[:, s1]
        self._flat: tuple | None = None         # (s0, s1, their flat indices into the table)
        # (window id, tick time, edges version, its states, the states of the row before it): transitions()
        self._newest: tuple | None = None
        self._edges_version = 0

    def states(self, x: np.ndarray) -> np.ndarray:
        """Bin index per sensor; x (..., n)."""
        # Compared with the edges transposed and counted over the edges' axis, row after row: a reduce
        # along a short last axis costs ~2× at N = 256 (a count: any order gives the same whole number)
        return np.add.reduce(x[..., None, :] > self._edges_t, axis=-2)

    def _state_row(self, x: np.ndarray) -> np.ndarray:
        """states() of one row (n,): compared into a kept (bins - 1, n) buffer (the same counts),
        counted into the first row of a new [·; k] pair (_flat_index's third index, kept in _cols)."""
        cols = self._cols_k.copy()
        s = np.add.reduce(np.greater(x, self._edges_t, out=self._above), 0, None, cols[0])
        self._cols = (s, cols)
        return s

    def transition(self, i: int) -> np.ndarray:
        """Sensor i's (k, k) transition matrix."""
        a = self.alpha * self.g
        return (self.counts[i] + a) / (self.rowsum[i][:, None] + self.k * a)

    def fit(self, z: np.ndarray, missing: np.ndarray, chunk: int = 256) -> None:
        """Edges from the rows' quantiles, then the transitions counted `chunk` rows at a time
        (the states of a warm-up day at once, and their (rows, n, bins) comparison, were ~0.8 MB;
        the counts are whole numbers, so the blocks add up to the same bits)."""
        qs = np.linspace(0, 1, self.k + 1)[1:-1]
        self._edges_version += 1
        for i in range(self.n):
            obs = z[~missing[:, i], i]
            self.edges[i] = quantile(obs, qs) if obs.size else 0.0
        self._edges_t = self.edges.T.copy()
        for j in range(0, len(z) - 1, chunk):
            s, ms = self.states(z[j:j + chunk + 1]), missing[j:j + chunk + 1]
            both = ~ms[1:] & ~ms[:-1]
            for i in range(self.n):
                np.add.at(self.counts[i], (s[:-1, i][both[:, i]], s[1:, i][both[:, i]]), 1.0)
        self.rowsum[...] = self.counts.sum(axis=2)
        self.g = 1.0

    def calibrate(self, z: np.ndarray, missing: np.ndarray, chunk: int = 256) -> None:
        """The surprise's mean and spread per sensor over rows 1.., computed `chunk` rows at a time
        (row by row the same bits: only the day's surprise is whole, not its temporaries)."""
        raw = np.empty((max(len(z) - 1, 0), self.n))
        for j in range(0, len(raw), chunk):
            raw[j:j + chunk] = self.batch_surprise(z[j:j + chunk + 1], missing[j:j + chunk + 1])
        ok = ~missing[1:] & ~missing[:-1]
        for i in range(self.n):
            v = raw[ok[:, i], i]
            if v.size > 1:
                self.mean[i], self.inv_std[i] = v.mean(), 1.0 / max(v.std(), 1e-3)
        self._neg_inv_std, self._neg_mean = -self.inv_std, -self.mean

    def _prob(self, s0: np.ndarray, s1: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """P(s1 | s0) per sensor; s0, s1 (n,) for one tick (into `out` when given) or (m, n) for a block."""
        a = self.alpha * self.g
        if s0.ndim == 1:                # one tick: the same entries, by flat index, in one take
            pair = self._table.take(self._flat_index(s0, s1))
            np.add(pair, np.multiply(self._one_k, a, out=self._smooth), out=pair)      # + [a; k·a]
            return np.divide(pair[0], pair[1], out=out)
        r = self._rows
        return (self.counts[r, s0, s1] + a) / (self.rowsum[r, s0] + self.k * a)

    def _flat_index(self, s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
        """(2, n): counts[r, s0, s1] and rowsum[r, s0] of every sensor r as flat indices into the
        table (whole numbers: exact), computed once for a tick's states (surprise, then learn)."""
        f = self._flat
        if f is not None and f[0] is s0 and f[1] is s1:
            return f[2]
        made = self._cols
        if made is not None and made[0] is s1:      # s1 is _state_row()'s: its pair is made
            cols = made[1]
        else:
            cols = self._cols_k.copy()
            cols[0] = s1
        flat = fnp.ravel_multi_index((self._rows2, s0, cols), self._dims)
        self._flat = (s0, s1, flat)
        return flat

    def batch_surprise(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray:
        s = self.states(z)
        out = self._prob(s[:-1], s[1:])
        del s
        np.negative(np.log(out, out=out), out=out)      # in place: a warm-up day's arrays are 0.4 MB each
        out[missing[1:] | missing[:-1]] = 0.0
        return out

    def batch_scores(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray:
        out = self.batch_surprise(z, missing)
        out -= self.mean
        out *= self.inv_std
        return np.maximum(out, 0.0, out=out)

    def transitions(self, window: WindowBuffer) -> tuple[np.ndarray, np.ndarray]:
        """(previous, newest) state per sensor. The previous row's states are the last call's newest
        when the window has moved on by one tick (the states of a row never change: the edges are fixed)."""
        ts = window.ts
        last = self._newest
        if last is not None and last[0] == id(window) and last[1] == ts[-2] and last[2] == self._edges_version:
            s0 = last[3]
        else:
            s0 = self._state_row(window.values[-2])
        s1 = self._state_row(window.newest64)          # (float64: the same comparisons, no conversion)
        self._newest = (id(window), float(ts[-1]), self._edges_version, s1, s0)
        return s0, s1

    def score(self, window: WindowBuffer, states: tuple | None = None) -> np.ndarray:
        return self.surprise(window, states) * window.newest_seen

    def surprise(self, window: WindowBuffer, states: tuple | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """score() where the newest value is seen, and whatever it is elsewhere (for a caller that
        zeroes those sensors itself: the numpy fallback does, once, for all its parts). Into `out` when given."""
        s0, s1 = self.transitions(window) if states is None else states
        z = self._prob(s0, s1, out)
        gone = window.missing[-2]
        if fnp.count_nonzero(gone):
            for i in np.flatnonzero(gone):
                z[i] = self._propagated(window, i, s1[i])
        np.log(z, out=z)                # in place, (log p + mean) · −inv_std: the same bits as
        z += self.mean                  # (−log p − mean) · inv_std (a negation is exact, and rounding is
        z *= self._neg_inv_std          # symmetric in sign), without its three temporaries
        return np.maximum(z, self._zeros, out=z)

    def _propagated(self, window: WindowBuffer, i: int, s1: int) -> float:
        """P(s1) when sensor i's previous state is unknown: propagate from its last observation."""
        before = window.missing[:-1, i]
        if len(before) > 1 and not before[-2]:      # seen the tick before the gap (most gaps)
            return self._two_steps(i, fnp.count_nonzero(window.values[-3, i] > self.edges[i]), s1)
        M = self.transition(i)
        seen = np.flatnonzero(~before)
        if seen.size == 0:
            return float(M[:, s1].mean())
        last = seen[-1]
        # its state then (states(), one sensor); the first step from it, one-hot @ M, is that state's
        # row of M exactly (the other terms are 0 · p = +0.0, and p + 0.0 is p): taken, not multiplied
        d = M[fnp.count_nonzero(window.values[last, i] > self.edges[i])]
        for _ in range(len(window.values) - 3 - last):
            d = d @ M
        return float(d @ M[:, s1])

    def _two_steps(self, i: int, s: int, s1: int) -> float:
        """_propagated() of a sensor missing one tick only (seen two ticks ago, in state s): M[s] · M[:, s1],
        the only row and column of M it reads computed as transition() computes them (the same bits:
        each entry (count + a) / (row sum + k·a)), the column into a strided buffer as M[:, s1] is (a dot of
        unit-stride operands may add in another order). The whole M was ~4 of _propagated()'s ~11 µs."""
        a = self.alpha * self.g
        ka = self.k * a
        t, k = self._table[i], self.k
        row = t[s]
        d = np.add(row[:k], a)
        d /= row[k] + ka
        col = np.add(t[:, s1], a, out=self._column)
        col /= t[:, k] + ka
        return float(d.dot(col))        # (ndarray.dot: the `@`'s dot, the same bits, ~1 µs less a call)

    def learn(self, window: WindowBuffer, states: tuple | None = None) -> None:
        s0, s1 = self.transitions(window) if states is None else states
        g = self.g / self.lam
        # Two entries a sensor (its count and row sum), by flat index: take and put (no entry twice).
        # Every sensor's on the common tick; else every sensor's too, + g where seen in both rows and
        # + 0.0 elsewhere (a count + 0.0 is the count, bit for bit: ~half the cost of selecting the
        # seen sensors' columns with a fancy index). seen > missing[-2] is seen & ~missing[-2].
        flat = self._flat_index(s0, s1)
        taken = self._table.take(flat)
        if fnp.count_nonzero(window.missing[-2:]):
            self.count(flat, taken + np.multiply(np.greater(window.newest_seen, window.missing[-2]), g), g)
        else:
            self.count(flat, taken + g, g)

    def count(self, flat: np.ndarray, entries: np.ndarray, g: float) -> None:
        """Learn a tick: its new [count; row sum] entries at their flat indices, and the new count
        weight g (the last one / lam), as learn() computes them (the numpy fallback's next tick takes
        the entries once, for the surprise and for these: NumpyScorer._next_score)."""
        self.g = g
        self._table.put(flat, entries)
        if g > 1e9:
            self._table /= g
            self.g = 1.0

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        return {"edges": self.edges, "counts": self.counts, "rowsum": self.rowsum, "g": self.g,
                "mean": self.mean, "inv_std": self.inv_std}

    def restore(self, state: dict) -> None:
        """Validates everything before changing anything."""
        new = {k: array_like(state[k], getattr(self, k), f"markov.{k}")
               for k in ("edges", "counts", "rowsum", "mean", "inv_std")}
        g = float(state["g"])
        if not (np.isfinite(g) and g >= 1.0):
            raise ValueError(f"markov.g: {g!r} is not a count weight (≥ 1)")
        self.counts[...], self.rowsum[...] = new.pop("counts"), new.pop("rowsum")      # into the table
        for k, v in new.items():
            setattr(self, k, v)
        self.g = g
        self._edges_t = self.edges.T.copy()
        self._neg_inv_std, self._neg_mean = -self.inv_std, -self.mean
        self._flat = None
        self._edges_version += 1
