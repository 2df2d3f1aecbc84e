"""A seasonal profile per sensor (time of day, day of week), learned online from tick timestamps.

Plant and traffic data follow the clock: a morning peak, a shift change at 06:00, a quieter
weekend. A forecaster that only sees the last few ticks takes every scheduled change for a
surprise. The profile holds, for each bin of the period (e.g. the 288 five-minute bins of a
day), an exponentially weighted mean of that bin's value over the *previous* cycles (days),
and gives the AR model two regressors per period (seasonal_features):

- the profile's step s(t) − s(t−1): what the clock says the change from the last tick should be;
- the profile's deviation s(t) − x(t−1): how far the last value is from what is usual now.

The regression learns how much to trust them (about nothing on data without a cycle). A bin
knows nothing until one cycle has passed, and today's values never inform today's reference
(a bin learned within the same cycle would only be a recent mean, not a season); unknown means
both regressors are 0 and the AR model is what it was without a profile.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .. import fastnp as fnp
from ..checkpoint import array_like, array_of

if TYPE_CHECKING:
    from ..window import WindowBuffer

#: Cycles a bin must have seen before its reference is used (one day could be an odd day).
MIN_CYCLES = 2

#: How many sensors of a bin are known (SeasonalProfile.known_value).
EVERY, NONE, SOME = 1, 0, -1

#: 1.0 and 0.0 as 0-d arrays: a Python number costs numpy a conversion on every call (fastnp.const)
ONE, ZERO = fnp.const(1.0), fnp.const(0.0)

_ADD = np.add

#: At most this many bins per period (memory n × bins per period; 288 = a day in 5-min bins).
MAX_BINS = 288


class SeasonalProfile:
    """One period's profile for n sensors. Values are the agent's normalised values."""

    def __init__(self, n: int, period_s: float, tick_s: float, memory_cycles: int):
        self.period = float(period_s)
        self.bins = int(min(MAX_BINS, max(1, round(self.period / tick_s))))
        self.width = self.period / self.bins
        self.memory = int(memory_cycles)
        # (bins, n): one bin's sensors are contiguous
        self.ref = np.zeros((self.bins, n))          # EW mean over past cycles
        self.ref_n = np.zeros((self.bins, n))        # cycles folded into ref (capped at memory)
        # the bin's values in its newest cycle, counted, (bins, 2, n): a bin's [count; sum] is one (2, n)
        # row pair, so a tick with every sensor seen adds [1.0; x] to it in one call (learn's one_x)
        self._acc = np.zeros((self.bins, 2, n))
        self._one_x = np.ones((2, n))                # [1.0; x] when the caller has none (learn: x copied into row 1)
        self.acc_cycle = np.full(self.bins, -1, dtype=np.int64)
        self._how = [NONE] * self.bins              # per bin: how many sensors' ref_n ≥ MIN_CYCLES
        self._known_as = {EVERY: np.ones(n, bool), NONE: np.zeros(n, bool)}
        for mask in self._known_as.values():
            mask.flags.writeable = False
        # [bin, ref, ref_n, how many known or None] of the last _folded(): a tick's row reads its bin
        # folded (value_in) and learning the same tick folds it in; nothing changes a bin's arrays but
        # learn() (which forgets it) and restore(), so the second fold is the first's arrays
        self._fold: list | None = None
        # (at, the bin's [count; sum] view) of the last learned tick, whose bin's newest cycle was then at's:
        # the next tick given the same `at` object (SeasonalFeatures.row()'s, kept while the bins stay) is
        # in that bin and cycle, so it adds [1.0; x] there without locate(), the cycle's checks or the view
        # made again (~0.5 µs a learned tick). Forgotten where acc_cycle changes otherwise (shift_time,
        # restore); a copy's view is detached from its _acc (a deep copy), which the `base` check sees.
        self._into: tuple | None = None

    @property
    def acc_sum(self) -> np.ndarray:
        """(bins, n): each bin's sum of values in its newest cycle (a view of the [count; sum] rows)."""
        return self._acc[:, 1]

    @property
    def acc_n(self) -> np.ndarray:
        """(bins, n): how many values each bin's sum holds (a view of the [count; sum] rows)."""
        return self._acc[:, 0]

    def shift_time(self, delta: float) -> None:
        """The time base moved by `delta` s (agent/timebase.py): the bins' newest cycles move by whole
        cycles, one more rather than one fewer — on the old ones a step back left every bin's ticks
        'older than its newest cycle', unlearned for as long as the step."""
        dc = math.floor(delta / self.period)
        self.acc_cycle = np.where(self.acc_cycle >= 0, self.acc_cycle + dc, self.acc_cycle)
        self._fold = self._into = None

    def locate(self, ts: float) -> tuple[int, int]:
        """(bin, cycle) of a timestamp."""
        cycle = math.floor(ts / self.period)
        return int((ts - cycle * self.period) // self.width) % self.bins, int(cycle)

    def _folded(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(ref, ref_n) of bin b with its pending cycle folded in (new arrays; read-only)."""
        fold = self._fold
        if fold is not None and fold[0] == b:
            return fold[1], fold[2]
        acc_n, ref_b = self.acc_n[b], self.ref[b]
        n_after = np.minimum(self.ref_n[b] + 1, self.memory)
        if fnp.count_nonzero(acc_n) == len(acc_n):      # every sensor seen in the cycle (acc_n ≥ 0):
            ref = ref_b + (self.acc_sum[b] / acc_n - ref_b) / n_after   # the where()s would pick these
        else:
            pending = acc_n > 0
            mean = np.divide(self.acc_sum[b], acc_n, out=np.zeros(self.ref.shape[1]), where=pending)
            ref = np.where(pending, ref_b + (mean - ref_b) / n_after, ref_b)
            n_after = np.where(pending, n_after, self.ref_n[b])
        ref.flags.writeable = n_after.flags.writeable = False      # (a row's kept values may be these)
        self._fold = [b, ref, n_after, None]
        return ref, n_after

    def value(self, ts: float) -> tuple[np.ndarray, np.ndarray]:
        """(value, known) per sensor at ts: the bin's mean over cycles before ts's cycle."""
        return self.value_in(*self.locate(ts))

    def value_in(self, b: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        """value() of bin b in cycle c."""
        if 0 <= self.acc_cycle[b] < c:
            ref, ref_n = self._folded(b)
        else:
            ref, ref_n = self.ref[b], self.ref_n[b]
        return ref, ref_n >= MIN_CYCLES

    def known_value(self, b: int, c: int) -> tuple[np.ndarray, np.ndarray, int]:
        """value_in(), and how many sensors are known: EVERY, NONE or SOME (the first two are
        the usual cases, before and after MIN_CYCLES: no mask to apply)."""
        if 0 <= self.acc_cycle[b] < c or self._how[b] == SOME:
            ref, known = self.value_in(b, c)
            how = self._how_many(known)
            fold = self._fold
            if fold is not None and fold[1] is ref:     # (the fold's: learn() reads it there)
                fold[3] = how
            return ref, known, how
        return self.ref[b], self._known_as[self._how[b]], self._how[b]

    @staticmethod
    def _how_many(known: np.ndarray) -> int:
        count = fnp.count_nonzero(known)
        return EVERY if count == len(known) else NONE if count == 0 else SOME

    def state_dict(self) -> dict:
        return {"ref": self.ref, "ref_n": self.ref_n, "acc_sum": self.acc_sum, "acc_n": self.acc_n,
                "acc_cycle": self.acc_cycle}

    def restore(self, state: dict, name: str) -> None:
        """Validates everything before changing anything (agent/checkpoint.py)."""
        new = {k: array_like(state[k], getattr(self, k), f"{name}.{k}")
               for k in ("ref", "ref_n", "acc_sum", "acc_n", "acc_cycle")}
        self.acc_sum[...], self.acc_n[...] = new.pop("acc_sum"), new.pop("acc_n")     # into the [count; sum] rows
        for k, v in new.items():
            setattr(self, k, v)
        self._how = [self._how_many(known) for known in self.ref_n >= MIN_CYCLES]
        self._fold = self._into = None

    def learn(self, ts: float, x: np.ndarray, valid: np.ndarray | None, at: tuple[int, int] | None = None,
              one_x: np.ndarray | None = None) -> None:
        """`valid`: the sensors whose value is learned (None: every sensor); `at`: locate(ts), when known;
        `one_x`: [1.0; x] as a (2, n) array, when the caller has it (SeasonalFeatures.learn)."""
        into = self._into
        if into is not None and into[0] is at and valid is None and one_x is not None and into[1].base is self._acc:
            self._fold = None                       # (_into: the same bin and cycle as the last learned tick)
            _ADD(into[1], one_x, into[1])
            return
        self._into = None
        b, c = self.locate(ts) if at is None else at
        cycle = self.acc_cycle.item(b)              # (a Python int: compared ~0.1 µs cheaper than an np.int64)
        if c < cycle:
            return                                  # a tick older than the bin's newest cycle
        acc = self._acc[b]
        if at is not None:
            self._into = (at, acc)                  # (bin b's newest cycle is c from here on)
        if c > cycle:
            if cycle >= 0:
                self.ref[b], self.ref_n[b] = self._folded(b)
                how = self._fold[3]
                self._how[b] = self._how_many(self.ref_n[b] >= MIN_CYCLES) if how is None else how
            self.acc_cycle[b] = c
            self._fold = None
            if valid is None:       # the cycle's first value of every sensor: 0.0 + [1.0; x] (x but for −0.0)
                np.add(ZERO, self._one_and(x, one_x), out=acc)
                return
            acc[...] = 0.0
        self._fold = None                           # bin b changes (and the fold is in ref now)
        # [count; sum] += [1.0; x], in place
        if valid is None:           # every sensor valid: no mask
            _ADD(acc, self._one_and(x, one_x), acc)
        else:                       # where(valid, [1.0; x], 0.0) added: a count or sum + 0.0 is itself (never −0.0)
            _ADD(acc, self._one_and(x, one_x), out=acc, where=valid)

    def _one_and(self, x: np.ndarray, one_x: np.ndarray | None) -> np.ndarray:
        """[1.0; x], (2, n): `one_x` when the caller has it, else x copied into a kept one (float64: exact;
        a new array a learned tick left the demo's peak RSS ~0.5 MiB higher)."""
        if one_x is not None:
            return one_x
        fnp.copyto(self._one_x[1], x)
        return self._one_x


class SeasonalFeatures:
    """The AR model's seasonal regressors, 2 per profile, for each tick; remembered by tick time
    so a window's older rows keep the features they were scored with."""

    def __init__(self, n: int, periods_s: list[float], tick_s: float, memory_cycles: int, keep: int):
        self.profiles = [SeasonalProfile(n, p, tick_s, memory_cycles) for p in periods_s]
        self.n = n
        self.width = 2 * len(self.profiles)
        self.keep = keep
        self._by_ts: dict[float, np.ndarray] = {}
        self._last: bytes | None = None               # the previous window's tick times, as bytes
        # [ts, [((bin, cycle), value, known, how many known) per profile], lo, hi, none known] of the
        # newest row built: the next tick's row reads the profiles at its previous tick, which is that
        # one (see row()); a tick strictly inside (lo, hi) is in the same bin and cycle of every profile
        # (located once per bin change, not per tick), and where no profile knows a sensor its row is 0.
        # A list whose tick time the next tick in the same bins writes in place (no one keeps it)
        self._values_at: list | None = None
        self._unknown = np.zeros((n, self.width))      # that row, shared (read-only, as newest()'s are)
        self._unknown.flags.writeable = False
        self._ring = np.zeros((0, n, self.width))      # its rows' features, doubled (as WindowBuffer)
        self._head = 0

    def row(self, ts: float, prev_ts: float, prev_x: np.ndarray) -> np.ndarray:
        """(n, width) regressors of the tick at ts, whose previous tick was prev_ts with values prev_x.

        The profiles' values at prev_ts are the ones read for the row before when that row was
        the tick at prev_ts: since then at most that tick was learned (learn() forgets them
        otherwise), and learning a tick leaves the profiles' value at it as it was (a pending
        cycle it folds in is the one value() folded in already), so they are the same bits."""
        kept = self._values_at
        if kept is not None and kept[0] == prev_ts:
            if kept[2] < ts < kept[3]:          # the same bins as prev_ts's (most ticks): no locate()
                if kept[4]:                     # no sensor known: the steps and deviations are 0
                    kept[0] = ts
                    return self._unknown
                return self._same_bins(ts, prev_x, kept, np.zeros((self.n, self.width)))
            before_all = kept[1]
        else:
            before_all = None
        out = np.zeros((self.n, self.width))
        if not (math.isfinite(ts) and math.isfinite(prev_ts)):
            return out
        ats = [profile.locate(ts) for profile in self.profiles]
        if before_all is not None and all(at == before[0] for at, before in zip(ats, before_all)):
            return self._same_bins(ts, prev_x, kept, out)   # (at the margin of the bins' span)
        values = []
        lo, hi, none = -math.inf, math.inf, True
        for j, (profile, at) in enumerate(zip(self.profiles, ats)):
            now, known_now, how_now = profile.known_value(*at)
            if before_all is None:
                before_at = profile.locate(prev_ts)
                before, known_before, how_before = profile.known_value(*before_at)
            else:
                before_at, before, known_before, how_before = before_all[j]
            # where(known, a, 0.0) is a itself where every sensor is known, and the zeros `out`
            # holds where none is: the same bits in fewer calls
            if before_at == at or how_now == NONE or how_before == NONE:
                pass                        # the same bin in the same cycle: the same value, a step of +0.0
            elif how_now == EVERY and how_before == EVERY:
                np.subtract(now, before, out=out[:, 2 * j])
            else:
                out[:, 2 * j] = fnp.where(known_now & known_before, now - before, 0.0)
            if how_now == EVERY:
                np.subtract(now, prev_x, out=out[:, 2 * j + 1])
            elif how_now == SOME:
                out[:, 2 * j + 1] = fnp.where(known_now, now - prev_x, 0.0)
            values.append((at, now, known_now, how_now))
            none = none and how_now == NONE
            # the bin's span, less a margin for locate()'s rounding: inside it, locate() gives `at`
            start = at[1] * profile.period + at[0] * profile.width
            margin = 1e-6 * profile.width + 1e-12 * abs(ts)
            lo, hi = max(lo, start + margin), min(hi, start + profile.width - margin)
        self._values_at = [ts, values, lo, hi, none]
        return out

    def _same_bins(self, ts: float, prev_x: np.ndarray, kept: list, out: np.ndarray) -> np.ndarray:
        """row() of a tick in the same bin and cycle of every profile as its previous tick (most ticks;
        `kept`: that tick's _values_at): the profiles' values at both are the ones read for the
        previous row (see row()), so the steps are +0.0 (what `out` holds) and the deviations are
        those values less prev_x."""
        for j, (_, now, known, how) in enumerate(kept[1]):
            if how == EVERY:
                np.subtract(now, prev_x, out=out[:, 2 * j + 1])
            elif how == SOME:
                out[:, 2 * j + 1] = fnp.where(known, now - prev_x, 0.0)
        kept[0] = ts
        return out

    def newest(self, window: WindowBuffer) -> np.ndarray:
        """window(window)[-1], without the window's other rows (what a tick needs unless the AR
        model rebuilds its kept residuals): built once per tick and remembered by tick time, as
        window() builds and remembers it. Read-only."""
        ts = window.ts
        return self.newest_at(float(ts[-1]), ts, window.values)

    def newest_at(self, key: float, ts: np.ndarray, values: np.ndarray, prev: float | None = None) -> np.ndarray:
        """newest() of a window's tick times `ts` (the newest `key`, as a float) and rows `values`, for a
        caller that has read them (the numpy fallback's next tick); `prev`: ts[-2] as a float, when the
        caller has it."""
        by_ts = self._by_ts
        feats = by_ts.get(key)
        if feats is not None:
            return feats
        kept = self._values_at
        if prev is not None and kept is not None and kept[4] and kept[0] == prev and kept[2] < key < kept[3]:
            kept[0] = key                             # row()'s first return, without its call: no sensor
            feats = by_ts[key] = self._unknown        # known, the same bins as prev's (key is finite)
        elif len(ts) < 2 or not math.isfinite(key):
            return np.zeros((self.n, self.width))     # no previous row to build from: unknown (0)
        else:
            feats = by_ts[key] = self.row(key, float(ts[-2]) if prev is None else prev, values[-2])
        if len(by_ts) > self.keep:                  # (_forget_oldest(): one row came, one goes)
            del by_ts[next(iter(by_ts))]
        return feats

    def window(self, window: WindowBuffer) -> np.ndarray:
        """(T, n, width) regressors of every row of the window (each row built once, when its
        tick is the newest, here or by newest())."""
        ts, values = window.ts, window.values
        T = len(ts)
        last, stamp, size = self._last, ts.tobytes(), ts.itemsize
        # The same tick times, NaN included, compared as bytes (array_equal(equal_nan=True) costs ~10 µs).
        if last is not None and len(last) == len(stamp) and last[size:] == stamp[:-size]:
            self._head = (self._head + 1) % T             # one tick on: the ring moves one row, one new row
            start = T - 1
        else:
            self._ring = np.zeros((2 * T, self.n, self.width))
            self._head = 0
            start = 0
        h = self._head
        out = self._ring[h:h + T]
        for i in range(start, T):
            key = float(ts[i])
            feats = self._by_ts.get(key)
            if feats is None:
                if i == 0 or not math.isfinite(key):
                    feats = 0.0                         # no previous row to build from: unknown (0)
                else:
                    feats = self._by_ts[key] = self.row(key, float(ts[i - 1]), values[i - 1])
            self._ring[(h + i) % T] = feats
            self._ring[(h + i) % T + T] = feats
        self._forget_oldest()
        self._last = stamp
        return out

    def _forget_oldest(self) -> None:
        """Keep the rows of the newest `keep` ticks only (the oldest first: insertion order)."""
        by_ts = self._by_ts
        for _ in range(len(by_ts) - self.keep):
            del by_ts[next(iter(by_ts))]

    def learn(self, ts: float, x: np.ndarray, valid: np.ndarray | None, one_x: np.ndarray | None = None) -> None:
        """`valid`: the sensors whose value is learned (None: every sensor); `one_x`: [1.0; x] as a (2, n)
        array when the caller keeps one (the numpy fallback's next tick: two rows of its stacked rows)."""
        kept = self._values_at
        if kept is not None and kept[0] != ts:
            self._values_at = kept = None           # row() may reuse them only across learning their own tick
        if valid is not None and fnp.count_nonzero(valid) == valid.size:
            valid = None                            # (every sensor: no mask to apply)
        for j, profile in enumerate(self.profiles):   # each profile's (bin, cycle) of ts: row() located it
            profile.learn(ts, x, valid, None if kept is None else kept[1][j][0], one_x)

    def learn_seen(self, ts: float, one_x: np.ndarray) -> None:
        """learn(ts, x, None, one_x), one_x = [1.0; x], for a tick with every sensor seen whose row row()
        built (the numpy fallback's next tick): with one profile whose last learned tick was in ts's bin
        and cycle (SeasonalProfile._into, the same `at` object), the add into that bin's [count; sum] and
        nothing else — learn()'s checks, its loop and the profile's call cost ~3× the add (~1 µs)."""
        kept = self._values_at
        if kept is not None and kept[0] == ts and len(kept[1]) == 1:
            profile = self.profiles[0]
            into = profile._into
            if into is not None and into[0] is kept[1][0][0] and into[1].base is profile._acc:
                profile._fold = None
                _ADD(into[1], one_x, into[1])
                return
        self.learn(ts, one_x[1], None, one_x)

    def state_dict(self) -> dict:
        keys = list(self._by_ts)
        return {"profiles": [p.state_dict() for p in self.profiles], "ts": np.array(keys, np.float64),
                "features": np.array([self._by_ts[k] for k in keys], np.float64).reshape(-1, self.n, self.width)}

    def restore(self, state: dict) -> None:
        """Resume from state_dict() (agent/checkpoint.py); ValueError naming the key when it does not fit."""
        profiles = state["profiles"]
        if not isinstance(profiles, list) or len(profiles) != len(self.profiles):
            raise ValueError(f"numpy.seasonal.profiles: expected {len(self.profiles)}")
        ts = array_of(state["ts"], "numpy.seasonal.ts", np.float64, 1)
        feats = array_of(state["features"], "numpy.seasonal.features", np.float64, 3, self.n)
        if feats.shape[1:] != (self.n, self.width) or len(feats) != len(ts) or len(ts) > self.keep:
            raise ValueError(f"numpy.seasonal.features: shape {feats.shape} does not fit {len(ts)} ticks "
                             f"of ({self.n}, {self.width})")
        for i, (profile, st) in enumerate(zip(self.profiles, profiles)):
            profile.restore(st, f"numpy.seasonal.profiles[{i}]")
        self._by_ts = {float(t): f for t, f in zip(ts, feats)}
        self._last = self._values_at = None

    def replay(self, ts: np.ndarray, z: np.ndarray, missing: np.ndarray, start: int = 0,
               stop: int | None = None) -> np.ndarray:
        """(m, n, width) regressors of a block of consecutive ticks, each built before the tick is
        learned, as online; the profiles learn every observed value. Remembers the block's rows.
        `start`, `stop`: only rows start..stop-1 of the arrays (row start-1 is their previous tick),
        so a day can be replayed a part at a time (the fallback's calibration, in blocks of rows)."""
        stop = len(ts) if stop is None else stop
        out = np.zeros((stop - start, self.n, self.width))
        for i in range(start, stop):
            if i > 0:
                out[i - start] = self.row(float(ts[i]), float(ts[i - 1]), z[i - 1])
            self.learn(float(ts[i]), z[i], ~missing[i])
        # copies: a view of a row would keep the whole block's array alive (megabytes after warm-up)
        self._by_ts = {float(t): out[i].copy() for i, t in enumerate(ts[start:stop][-self.keep:],
                                                                     len(out) - min(len(out), self.keep))}
        self._last = self._values_at = None
        return out
