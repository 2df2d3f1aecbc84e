"""What every fault rule gets each tick, and how long a condition has held.

A rule is a small class with `KIND`, `observe(tick) -> (condition, decided)` (per-sensor bool
arrays: the fault condition holds now / has held long enough to judge the sensor faulty) and
`evidence(i, tick) -> dict` (what an operator is told). Rules that keep state beyond `Held`
also have `state()` / `restore()`. A rule that judges something slow may name a config key in
`EVERY_KEY` (seconds): the tracker then runs it (observe and learn) only every that many seconds'
worth of ticks, and builds it with `every` (that many ticks) beside the data's tick_s, so that it keeps
its durations, half-lives and counts in seconds (drift.py); in between, its last condition stands and it
decides nothing. A rule whose calm tick the tracker
can tell from the Tick alone names it in `quiet_on` (rule_quiet): the tracker then does not call it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fastnp as fnp
from .context import Normal, SensorContext


@dataclass(slots=True)
class Tick:
    """One tick as the rules see it. The tracker keeps one and sets its fields each tick: a rule
    reads it during its observe (and evidence) and keeps no reference to it."""
    ts: float
    x: np.ndarray           # raw values, NaN where missing
    observed: np.ndarray    # a fresh reading this tick (not carried forward, not missing)
    missing: np.ndarray     # no reading past the carry-forward bound
    prev: np.ndarray        # the last observed value before this tick (NaN: none yet)
    step: np.ndarray        # |x − prev| (NaN where either is)
    unchanged: np.ndarray   # step == 0: the previous value exactly (computed once a tick: stuck and learning read it)
    healthy: np.ndarray     # not judged faulty (as of the previous tick): usable as a neighbour
    kinds: list[str]        # the active fault's kind per sensor ("" when healthy)
    drifting: np.ndarray    # the active fault is a drift
    ctx: SensorContext
    normal: Normal
    above: np.ndarray       # x − the sensor's floor (computed once a tick for every rule)
    level: np.ndarray       # its normal level above the floor, max(normal.mean − floor, 0)
    low: np.ndarray         # above <= AT_FLOOR × level: at its floor (dead.py's AT_FLOOR; NaN: False)
    at_floor: np.ndarray    # observed & low
    all_healthy: bool = False   # no sensor faulty: healthy is all True, drifting all False
    all_observed: bool = False  # every sensor observed: `observed` is the tracker's shared all-True mask


_NOTHING: dict[int, np.ndarray] = {}


def nothing(n: int) -> np.ndarray:
    """A read-only all-False (n,) mask, one object per n: what a calm rule returns, so that the
    tracker can tell a calm rule's result by identity, without looking at it."""
    out = _NOTHING.get(n)
    if out is None:
        out = _NOTHING[n] = np.zeros(n, bool)
        out.flags.writeable = False
    return out


def rule_quiet(rule) -> int:
    """How the tracker tells that `rule` would return (nothing, nothing) and change nothing, without
    calling it: 0 it cannot; else while the rule's Held is idle and — 1 always, 2 the Tick's
    `missing` is the shared all-False mask (nothing(n), by identity), 3 its `at_floor` is. From the
    rule's `quiet_on`: None (the default), "always", "missing" or "at_floor"."""
    return {None: 0, "always": 1, "missing": 2, "at_floor": 3}[getattr(rule, "quiet_on", None)]


