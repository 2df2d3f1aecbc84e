"""The numpy fallback: AR(p) with seasonal regressors, Markov surprise and neighbour fusion,
combined per sensor.

Always available (numpy only), learns online on calm ticks, and is what the agent scores
with whenever no model runtime or no valid bundle is there. The AR model reads the clock
through a seasonal profile (seasonal.py) so a scheduled daily change is not a surprise.

Two ways to score, one result: the tick after the last scored (nearly every tick) is scored by one
flat function over the parts' arrays (_next_score), because at a few dozen sensors the ~30 Python
calls, attribute hops and checks between the parts' numpy calls cost about as much as the calls; any
other tick (the first, a retry, one after a gap) by the parts' own methods (_score_any), which the
flat function is tested against bit for bit (tests/test_fallback_joint.py).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

from .. import fastnp as fnp
from ..window import WindowBuffer
from .ar import ZERO, ARModel
from .base import Scorer, TickScore
from .fusion import FusionModel
from .joint import JointRegression
from .markov import MarkovModel
from .seasonal import SeasonalFeatures

if TYPE_CHECKING:
    from ..config import NumpyScorerConfig

# The next tick's numpy functions (_next_score), bound once: a module global is one lookup where np.add
# is two, np.add.reduce three and a bound method made; fastnp's skip the dispatch (np.dot's: ~0.2 µs). Each
# ufunc but np.maximum is given `out` by position (its keyword costs ~40 ns a call; np.maximum's third
# positional argument is deprecated, a warning's check each call). ~25 calls a tick, ~1–2 µs in all.
_ADD, _SUBTRACT, _MULTIPLY, _DIVIDE, _LOG = np.add, np.subtract, np.multiply, np.divide, np.log
_ABS, _MAXIMUM, _GREATER = np.absolute, np.maximum, np.greater
_SUM_ROWS, _MAX_OF = np.add.reduce, fnp.max_of     # (max_of: the reduce's value through argmax, perf51)
_COPY, _COUNT, _DOT = fnp.copyto, fnp.count_nonzero, fnp.dot

#: While another tier scores, the fallback's learning waits for this many ticks and then learns
#: them in one pass (NumpyScorer.flush).
DEFERRED_TICKS = 32


class _Replayed:
    """The seasonal regressors of a day's rows as ARModel.fit and batch_scores slice them
    (`extra[lo:hi]`, blocks in order, each overlapping the last), replayed row by row as they are asked for:
    the same rows as one replay of the day, without the day's array. Each pass over the blocks
    (BatchRLS.fit_blocks makes two) starts from `profile()`, a copy of the profile before the fit."""

    def __init__(self, profile, ts: np.ndarray, z: np.ndarray, missing: np.ndarray, stop: int):
        """Rows 0..stop-1 (the fit's rows) of the day ts, z, missing."""
        self.profile, self.ts, self.z, self.missing, self.stop = profile, ts, z, missing, stop
        self.replaying, self.rows, self.first = None, None, 0

    def __getitem__(self, rows: slice) -> np.ndarray:
        lo, hi = rows.start, min(rows.stop, self.stop)
        if self.replaying is None or lo < self.first:               # a new pass: from the start
            self.replaying, self.first = self.profile(), 0
            self.rows = np.zeros((0, self.replaying.n, self.replaying.width))
        done = self.first + len(self.rows)
        new = self.replaying.replay(self.ts, self.z, self.missing, done, hi) if hi > done else self.rows[:0]
        self.rows = fnp.concatenate([self.rows[lo - self.first:], new])
        self.first = lo
        return self.rows[:hi - lo]


class NumpyScorer(Scorer):
    TYPE = "numpy"

    def __init__(self, n: int, adjacency: np.ndarray, cfg: NumpyScorerConfig, tick_s: float = 1.0, steps: int = 32):
        """`tick_s`: the agent's tick (seasonal bins); `steps`: the window length (rows remembered)."""
        self.n = n
        self._made_with = (n, adjacency, cfg, tick_s, steps)     # for __deepcopy__
        w = {"ar": 0.0, "markov": 0.0, "fusion": 0.0} | dict(cfg.weights)
        if not adjacency.any():
            w["fusion"] = 0.0
        total = sum(w.values()) or 1.0
        self.weights = {k: v / total for k, v in w.items()}
        # No weight below 0: every sensor score is ≥ 0, NaN or +inf and the tick's score their max, so the
        # chain's check of the tick's score covers every sensor's and it skips the per-sensor one (base.py;
        # an isfinite and a ufunc reduce, ~2 µs a tick: perf51)
        self.SCORE_COVERS_SENSORS = all(v >= 0 for v in self.weights.values())
        # the weights by row, each repeated across the sensors: the three parts' rows of one array
        # weighted in one call (score), without a broadcast
        self._weight_rows = np.repeat([[self.weights["ar"]], [self.weights["fusion"]], [self.weights["markov"]]], n, axis=1)
        # the three parts' scores of a tick, rows ar, fusion, markov (score): rows 1..3 of _abs4, whose row 0
        # is the AR bias's absolute value (_next_score: the bias's and the residuals' in one abs)
        self._abs4 = np.empty((4, n))
        self._parts = self._abs4[1:]
        self.seasonal_args = (list(cfg.seasonal_periods_s), tick_s, cfg.seasonal_memory_cycles, steps + 2)
        self.seasonal = SeasonalFeatures(n, *self.seasonal_args) if cfg.seasonal_periods_s else None
        self.ar = ARModel(n, cfg.ar_order, cfg.forgetting, extra=self.seasonal.width if self.seasonal else 0)
        self.markov = MarkovModel(n, cfg.markov_bins, cfg.markov_smoothing, cfg.forgetting)
        self.fusion = FusionModel(adjacency, cfg.forgetting)
        self.joint = JointRegression(self.ar, self.fusion, rows=3)     # their weights and tick buffer, shared
        # The next tick's stacked rows (_next_score), so that no call broadcasts (a broadcast operand costs
        # ~0.5 µs a call at N = 16): the newest row as float64 written once into k - 1 + 2 rows, what the
        # Markov chain's k - 1 edges are compared with and what the AR model's and fusion's predictions are
        # subtracted from, then the Markov chain's log-probability: [x; x; log p] less the joint's
        # [AR prediction; fusion prediction; −mean], times [AR scale; fusion scale; −1/std], is the three
        # parts' residuals over scale in one subtract and one multiply (log p − (−mean) is log p + mean,
        # exactly, and MarkovModel.surprise's (log p + mean) · (−1/std) follows). Into _z4's rows 1..3,
        # whose row 0 is the AR bias; the joint's third rows are the Markov chain's (_std_of: the
        # _neg_inv_std they were copied from). A first row of ones: with the first x row, [1.0; x] for the
        # seasonal profile's [count; sum] (SeasonalFeatures.learn's one_x: one add a learned tick). Each
        # operand contiguous: a strided one costs a ufunc ~0.5–1 µs more (its overlap check, its iterator).
        edges = cfg.markov_bins - 1
        self._rows = np.empty((edges + 4, n))
        self._rows[0] = 1.0
        self._one_x = self._rows[:2]
        self._x_rows = self._rows[1:edges + 3]
        self._x = self._rows[edges + 1]         # the newest row as float64: window.newest64's bits
        self._compared = self._rows[1:edges + 1]
        self._resid_in = self._rows[edges + 1:]
        self._log_p = self._rows[edges + 3]
        self._z4 = np.empty((4, n))
        self._z3, self._bias_row, self._z_abs = self._z4[1:], self._z4[0], self._z4[:3]
        self._z_ar = self._z4[1]
        self._abs_out = self._abs4[:3]
        self._max_rows = (self._abs4[1], self._abs4[0], self._abs4[3], self._z4[3])
        self._part_rows = tuple(self._parts)
        self._std_of = None
        # The Markov chain's next tick in one product (_next_score): [s1; count index; row-sum index; a; k·a;
        # the next tick's base] = W · [3 rows W ignores; x > edges; base; 1; r·k(k + 1)], base = r·k(k + 1) +
        # s0·(k + 1) (the table's flat indices, MarkovModel._flat_index), a = α·g the smoothing (W's entries
        # against the row of ones, written each tick: [a; k·a] as the multiply of [1; k] by a gave them). In
        # float64, exact: the indices are whole numbers far below 2**53 (exact in any order of the sum), and
        # a · 1.0 plus products with 0 (of finite, non-negative entries) is a. It replaces a bool → intp
        # reduce, a copy, ravel_multi_index and the smoothing's multiply (~1 µs at N = 16); the comparison
        # writes into the product's operand (as 0.0 / 1.0). Two operands, used in turn: the product's rows
        # go into the other's rows edges − 2 … edges + 3, the last its base row, the others the next
        # comparison's or ignored, so the next base is there when the next tick reads it. _mk_based: the
        # states (s1) whose next base that is; any other s0 (a tick scored another way) has it written first.
        k = cfg.markov_bins
        self._mk_in = (np.zeros((edges + 6, n)), np.zeros((edges + 6, n)))
        for operand in self._mk_in:
            operand[edges + 4] = 1.0
            operand[edges + 5] = np.arange(n) * (k * (k + 1))
        # W's columns: the operand's rows from the comparisons on (W · operand[3:]: the rows W ignores are not
        # read; as zero columns of W they cost N = 256 a fifth more multiply-adds and added only +0.0)
        w = self._mk_w = np.zeros((6, edges + 3))
        w[0, :edges] = 1.0                                      # s1: the edges below x
        w[1, :edges + 1] = 1.0                                  # the count of s0 → s1: base + s1
        w[2, edges], w[2, edges + 1] = 1.0, k                   # the row sum of s0: base + k
        w[5, :edges], w[5, edges + 2] = k + 1, 1.0              # the next base: s1·(k + 1) + r·k(k + 1)
        self._mk_a = (w[3, edges + 1:edges + 2], w[4, edges + 1:edges + 2])    # where a and k·a go (1-element views)
        self._mk_read = tuple(op[3:] for op in self._mk_in)
        # The comparison into a bool buffer, then copied into the operand's rows as 0.0 / 1.0: a comparison
        # writing float64 casts its bools through the ufunc's buffered loop, ~2× the bool comparison and
        # the copy's cast together (the same values: True 1.0, False and NaN's comparisons 0.0)
        self._above_b = np.empty((edges, n), bool)
        self._mk_k1 = k + 1
        # each operand's (comparison rows, base row); the product's rows in it, and of them the states and
        # indices, and [a; k·a]
        self._mk_rows = [(op[3:edges + 3], op[edges + 3], op[edges - 2:edges + 4], op[edges - 2:edges + 1],
                          op[edges + 1:edges + 3]) for op in self._mk_in]
        self._mk_cur, self._mk_based = 0, None
        # The product's [s1; count index; row-sum index] as intp, into one of three kept buffers in turn (a
        # copy's unsafe cast for astype's new array, its rows' views made once): a tick's s1 is read as the
        # next tick's s0 and, for a sensor back after one missing tick, as the states two ticks back
        # (MarkovModel._newest's last entry), never further; the third buffer is the one written. Any
        # other path's states are its own arrays (MarkovModel.transitions).
        self._mk_states = [(st, st[0], st[1:]) for st in np.empty((3, 3, n), np.intp)]
        self._mk_turn = 0
        # the table's [count; row sum] of a tick's entries (take's out: the indices are in range, so the
        # mode only spares take's buffered copy), its rows, and what observe() puts back (read that tick)
        self._pair = np.empty((2, n))
        self._pair_rows = (self._pair[0], self._pair[1])
        self._entries = np.empty((2, n))
        # A bool operand of a float64 ufunc goes through its buffered cast (~2× a bool copy's unbuffered cast
        # into float64 and the ufunc on that, perf48): on a tick with a sensor missing, the newest row's seen
        # and the count's seen-in-both as 0.0 / 1.0 first; fusion's has_neighbours as 0.0 / 1.0 once
        self._seen_f, self._both_b, self._both_f = np.empty(n), np.empty(n, bool), np.empty(n)
        self._nb_f = self.fusion.has_neighbours.astype(np.float64)
        # the Markov chain's count weight of a tick, as a 0-d array written each tick: a Python float costs a
        # ufunc its conversion (~0.2 µs a call)
        self._g0 = np.empty(())
        # each slot of the joint's tick buffer, and the views _next_score writes the features into:
        # (slot, the AR lags, the AR's seasonal regressors, fusion's previous value, neighbour mean, product)
        p, X = cfg.ar_order, self.joint._X
        self._slots = [(X[i], X[i, :p, :n], X[i, p + 1:self.ar.rls.k, :n].T, X[i, 1, n:], X[i, 2, n:], X[i, 3, n:])
                       for i in range(len(X))]
        # learn() of a tick _next_score scored with every sensor seen: the joint's value rows are [x; x], two
        # of the stacked rows, and its validity rows [seen; seen & has_neighbours] with every sensor seen
        self._rls, self._yv = (self.ar.rls, self.fusion.rls), self.joint._yv
        self._xx = self._rows[edges + 1:edges + 3]
        self._all_seen = np.stack([np.ones(n, bool), np.ones(n, bool) & self.fusion.has_neighbours])
        # which of the joint's validity slots hold _all_seen, written by that learn() (a slot's validity is
        # written only by learn(), through JointRegression.learn otherwise, and by restore()): not again
        self._v_all = [False] * self.ar.rls.block
        self._mean_w = self.fusion._mean_w
        # the calm tick's neighbour mean (FusionModel.features' matmul): np.dot, the same gemv at N ≥ 2 for
        # ~0.4 µs less; at N = 1 (NAB's streams) it is no gemv, and 0 · x gives −0.0 where matmul gives
        # +0.0, a bit the checkpoint keeps (review9), so matmul there
        self._mean_of = fnp.dot if n > 1 else np.matmul
        self._tick_key = None       # the newest tick whose features are built (score, then learn)
        self._tick = None
        self._tick_x = None         # that tick's newest row as float64 when _next_score built it (learn)
        self._seen_key = None       # the newest tick _next_score scored with every sensor seen
        self._counted: tuple | None = None      # (its tick, the Markov entries observe() writes, g)
        # Ticks learned and observed while another tier scores, not yet learned: [tick time, its
        # row's values and missing, learn?, observe?] each, and the window's rows before the first
        # (values, missing, ts): what flush() replays them from.
        self._pending: list[list] = []
        self._context: tuple | None = None
        # The kept rows' values and missing, slot k the k-th pending tick's (row views made once: a tick writes its
        # row into the next slot, no copy made and freed; flush empties _pending before a slot is written again).
        self._kept_values = list(np.empty((DEFERRED_TICKS, n), np.float32))
        self._kept_missing = list(np.empty((DEFERRED_TICKS, n), bool))

    def _block_extra(self, z: np.ndarray, missing: np.ndarray, ts: np.ndarray | None,
                     profile: SeasonalFeatures | None) -> np.ndarray | None:
        """The AR model's seasonal regressors for a block of consecutive ticks (None: no profile)."""
        if self.seasonal is None:
            return None
        if ts is None:
            return np.zeros((len(z), self.n, self.seasonal.width))
        return profile.replay(np.asarray(ts, float), z, missing)

    def fit(self, z: np.ndarray, missing: np.ndarray, ts: np.ndarray | None = None,
            fit_rows: int | None = None) -> None:
        """Fit on the first `fit_rows` warm-up rows (all by default); the seasonal profile learns
        every row given (their timestamps `ts`; None: no clock, the profile stays empty)."""
        cut = len(z) if fit_rows is None else fit_rows
        if cut <= self.ar.p + 2:
            raise ValueError(f"need more than {self.ar.p + 2} warm-up rows, got {cut}")
        if self.seasonal is None or ts is None:
            extra = self._block_extra(z, missing, ts, self.seasonal)
            self.ar.fit(z[:cut], missing[:cut], None if extra is None else extra[:cut])
            del extra                   # not kept through the other fits
        else:                           # the day's regressors (0.8 MB on the demo) never whole: replayed
            ts = np.asarray(ts, float)  # as the AR fit's blocks ask, on a copy of the profile, per pass (the
            # profile itself is not touched until the AR fit is done: no copy of it kept beside, perf66)
            self.ar.fit(z[:cut], missing[:cut], _Replayed(lambda: copy.deepcopy(self.seasonal), ts, z, missing, cut))
            keep = self.seasonal.keep   # the profile learns every row; its last call remembers the day's
            stops = list(range(256, len(z) - keep, 256)) + [len(z)]     # last `keep` rows, as whole
            for lo, hi in zip([0] + stops[:-1], stops):
                self.seasonal.replay(ts, z, missing, lo, hi)
        z, missing = z[:cut], missing[:cut]
        self.fusion.fit(z, missing)
        self.markov.fit(z, missing)
        self.markov.calibrate(z, missing)

    def combine(self, ar: np.ndarray, markov: np.ndarray, fusion: np.ndarray,
                out: np.ndarray | None = None) -> np.ndarray:
        """The weighted sum of the three scores, ar + fusion + markov in that order; into `out`
        (which may be `ar`) when given. score() computes the same products and sums on its (3, N)
        parts array (the same bits: tests/test_tick_cost.py)."""
        w = self.weights
        s = np.multiply(ar, w["ar"], out=out)
        s += w["fusion"] * fusion
        s += w["markov"] * markov
        return s

    def _features(self, window: WindowBuffer) -> tuple:
        """This tick's features, built once for score() and learn() of the same tick: the AR model's
        and fusion's in their RLS's next slot (the joint's), returned the Markov chain's transitions
        and the newest row's seasonal regressors."""
        key = float(window.ts[-1])
        if key != self._tick_key:
            self._tick_key, self._tick_x = key, None
            newest = self.seasonal.newest(window) if self.seasonal else None     # the newest row's regressors:
            self.ar.features(window, newest)                 # the window's others only if the AR model asks
            self.fusion.features(window)
            self._tick = (self.markov.transitions(window), newest)
        return self._tick

    def score(self, window: WindowBuffer) -> TickScore:
        if self._pending:
            self.flush()                # what it learned while another tier scored, first
        key = window.newest_ts          # (float(window.ts[-1]), kept by the window's push: perf79)
        flat = self._next_score(window, key) if key != self._tick_key else None
        return self._score_any(window) if flat is None else flat

    @property
    def fusion_part(self) -> np.ndarray:
        """Each sensor's weighted fusion part of the last tick scored (an alert re-judged for a sensor fault
        leaves a faulty sensor's mates' out: agent/pipeline_faults.py)."""
        return self._parts[1]

    def _score_any(self, window: WindowBuffer) -> TickScore:
        """score() of any tick, through the parts' own methods (_next_score: the next tick's flat copy)."""
        states, newest = self._features(window)
        extra = None if self.seasonal is None else lambda: self.seasonal.window(window)
        # The three parts as the rows of one array: weighted in one call, then summed in one reduce
        # over its rows, which adds them row after row, in combine()'s order (the same bits), into a
        # new array (the scores are the caller's). AR's and fusion's rows are one JointRegression's:
        # their absolute values in one call; the AR model adds its lasting-shift statistic
        parts = self._parts
        z = self.joint.zscores(window.newest64)
        np.abs(z, out=parts[:2])
        self.ar.score(window, extra, newest, out=parts[0], row=z[0])
        if not self.fusion._every:
            parts[1] *= self.fusion.has_neighbours
        self.markov.surprise(window, states, out=parts[2])
        parts *= self._weight_rows
        s = np.add.reduce(parts, axis=0)
        s *= window.newest_seen         # every part zeroed where the newest value is missing, once
        # tick_score(s), the worst sensor, without ndarray.max's Python wrapper
        return TickScore(sensor_scores=s, score=fnp.max_of(s) if len(s) else 0.0, tier=self.TYPE)

    def _next_score(self, window: WindowBuffer, key: float) -> TickScore | None:
        """score() of the next tick (the window one tick on from the last scored: the AR model's kept
        residuals and the Markov chain's previous states still hold) as one flat function. The same
        arithmetic on the same operands as the parts' own methods (_score_any), without the ~30
        Python calls, attribute hops and checks between them (at N = 16 they cost as much as the
        arithmetic), on stacked rows where two parts' steps are one call (__init__); a missing value
        takes the parts' own steps for it. None: not such a tick (nothing written), _score_any scores it.
        Its numpy functions are bound once and given `out` by position (_ADD, ...: see there)."""
        ts, missing = window.ts, window.missing
        mk, ar = self.markov, self.ar
        last = mk._newest
        wid = id(window)
        if last is None or last[0] != wid or last[1] != ts[-2] or last[2] != mk._edges_version:
            return None
        kept = ar._r_key
        stamp, size = ts.tobytes(), ts.itemsize
        r = ar._r
        if (kept is None or kept[0] != (wid, ar.rls.version) or len(r) != len(ts) - ar.p or kept[1] == stamp
                or kept[1][size:] != stamp[:-size]):
            return None
        gaps = _COUNT(missing[-2:])
        unseen = _COUNT(missing[-1]) if gaps else 0      # sensors missing now
        gone = gaps - unseen                              # sensors missing the tick before
        values = window.values
        newest = None if self.seasonal is None else self.seasonal.newest_at(key, ts, values, last[1])
        _COPY(self._x_rows, values[-1])             # window.newest64 in each row that reads it (float64: exact)
        x64 = self._x
        # the features, in the joint's next slot (ARModel.features, FusionModel.features)
        at = ar.rls._m
        slot, ar_lags, ar_extra, prev, mean, cross = self._slots[at]
        _COPY(ar_lags, values[-1 - ar.p:-1])
        if newest is not None and ar.extra_in[at] is not newest:    # (ARModel.extra_in: there already)
            _COPY(ar_extra, newest)
            ar.extra_in[at] = newest
        _COPY(prev, values[-2])
        if unseen:
            self.fusion.neighbour_mean(x64, missing[-1], window.newest_seen, out=mean)
        else:
            fusion = self.fusion        # (a flat-at-warm-up sensor bounded as its neighbours' input: fusion.py)
            self._mean_of(self._mean_w, fusion.inputs(x64) if fusion.bounded else x64, mean)
        _MULTIPLY(prev, mean, cross)
        # the Markov chain's states (transitions(): the previous row's are the last tick's newest) and the
        # table's flat indices of this tick's entries (MarkovModel._flat_index), in one product (__init__)
        s0 = last[3]
        cur = self._mk_cur
        above, base = self._mk_rows[cur][:2]
        _, _, into, made, smooth = self._mk_rows[1 - cur]
        if s0 is not self._mk_based:     # (s0 not this function's: its base row written first)
            _ADD(_MULTIPLY(s0, self._mk_k1, base), self._mk_in[cur][-1], base)
        _COPY(above, _GREATER(self._compared, mk._edges_t, self._above_b))   # (bool, then 0.0 / 1.0: see __init__)
        a = mk.alpha * mk.g
        w_a, w_ka = self._mk_a
        w_a[0], w_ka[0] = a, mk.k * a       # (k·a as [1; k] × a gave it: float(k) · a)
        _DOT(self._mk_w, self._mk_read[cur], into)
        turn = self._mk_turn
        states, s1, flat = self._mk_states[turn]
        _COPY(states, made, "unsafe")               # (whole numbers: astype(np.intp)'s values)
        self._mk_turn = turn + 1 if turn < 2 else 0
        self._mk_cur, self._mk_based = 1 - cur, s1
        mk._newest = (wid, key, last[2], s1, s0)
        self._tick_key, self._tick, self._tick_x = key, ((s0, s1), newest), x64
        self._seen_key = None if unseen else key
        # the AR model's and fusion's predictions (JointRegression.zscores), into the joint's pred3[:2]
        joint = self.joint
        _SUM_ROWS(_MULTIPLY(joint.w, slot, joint._products), 0, None, joint._pred)
        # the Markov chain's probability (MarkovModel.surprise, _prob, _flat_index), and what observe()
        # counts (MarkovModel.learn), from the same take
        mk._flat = (s0, s1, flat)
        pair = self._pair
        mk._table.take(flat, None, pair, "wrap")
        g = mk.g / mk.lam
        g0 = self._g0                               # (the scalar as 0-d float64: the same bits, no conversion)
        g0[()] = g
        if gaps:                                    # (+ g where seen in both rows, + 0.0 elsewhere)
            both = self._both_f
            _COPY(both, _GREATER(window.newest_seen, missing[-2], self._both_b))
            self._counted = (key, flat, _ADD(pair, _MULTIPLY(both, g0, both), self._entries), g)
        else:
            self._counted = (key, flat, _ADD(pair, g0, self._entries), g)
        _ADD(pair, smooth, pair)                    # + [a; k·a]
        counts, sums = self._pair_rows
        p = _DIVIDE(counts, sums, self._log_p)
        if gone:            # (a sensor seen two ticks ago: its state then is the last tick's s0)
            # A sensor missing now too is skipped when its probability cannot reach its score (perf79): the
            # score is zeroed where the newest value is missing (× 0.0 below), and with every weight ≥ 0 and
            # the smoothing a > 0 both probabilities — the table's, (count + a) / (row sum + k·a), and the
            # propagated one — lie in (0, 1], so its Markov part is finite either way and its score +0.0 (or the
            # NaN an infinite AR or fusion part gives it), bit for bit. _propagated cost ~27 µs a sensor a tick
            # (a matrix-vector product per tick since it was last seen): a sensor masked by a fault or dead for
            # a while paid it every tick for a score of 0. The parts' path (_score_any) still computes it.
            unread = unseen and a > 0.0 and self.SCORE_COVERS_SENSORS
            for i in np.flatnonzero(missing[-2]) if gone > 1 else (missing[-2].argmax(),):
                if unread and missing[-1, i]:
                    continue
                p[i] = (mk._two_steps(i, last[4][i], s1[i]) if len(ts) > 2 and not missing[-3, i]
                        else mk._propagated(window, i, s1[i]))
        _LOG(p, p)
        # the three parts' residuals over scale: [x; x; log p] less [predictions; −mean], × [scales; −1/std]
        if mk._neg_inv_std is not self._std_of:
            self._std_of = mk._neg_inv_std
            joint.pred3[2], joint.scale3[2] = mk._neg_mean, mk._neg_inv_std
        z = _SUBTRACT(self._resid_in, joint.pred3, self._z3)
        _MULTIPLY(z, joint.scale3, z)
        # the AR model's lasting shift (ARModel.score, window_residuals one tick on): the AR row into the
        # ring's two rows, zeroed there where the value is missing, the bias into z4[0]
        h, m = ar._head, len(r)
        twice = ar._ring_rows[h]
        _COPY(twice, self._z_ar)
        if unseen:
            _COPY(twice, ZERO, where=missing[-1])
        ar._head = h = (h + 1) % m
        ar._r = r = ar._ring_windows[h]
        ar._r_key = (kept[0], stamp)
        _DOT(ar._ring_weights, r, self._bias_row)
        # [|bias|; |AR|; |fusion|] in one call; the AR part the larger of its two; the Markov floor at 0
        _ABS(self._z_abs, self._abs_out)
        ar_part, bias_abs, markov_part, markov_z = self._max_rows
        _MAXIMUM(ar_part, bias_abs, out=ar_part)        # (np.maximum's third positional is deprecated: slow)
        _MAXIMUM(markov_z, mk._zeros, out=markov_part)
        parts = self._parts
        ar_w, fusion_w, markov_w = self._part_rows
        if not self.fusion._every:
            _MULTIPLY(fusion_w, self._nb_f, fusion_w)
        # combined as _score_any does: its reduce over the three rows adds them in order, row after row,
        # as these two adds do (the same bits, ~0.5 µs less: a reduce's set-up costs more than an add)
        _MULTIPLY(parts, self._weight_rows, parts)
        s = _ADD(ar_w, fusion_w)
        _ADD(s, markov_w, s)
        if unseen:
            seen = self._seen_f
            _COPY(seen, window.newest_seen)
            _MULTIPLY(s, seen, s)
        return TickScore(s, _MAX_OF(s) if len(s) else 0.0, self.TYPE)

    def batch_scores(self, z: np.ndarray, missing: np.ndarray, steps: int, ts: np.ndarray | None = None,
                     chunk: int = 128) -> np.ndarray:
        """Per-sensor scores for rows p.. of a block, as score() gives them on windows of
        `steps` rows. The seasonal regressors are rebuilt from an empty profile over the block
        (as fit built them over the warm-up), leaving this one as it is (_scored_chunks)."""
        out = np.empty((max(len(z) - self.ar.p, 0), self.n))
        for at, s in self._scored_chunks(z, missing, steps, ts, chunk):
            out[at:at + len(s)] = s
        return out

    def batch_tick_scores(self, z: np.ndarray, missing: np.ndarray, steps: int, ts: np.ndarray | None = None,
                          chunk: int = 128) -> np.ndarray:
        """Each row's tick score (its worst sensor's, the max of batch_scores' row: what the threshold is
        calibrated on), without batch_scores' (rows, n) matrix, which set the run's peak RSS beside the
        warm-up's fit (perf63, perf66). A row's max is taken over the same row: the same bits."""
        out = np.empty(max(len(z) - self.ar.p, 0))
        for at, s in self._scored_chunks(z, missing, steps, ts, chunk):
            out[at:at + len(s)] = s.max(axis=1)
        return out

    def live_tick_scores(self, z: np.ndarray, missing: np.ndarray, ts: np.ndarray, start: int,
                         steps: int) -> np.ndarray:
        """The tick scores of rows `start`.. as live ticks get them: each row scored on its window, then learned
        and observed, as the Pipeline does with a calm tick. The warm-up's held-out part is calibrated on these
        (pipeline_fit.end_warmup): scored by the fitted model frozen, a plant whose operating point moved after
        the fit part (the simulator's pump, 30 min at 1 s: flow 92 → 115 m³/h in the last 9 min) scored ~60 on
        hundreds of ticks that live, learning, it scores ~1.5 after thirty, and POT's starting point, which the
        threshold never goes below, sat at 60 for good (qa45). The scorer has learned the rows when this returns."""
        buf = WindowBuffer(steps, self.n)
        for i in range(max(0, start - (steps - 1)), start):
            buf.push(z[i], missing[i], float(ts[i]))
        out = np.empty(max(len(z) - start, 0))
        for k, i in enumerate(range(start, len(z))):
            buf.push(z[i], missing[i], float(ts[i]))
            out[k] = self.score(buf).score
            self.learn(buf)
            self.observe(buf)
        return out

    def _scored_chunks(self, z: np.ndarray, missing: np.ndarray, steps: int, ts: np.ndarray | None,
                       chunk: int):
        """(row of the output, the per-sensor scores of `chunk` rows from it) in order: batch_scores and
        batch_tick_scores.

        Computed `chunk` output rows at a time: every score is a function of its row, its p lags
        and the previous steps - p - 1 residuals, so each part is scored from the rows it reads
        (the AR bias's lookback recomputed) and is the same bits as the whole day at once, while
        the day's regressors and each model's day-long temporaries (a warm-up day's arrays are
        0.4 MB each) never exist. Each chunk's scores are the caller's until it asks for the next."""
        p = self.ar.p
        fresh = SeasonalFeatures(self.n, *self.seasonal_args) if self.seasonal else None
        replayed = (None if fresh is None or ts is None      # the regressors, each row replayed once
                    else _Replayed(lambda: fresh, np.asarray(ts, float), z, missing, len(z)))
        extra = None
        for a in range(p, len(z), chunk):
            b = min(a + chunk, len(z))
            lo = max(0, a - (steps - 1))              # what row a's score reads: its p lags and the bias's
            if self.seasonal is not None:             # steps - p - 1 older residuals (each with its lags)
                extra = np.zeros((b - lo, self.n, self.seasonal.width)) if replayed is None else replayed[lo:b]
            ar = self.ar.batch_scores(z[lo:b], missing[lo:b], steps, extra)[a - lo - p:]
            s = self.combine(ar, self.markov.batch_scores(z[a - 1:b], missing[a - 1:b]),
                             self.fusion.batch_scores(z[a - 1:b], missing[a - 1:b]), out=ar)
            s[missing[a:b]] = 0.0
            yield a - p, s

    def observe(self, window: WindowBuffer) -> None:
        """Every scored tick, calm or not (the Pipeline calls it before deciding to learn): the
        Markov chain counts every transition. Learned only on calm ticks, a transition that once
        scored high was never counted again, its count decayed with forgetting, its surprise grew,
        and it alerted ever more often (on pure noise: 23 false alarms in 12 days of NAB's
        art_noisy). One anomalous transition among ~1/(1 − forgetting) counted ones changes
        little; a lasting change in how a sensor moves becomes normal, as it should."""
        key = window.newest_ts                      # (float(window.ts[-1]), kept by the window's push)
        counted = self._counted
        if key != self._tick_key:
            pending = self._pending
            if pending and pending[-1][0] == key:   # learned this tick, now observed: _defer's first
                pending[-1][4] = True               # case without its call (perf55)
            else:
                self._defer(window, key, False)
        elif counted is not None and counted[0] == key:     # the entries _next_score took
            self._counted = None
            _, flat, entries, g = counted
            mk = self.markov
            if g > 1e9:
                mk.count(flat, entries, g)
            else:                       # MarkovModel.count without its call (no rescale)
                mk.g = g
                mk._table.put(flat, entries)
        else:                           # this scorer scored the tick: its states are built
            self.markov.learn(window, self._tick[0])

    def learn(self, window: WindowBuffer) -> None:
        key = window.newest_ts                      # (float(window.ts[-1]))
        if key != self._tick_key:
            self._defer(window, key, True)
            return
        # this scorer scored the tick: AR's and fusion's features are in the joint's next slot
        if key == self._seen_key:       # _next_score's, every sensor seen (most ticks): JointRegression.learn's
            a, f = self._rls            # writes from the stacked rows, [x; x], and the validity of a tick with
            m = a._m                    # every sensor seen (no broadcast, no ~missing), the commits without a
            if f._m != m:               # call while the block is not full
                raise RuntimeError("the AR and fusion regressions are out of step")
            y, v = self._yv[m]
            _COPY(y, self._xx)
            v_all = self._v_all
            if not v_all[m]:
                _COPY(v, self._all_seen)
                v_all[m] = True
            if m + 1 < a.block:
                a._m = f._m = m + 1
            else:
                a.commit()
                f.commit()
            if self.seasonal:           # (float64: exact; every sensor seen: no mask)
                self.seasonal.learn_seen(key, self._one_x)
            return
        x = window.newest64 if self._tick_x is None else self._tick_x      # (the same bits)
        self._v_all[self.ar.rls._m] = False         # (JointRegression.learn writes that slot's validity)
        self.joint.learn(x, window.newest_seen)
        if self.seasonal:               # (float64: exact; every sensor seen: no mask)
            self.seasonal.learn(key, x, None if key == self._seen_key else window.newest_seen,
                                None if self._tick_x is None else self._one_x)

    def _learn_kept(self, window: WindowBuffer, learn: bool, observe: bool) -> None:
        """A kept tick learned and observed as if this scorer had scored it (flush)."""
        self._features(window)
        if learn:
            self.learn(window)
        if observe:
            self.observe(window)

    def _defer(self, window: WindowBuffer, key: float, learn: bool) -> None:
        """Keep this tick for flush() instead of learning it now: this scorer did not score it
        (another tier scores: nothing reads what the fallback learns until it scores, or its state
        is saved). Building the tick's features and learning them costs ~35 µs inside a tick, where
        every numpy call pays for what the rest of the tick evicted; a flush learns the same ticks
        through the same code, one after the other, at a fraction of that. `key`: float(window.ts[-1]),
        the caller's."""
        pending = self._pending
        if pending and pending[-1][0] == key:                # the tick learned, now observed (or again)
            pending[-1][3 if learn else 4] = True
            return
        if pending and float(window.ts[-2]) != pending[-1][0]:
            self.flush()                                    # not the next tick of the kept run: a new run
            pending = self._pending
        if not pending:
            self._context = (window.values[:-1].copy(), window.missing[:-1].copy(), window.ts[:-1].copy())
        k = len(pending)                                    # (< DEFERRED_TICKS: a full run is flushed below)
        values, missing = self._kept_values[k], self._kept_missing[k]
        values[...] = window.newest_values
        missing[...] = window.newest_missing
        pending.append([key, values, missing, learn, not learn])
        if len(pending) >= DEFERRED_TICKS:
            self.flush()

    def flush(self) -> None:
        """Learn and observe the kept ticks, in order, each on the window it came in (rebuilt from
        the rows before the first and the kept rows): the same calls on the same rows as learning
        each tick when it came, so the same state."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        values, missing, ts = self._context
        self._context = None
        buf = WindowBuffer(len(values) + 1, self.n)
        for v, m, t in zip(values, missing, ts):
            buf.push(v, m, float(t))
        for key, v, m, learn, observe in pending:
            buf.push(v, m, key)
            self._learn_kept(buf, learn, observe)

    def describe(self) -> dict:
        return {"tier": self.TYPE, "model_id": "numpy-ar-markov-fusion", "weights": self.weights,
                "seasonal_periods_s": self.seasonal_args[0]}

    def __deepcopy__(self, memo: dict) -> NumpyScorer:
        """A twin through the checkpoint: made as this one was, then restored from a copy of its state.
        A field-by-field deep copy would give each regression its own arrays where this scorer's
        share one layout (joint.py), so the copy would score from weights it never learns."""
        twin = type(self)(*self._made_with)
        twin.restore(copy.deepcopy(self.state_dict(), memo))
        memo[id(self)] = twin
        return twin

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        self.flush()                    # the ticks kept while another tier scored are learned first
        return {"ar": self.ar.state_dict(), "markov": self.markov.state_dict(), "fusion": self.fusion.state_dict(),
                "seasonal": self.seasonal.state_dict() if self.seasonal else None}

    def restore(self, state: dict) -> None:
        """Restore a fitted scorer. Call it on a fresh scorer: a bad state can leave it half-restored."""
        if (state.get("seasonal") is None) != (self.seasonal is None):
            raise ValueError("numpy.seasonal: the checkpoint and the config differ on the seasonal profile")
        m_ar, m_fusion = (len(state[k]["rls"]["X"]) if isinstance(state[k]["rls"]["X"], np.ndarray) else -1
                          for k in ("ar", "fusion"))
        if m_ar != m_fusion:            # they learn the same ticks: a checkpoint never has them apart
            raise ValueError(f"numpy.fusion.rls.X: {m_fusion} buffered ticks, the AR model's {m_ar}")
        self.ar.restore(state["ar"])
        self.markov.restore(state["markov"])
        self.fusion.restore(state["fusion"])
        if self.seasonal:
            self.seasonal.restore(state["seasonal"])
        self._tick_key = self._tick = self._tick_x = self._seen_key = self._counted = None
        self._v_all = [False] * self.ar.rls.block
        self._pending, self._context = [], None
