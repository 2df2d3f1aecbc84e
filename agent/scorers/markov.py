"""A Markov chain per sensor over quantile-binned states.

Score = surprise −log P(s_t | previous state), standardised by its warm-up mean and spread.
When the sensor was missing for g ticks, the previous state is a distribution propagated
P_t = P_{t-1}·M from its last observed state.

Forgetting is applied lazily: instead of decaying every count on every tick, each new count
weighs g = λ^-t more (rescaled now and then), so learning one tick is O(N).

The counts and their row sums are one table, (n, k, k + 1): a state's k counts, then their sum;
a tick's entries are 2N flat indices into it, one `ravel_multi_index` of (sensor, previous state,
[state; k]).

Scored and learned in blocks, as the AR model's and fusion's regressions are (rls.py): a tick's
score is one `take` of N entries from a table of every transition's score (`_scores`, the same
shape), rebuilt from the counts every BLOCK observed ticks, and the counts a tick adds are kept (its
flat indices and weight) and added in one `bincount` when the table is rebuilt (flush). At a few
dozen sensors a numpy call is nearly all fixed cost: turning a tick's counts into scores took 8 calls
and learning them 3, a third of the fallback's tick (perf34). So a tick's surprise reads counts up
to BLOCK ticks old; a checkpoint adds the kept counts first (state_dict), so a twin restored from it
scores as the original does from then on.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import fastnp as fnp
from ..checkpoint import array_like
from ..quantile import quantile

if TYPE_CHECKING:
    from ..window import WindowBuffer

#: Ticks whose counts are kept before they are added and the score table rebuilt (the RLS's block)
BLOCK = 32


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
        self.g = 1.0                    # the table's count weight (its counts' scale)
        # Every transition's score, max(0, −(log P(s1 | s0) + mean) · inv_std), laid out as the table
        # (its last column not read): a tick's scores are one take at the counts' flat indices (_rebuild)
        self._scores = np.zeros((n, bins, bins + 1))
        # The ticks counted since the last rebuild: (their flat indices, the sensors seen in both rows
        # or None for all, their weight g) each, and the weight of the newest (count, flush)
        self._kept: list[tuple] = []
        self._g_kept = 1.0
        self.block = BLOCK              # (1: counted and rebuilt every tick, as before perf34)
        self.mean = np.zeros(n)
        self.inv_std = np.ones(n)
        self._neg_inv_std = -self.inv_std       # surprise()'s factor (set with inv_std)
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
        self.g = self._g_kept = 1.0
        self._kept = []
        self._rebuild()

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
        self._neg_inv_std = -self.inv_std
        self._rebuild()

    def _rebuild(self) -> None:
        """The score table from the counts, the mean and the spread: each entry as the one-tick formula
        (_prob's (count + a) / (row sum + k·a), then surprise's log, + mean, · −inv_std, floor 0)."""
        a = self.alpha * self.g
        p = np.add(self._table, a, out=self._scores)    # the whole table, contiguous (its last column,
        p /= (self.rowsum + self.k * a)[:, :, None]       # the row sums' "scores", is never read)
        np.log(p, out=p)
        p += self.mean[:, None, None]
        p *= self._neg_inv_std[:, None, None]
        np.maximum(p, 0.0, out=p)

    def _score_of(self, i: int, p: float) -> float:
        """Sensor i's score of a transition of probability p (a sensor whose previous state is unknown)."""
        return max(0.0, (float(np.log(p)) + float(self.mean[i])) * float(self._neg_inv_std[i]))

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
        z = self._scores.take(self._flat_index(s0, s1)[0], out=out)     # (the score table's: _rebuild)
        gone = window.missing[-2]
        if fnp.count_nonzero(gone):
            for i in np.flatnonzero(gone):
                z[i] = self._score_of(i, self._propagated(window, i, s1[i]))
        return z

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
        # Two entries a sensor (its count and row sum), by flat index, + g where seen in both rows
        # (seen > missing[-2] is seen & ~missing[-2]) and + 0 elsewhere
        flat = self._flat_index(s0, s1)
        self.count(flat, np.greater(window.newest_seen, window.missing[-2]) if fnp.count_nonzero(window.missing[-2:])
                   else None)

    def count(self, flat: np.ndarray, both: np.ndarray | None) -> None:
        """Learn a tick: + g (the last one / lam) at its [count; row sum] flat indices of the sensors
        seen in both rows (`both`; None: every sensor), kept until the block is full (flush)."""
        self._g_kept = g = self._g_kept / self.lam
        self._kept.append((flat, both, g))
        if len(self._kept) >= self.block:
            self.flush()

    def flush(self) -> None:
        """Add the kept ticks' counts to the table in one bincount (the same weights as adding each
        tick's, summed in another order: last bits), rescale it when the weight grew large, and
        rebuild the score table from it."""
        kept, self._kept = self._kept, []
        if not kept:
            return
        weights = np.repeat([g for _, _, g in kept], 2 * self.n).reshape(len(kept), 2, self.n)
        for j, (_, both, _) in enumerate(kept):
            if both is not None:
                weights[j] *= both
        table = self._table.reshape(-1)
        table += np.bincount(fnp.concatenate([f for f, _, _ in kept]).reshape(-1), weights.reshape(-1),
                             minlength=table.size)
        self.g = self._g_kept
        if self.g > 1e9:
            self._table /= self.g
            self.g = self._g_kept = 1.0
        self._rebuild()

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        self.flush()                    # the kept counts first: a twin restored from it scores as this one
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
        self.g = self._g_kept = g
        self._kept = []
        self._edges_t = self.edges.T.copy()
        self._neg_inv_std = -self.inv_std
        self._rebuild()
        self._flat = None
        self._edges_version += 1