class Held:
    """How long a per-sensor condition has held: counted on ticks where the sensor was seen,
    kept as it was on ticks where it was not (a carried value neither confirms nor clears)."""
    TIME_FIELDS = ("since",)   # seconds on the time base (agent/timebase.py)

    def __init__(self, n: int, tick_s: float):
        self.tick_s = tick_s
        self.ticks = np.zeros(n, np.int64)
        self.since = np.full(n, np.nan)
        self.none_lasted = np.zeros(n)  # what update returns while nothing holds (read-only)
        self.none_lasted.flags.writeable = False
        self.nothing = nothing(n)       # no sensor: a rule's condition and decision on a calm tick
        self.idle = True                # nothing holds anywhere: ticks all 0, since all NaN

    def calm(self, cond: np.ndarray) -> bool:
        """No condition now and nothing held: update() would change nothing and every decision
        is False, so a rule may return (nothing, nothing) at once (the calm fast path)."""
        return self.idle and not fnp.count_nonzero(cond)

    def update(self, cond: np.ndarray, seen: np.ndarray, ts: float) -> np.ndarray:
        """Seconds the condition has held, including this tick (do not write to it)."""
        on = None if cond is self.nothing else seen & cond      # (nothing: no sensor on)
        if on is not None and fnp.count_nonzero(on):        # (not on.any(): a third of the cost on a few sensors)
            self.since = fnp.where(on & (self.ticks == 0), ts, fnp.where(seen & ~cond, np.nan, self.since))
            self.ticks = fnp.where(on, self.ticks + 1, fnp.where(seen, 0, self.ticks))
            self.idle = False
            return self.ticks * self.tick_s
        if self.idle:           # the common tick: nothing held before, nothing holds now
            return self.none_lasted
        # nothing holds now, so every seen sensor starts over (fewer numpy calls)
        fnp.copyto(self.since, np.nan, where=seen)
        fnp.copyto(self.ticks, 0, where=seen)
        self.idle = not fnp.count_nonzero(self.ticks) and not fnp.count_nonzero(self.since == self.since)
        return self.ticks * self.tick_s

    def started(self, k: int, since: float) -> None:
        """Sensor k's condition, decided outside update (a drift's jump back), started at `since`.
        Not idle now: the next update clears that start where the condition does not hold (an idle
        Held has no since)."""
        self.since[k] = since
        self.idle = False

    def state(self) -> dict:
        return {"ticks": self.ticks.tolist(), "since": [None if np.isnan(v) else v for v in self.since]}

    def restore(self, state: dict) -> None:
        self.ticks[:] = state["ticks"]
        self.since[:] = [np.nan if v is None else v for v in state["since"]]
        self.idle = False       # judged again on the next tick without a holding condition


class RecentMean:
    """Each sensor's mean over the last `size` ticks of the values pushed where `kept` (a ring of
    rows): the same bits as keeping the ring with NaN where not kept and summing it with NaN as 0
    over the count of finite entries, in fewer and smaller numpy calls a tick. The ring is kept
    with 0 where not kept, so the mean is one reduce; the count of finite entries per sensor is
    another (of the ring of finite marks, whole numbers: exact), made only when read, and not made
    at all while the last `size` pushes kept a finite value for every sensor (the usual ring: the
    count is then `size` everywhere). A kept value is never NaN (the rules push steps between finite
    readings); it may be ±inf, which is summed, not counted. The head moves by a push or set_rows (or
    by a whole batch of pushes skipped before `size` pushes, spike.py's _flush: the last `size` pushes
    then still fill the ring)."""

    def __init__(self, size: int, n: int):
        self.size, self.head = size, 0
        self.zeroed = np.zeros((size, n))           # the kept values, 0 elsewhere
        self.kept = np.zeros((size, n), bool)
        self.finite = np.zeros((size, n), bool)     # kept and finite: what the mean is over
        self._count: np.ndarray | None = None       # finite entries per sensor (the sum of `finite`), once read
        self._full_run = 0                          # pushes in a row that kept a finite value for every sensor
        self._size_count = np.add.reduce(np.ones((size, n), bool), axis=0)      # `size` everywhere (read-only)
        self._size_count.flags.writeable = False
        # (as float64: the same quotient as by the whole number, without an int → float cast a call)
        self._size_denom = np.maximum(self._size_count, 1).astype(np.float64)
        self._row_kept = [False] * size             # per ring row: its `kept` row is all True (not written again)
        # over_for's row order, the newest row first: for head h the rows h-1, h-2, …, 0, size-1, …, h
        # are this descending range twice over from index size - h — one slice (a view) a call, in
        # memory linear in size (one index array per head was size² entries: 0.8 GB at 10,000 ticks)
        descending = np.arange(size - 1, -1, -1)
        self._newest_twice = np.concatenate([descending, descending])

    def next_row(self) -> np.ndarray:
        """The ring row the next push writes: a caller that keeps every sensor may compute the
        values into it and push them as `push(kept, None)` (no copy)."""
        return self.zeroed[self.head]

    def push(self, kept: np.ndarray, value: np.ndarray | None) -> None:
        """`value` None: next_row() already holds the values (every sensor kept)."""
        h = self.head
        n = kept.size
        if fnp.count_nonzero(kept) == n:        # (every sensor kept: the where and the & pick every entry)
            if value is None:
                value = self.zeroed[h]
            else:
                self.zeroed[h] = value
            np.isfinite(value, out=self.finite[h])
            if not self._row_kept[h]:
                self.kept[h] = True
                self._row_kept[h] = True
        else:
            assert value is not None, "push(kept, None) needs every sensor kept"
            self.zeroed[h] = fnp.where(kept, value, 0.0)
            self.finite[h] = kept & np.isfinite(value)
            self.kept[h] = kept
            self._row_kept[h] = False
        self._full_run = self._full_run + 1 if fnp.count_nonzero(self.finite[h]) == n else 0
        self._count = None
        self.head = (h + 1) % self.size

    def seen(self) -> np.ndarray:
        """Finite entries per sensor (do not write to it)."""
        if self._count is None:
            self._count = self._size_count if self.all_seen else np.add.reduce(self.finite, axis=0)
        return self._count

    @property
    def all_seen(self) -> bool:
        """Every entry of the ring kept and finite: seen() is `size` for every sensor."""
        return self._full_run >= self.size

    def mean(self) -> np.ndarray:
        if self.all_seen:       # (max(size, 1), computed once)
            return np.add.reduce(self.zeroed, axis=0) / self._size_denom
        return np.add.reduce(self.zeroed, axis=0) / np.maximum(self.seen(), 1)

    def over_for(self, total: np.ndarray, pushes: int) -> bool:
        """Whether every sensor's sum of kept values is certain to stay over `total` (a sensor whose
        total is NaN: never) for `pushes` (< size) further pushes, whatever they push, when every
        kept value is ≥ 0 (or +inf): after them the ring still holds its size − pushes newest rows,
        and a sum of non-negative terms is never below the sum of some of them (nor, then, is the
        ring's sum now). Those rows' sum is a float sum of fewer than `size` terms, within size·2⁻⁵³
        of the real one: the caller's total carries the margin (stuck.py's _lowest_changed: 1e-11)."""
        start = self.size - self.head
        rows = self._newest_twice[start:start + self.size - pushes]
        return fnp.count_nonzero(np.add.reduce(self.zeroed[rows], axis=0) >= total) == total.size

    def rows(self) -> np.ndarray:
        """The ring as (size, n) with NaN where not kept (checkpoint form, oldest slot first as stored)."""
        return fnp.where(self.kept, self.zeroed, np.nan)

    def set_rows(self, rows: np.ndarray, head: int) -> None:
        self.kept[:] = ~np.isnan(rows)
        self.zeroed[:] = fnp.where(self.kept, rows, 0.0)
        self.finite[:] = np.isfinite(rows)
        self._row_kept = [bool(fnp.count_nonzero(k) == k.size) for k in self.kept]
        self._count = None
        self._full_run = 0          # (counted again from the next push)
        self.head = head


def names_values(tick: Tick, idx) -> dict[str, float | None]:
    """{sensor: value} for evidence, None where missing."""
    return {tick.ctx.names[j]: (None if np.isnan(tick.x[j]) else round(float(tick.x[j]), 4)) for j in idx}
