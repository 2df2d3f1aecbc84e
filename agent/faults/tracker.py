"""FaultTracker: rule conditions → candidates → decided faults → events, and the mask.

Each tick every rule says, per sensor, whether its condition holds now and whether it has held
long enough. A sensor whose condition holds but is not yet decided is a *candidate* (alerts it
drives alone wait: holdback.py); the first rule, in RULES order, that decides makes the sensor
*faulty* (a `fault` event). A faulty sensor is masked — its readings reach neither the model
nor the fallback, as if missing — until its condition has been gone for `clear_s` (a
`fault_end` event); an outage of a whole source (its `source` fault, faults/source.py) ends on the first tick
its readings are back, while a lone sensor's `missing` keeps `clear_s` (faults11). Back from a fault, a sensor is fed to the scorers again but its own score
is quietened for `reentry_ticks` (the window length): until its gap has left the window, its
lags and residual history describe the gap, not the process. Normal behaviour is learned only from sensors that are healthy and not
candidates, so a fault is never learned as normal.

Fault ids are <node>-<sensor>-<start>-<life>: `life` is random per agent life (as alert ids'), so
a fault raised again after a restart from an older state never reuses an id subscribers already
de-duplicated; an open fault keeps its id across a restart (it is in the checkpoint and in the
fault journal, agent/checkpoint.py) so its fault_end matches its fault.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from .. import fastnp as fnp
from ..json_safe import json_safe
from ..scorers.base import TickScore, tick_score
from ..window import Row
from .config import FaultConfig
from .context import SIZE_SHARE, Normal, SensorContext
from .dead import AT_FLOOR, Dead
from .drift import Drift
from .events import KINDS, FaultEvent, id_stamp
from .holdback import HoldBack
from .implausible import Implausible
from .missing import Missing
from .never_varied import NeverVaried
from .out_of_range import OutOfRange
from .rule import Held, Tick, nothing, rule_quiet
from .source import SourceFaults, SourceMap
from .spike import Spike
from .station import StationFaults
from .stuck import Stuck

_ZERO, _AT_FLOOR = fnp.const(0.0), fnp.const(AT_FLOOR)     # (per-tick operands: fastnp.const)
# A reading over Normal's size floor (max(SIZE_SHARE × |mean|, tiny)) is over AT_FLOOR × its level (max(mean, 0))
# when AT_FLOOR ≤ SIZE_SHARE: the products are rounded monotonically and the level is at most |mean| (observe).
assert AT_FLOOR <= SIZE_SHARE
# The per-tick arithmetic by its ufuncs, not the operators: `a <= b` goes through the array's Python
# comparison before the same ufunc (~0.1 µs a call at 18 sensors; perf55). The same values, bit for bit.
_LESS_EQUAL, _MULTIPLY, _SUBTRACT, _ABS, _AND, _NOT = (np.less_equal, np.multiply, np.subtract, np.absolute,
                                                      np.bitwise_and, np.logical_not)
RULES = (Missing, OutOfRange, Dead, Stuck, NeverVaried, Implausible, Drift, Spike)      # first to decide names the fault
END_SUMMARY = {"shutdown": "agent stopped: its input ended",
               "restart": "agent restarted without the state to judge it (no usable checkpoint)"}


class FaultTracker:
    TIME_FIELDS = ("start", "now", "now_prev")   # seconds on the time base (agent/timebase.py)

    def __init__(self, specs, topology: str, tick_s: float, cfg: FaultConfig, node: str = "", site: str = "",
                 reentry_ticks: int = 0, sources: SourceMap | None = None, carry_forward_s: float = 0.0):
        """`sources`: which config source carries each sensor (faults/source.py: a source's outage is
        told as one fault); None: every fault is told per sensor. `carry_forward_s` (window.carry_forward_s): how
        long a sensor with no reading yet may be silent from the first tick before it counts as missing
        (faults/missing.py)."""
        self.cfg = cfg
        self.reentry_ticks = reentry_ticks
        self.tick_s = tick_s
        self.node, self.site = node, site
        self.ctx = SensorContext(specs, topology)
        self.names = self.ctx.names
        self.index = {name: i for i, name in enumerate(self.names)}
        n = self.ctx.n
        self.normal = Normal(n, cfg.learn_s / tick_s)
        # Every floor +0.0 (the usual): x − floor is x, bit for bit, and is not computed a tick.
        self._zero_floor = not (fnp.count_nonzero(self.ctx.floor) or np.signbit(self.ctx.floor).any())
        # Each rule's cadence in ticks (EVERY_KEY, rule.py): it sees one tick in `every`, and is told so.
        self.every = [_every(cfg, rule, tick_s) for rule in RULES] if cfg.enabled else []
        self.rules = [rule(cfg, self.ctx, tick_s, every=k) if hasattr(rule, "EVERY_KEY")
                      else rule(cfg, self.ctx, tick_s, unseen_grace_s=carry_forward_s) if rule is Missing
                      else rule(cfg, self.ctx, tick_s)
                      for rule, k in zip(RULES, self.every)] if cfg.enabled else []
        self._learners = [(r, rule) for r, rule in enumerate(self.rules) if hasattr(rule, "learn")]
        self._rule_kinds = [rule.KIND for rule in self.rules]
        # A rule's last (cond, decided): what stands between its runs (a cadence rule's condition is
        # checkpointed with the drift block below: a restart goes on as the run it continues; perf40).
        self._last = [(np.zeros(n, bool), np.zeros(n, bool)) for _ in self.rules]
        self._none = nothing(n)
        self._floor_at = np.empty(n)                # observe's AT_FLOOR × level (a scratch row: compared at once)
        self._level = np.empty(n)                   # observe's level (Tick.level), written by each call
        self._calm = (self._none, self._none)       # a calm rule's result
        self._plan = [(rule, rule_quiet(rule)) for rule in self.rules]
        self._every = ~self._none                   # every sensor (read-only): a tick's `observed` when none is missing or carried
        self._every.flags.writeable = False
        self._prev_all = False                      # prev holds a reading for every sensor (it then always will)
        self._ran = [True] * len(self.rules)
        self._every_tick = all(k == 1 for k in self.every)      # no cadence: every rule runs every tick
        # Drift on a cadence is fed the block's mean row (each sensor's mean of its observed readings since
        # its last run): the sums and counts of the block so far (None: drift runs every tick).
        k = self.every[RULES.index(Drift)] if self.every else 1
        self._block = (np.zeros(n), np.zeros(n)) if k > 1 else None
        self.kind = [""] * n                       # the active fault's kind, "" when healthy (set: _kinds_changed)
        self.ids = [""] * n                        # the active fault's fault_id
        self.was: list[tuple[str, ...]] = [()] * n  # the kinds the active fault had before it was handed over (faults14)
        self.life = os.urandom(3).hex()
        self.sources = SourceFaults(sources, cfg.clear_s, cfg.learn_s)       # open source faults (consulted only as faults start or end)
        self.stations = StationFaults()            # open station faults (likewise: faults/station.py)
        self.start = np.full(n, np.nan)
        self.clear = Held(n, tick_s)               # how long the active fault's condition has been gone
        self.candidate = np.zeros(n, bool)
        self.reentry = np.zeros(n, np.int64)       # ticks left before a sensor back from a fault scores again
        self._reentering = False                   # some sensor's reentry is left (kept with it: no count a tick)
        self.prev = np.full(n, np.nan)              # last observed value
        self.learnable_prev = np.zeros(n, bool)    # …and whether it was learned as normal
        self.raised = {k: 0 for k in KINDS}
        self.held_alerts = 0                       # ticks an alert opening was held back
        self.holdback = HoldBack(tick_s, cfg.holdback_s, cfg.drift_holdback_s, cfg.lone_holdback_s, cfg.lone_corroborate)
        self._drift, self._spike = RULES.index(Drift), RULES.index(Spike)
        self.now = self.now_prev = float("nan")     # the last observed tick's time, and the one before
        # What the rules get each tick: one Tick, its fields set by observe (fewer µs than a new one),
        # the context, the normal behaviour and prev (updated in place) set once, and what follows
        # from the faults (healthy, kinds, drifting) set on the first tick after they change (_kinds_changed).
        self._kinds_changed()
        none = self._none
        self._tick = Tick(ts=self.now, x=self.prev, observed=none, missing=none, prev=self.prev, step=self.prev, unchanged=none,
                          healthy=self._healthy, kinds=self._kinds, drifting=self._drifting, ctx=self.ctx,
                          normal=self.normal, above=self.prev, level=self.prev, low=none, at_floor=none)

    def _kinds_changed(self, changed: list[int] | None = None) -> None:
        """Per-sensor arrays derived from `kind`, rebuilt only when a fault starts or ends: as new
        arrays (what a tick already holds stays as it was), whole or (`changed`) at those sensors."""
        if changed is None:
            self._faulty = np.array([k != "" for k in self.kind], bool)
            self._drifting = np.array([k == "drift" for k in self.kind], bool)
        else:
            self._faulty, self._drifting = self._faulty.copy(), self._drifting.copy()
            for i in changed:
                self._faulty[i], self._drifting[i] = self.kind[i] != "", self.kind[i] == "drift"
        self._healthy = ~self._faulty
        self._any_faulty = bool(fnp.count_nonzero(self._faulty))
        self._kinds = tuple(self.kind)
        self._kinds_new = True                      # (the next tick's Tick takes them: observe)

    # -- per tick -------------------------------------------------------------------------------

    @property
    def faulty(self) -> np.ndarray:
        return self._faulty.copy()

    def observe(self, row: Row) -> list[FaultEvent]:
        if not self.rules:
            return []
        x, ctx, normal = row.values, self.ctx, self.normal
        if fnp.count_nonzero(row.missing) or fnp.count_nonzero(row.carried):
            observed = ~(row.missing | row.carried)
            all_observed = fnp.count_nonzero(observed) == observed.size
            missing = row.missing
        else:                       # (the usual tick: the shared all-True mask, no new array; none missing)
            observed, all_observed, missing = self._every, True, self._none
        self.now_prev, self.now = self.now, row.ts
        if self._reentering:
            np.maximum(self.reentry - 1, 0, out=self.reentry)
            self._reentering = bool(fnp.count_nonzero(self.reentry))
        faulty, any_faulty = self._faulty, self._any_faulty
        if self._zero_floor:        # (the level into its kept row: the rules read it within this call only; perf65)
            above, level = x, np.maximum(normal.mean, _ZERO, out=self._level)   # (out by keyword: by position, warns)
        else:
            above, level = x - ctx.floor, np.maximum(normal.mean - ctx.floor, _ZERO)
        # at its floor: dead, implausible and learning read it (the floor's share of the level in a scratch row; perf65).
        # Every reading over Normal's size floor (the usual tick): none is (the assert above) — one comparison that
        # also spares relative_step its divisor this tick (Normal.above_size; perf76). With a floor not zero, x − floor
        # is compared: always tested.
        if self._zero_floor and normal.above_size(x):
            low = self._none
        else:
            low = _LESS_EQUAL(above, _MULTIPLY(_AT_FLOOR, level, self._floor_at))
        t = self._tick
        t.ts = row.ts
        t.x = x
        t.observed = observed
        t.missing = missing
        t.step = step = _SUBTRACT(x, self.prev)
        _ABS(step, step)            # (|x − prev| in the difference's own array)
        t.unchanged = _NOT(step)    # (step == 0: NaN is not, −0.0 is)
        if self._kinds_new:         # (a fault started or ended since the last tick: the tick sees it from now)
            t.healthy, t.kinds, t.drifting, self._kinds_new = self._healthy, self._kinds, self._drifting, False
        t.above = above
        t.level = level
        t.low = low
        t.at_floor = _AND(observed, low) if low is not self._none and fnp.count_nonzero(low) \
            else self._none     # (none low: the shared all-False)
        t.all_healthy = not any_faulty
        t.all_observed = all_observed
        # A rule the Tick says is calm (rule.rule_quiet) is not called: its (nothing, nothing).
        # (rule_quiet's 0–3 as an index into whether each holds this tick: one lookup a rule; perf65)
        calm, quiet = self._calm, (False, True, missing is self._none, t.at_floor is self._none)
        if self._every_tick:
            self._last = results = [calm if quiet[q] and rule.held.idle else rule.observe(t) for rule, q in self._plan]
        else:
            slot = round(row.ts / self.tick_s)        # the tick's number: cadences follow the clock, not a counter
            self._ran = ran = [k == 1 or slot % k == 0 for k in self.every]
            # (the calm rules skipped as on every tick: before perf77 a cadence called each of them, ~30 µs mean
            # at 10-ms ticks — missing's observe alone)
            results = []
            for r, (rule, q) in enumerate(self._plan):
                if r == self._drift and self._block is not None:
                    results.append(None)            # (after the others: _drift_block)
                elif ran[r]:
                    self._last[r] = out = calm if quiet[q] and rule.held.idle else rule.observe(t)
                    results.append(out)
                else:
                    results.append((self._last[r][0], self._none))
            if self._block is not None:
                results[self._drift] = self._drift_block(t, results[self._spike])
        # A spike that ends a drift is the drift's (ramp.py's jump back: Drift comes first, it names it).
        spiked = results[self._spike][1] if self.rules else self._none
        if spiked is not self._none and self._ran[self._drift] and fnp.count_nonzero(spiked):
            back = self.rules[self._drift].claim(spiked, self._healthy, row.ts)
            if back is not None:
                results[self._drift] = tuple(m | back for m in results[self._drift])
        # A calm rule returns the shared all-False mask (rule.nothing): only the others are looked at.
        none = self._none
        busy, decided = [], False
        for c, d in results:
            if c is not none:
                busy.append(c)
            if d is not none and not decided and fnp.count_nonzero(d):
                decided = True
        # Nothing faulty: nothing to clear, and the clear timer sees no sensor (it would not change).
        events = self._end_cleared(t, results, faulty, observed) if any_faulty else []
        if decided:
            events += self._start_decided(t, np.array([d for _, d in results]))
        # (faulty as of now: a fault that started or ended this tick counts)
        healthy = self._healthy if self._any_faulty else None
        # A candidate whose reading did not come this tick (carried forward, missing) is still one: no rule had
        # new evidence (a frozen OPC UA value is re-sent late now and then: on such a tick it was no suspect, and
        # the alert it drove opened there without waiting for its `stuck`; faults3)
        now = _union(busy, none, healthy) if busy else none     # (no rule's mask, every sensor observed: no calls)
        self.candidate = now if all_observed else _kept(self.candidate, now, observed, all_observed, healthy)
        self._learn(t, self._any_faulty, all_observed)
        if all_observed:            # (the where would pick every entry)
            self.prev[...] = x
            self._prev_all = True
        else:
            fnp.copyto(self.prev, x, where=observed)
        return events

    def _drift_block(self, t: Tick, spike: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Drift on a cadence of k ticks, run on the block's mean row: the k readings' mean keeps a
        departure's size where the k-th row alone shrinks it (perf36: 0.71× at k = 2). A jump back ends a
        drift on one tick: on a tick a sensor jumps alone (the spike rule's condition or decision), or an open
        relation returns on this tick's own reading against the last one's (relation.rel_returned), while
        drift may claim a jump back (a sensor past half its limit, an open relation), the block before it is
        run (on the last tick's time, with its learning) and then this tick's row alone, so the jump falls
        between two runs and is judged as at k = 1, not smeared over a block's mean (perf35: named a spike).
        The block then starts over."""
        r, drift = self._drift, self.rules[self._drift]
        total, count = self._block
        ran = self._ran[r]
        none = self._none
        jumped = drift.may_claim and (
            ((spike[0] is not none or spike[1] is not none)
             and bool(fnp.count_nonzero(spike[0]) or fnp.count_nonzero(spike[1])))
            or drift.rel_returned(t.x, self.prev))
        if jumped and fnp.count_nonzero(count):
            drift.partial = True
            self._run_block(t, drift, self.now_prev)
            drift.partial = False
            drift.learn(self.learnable_prev & self._healthy)
        if jumped:
            total[...], count[...] = 0.0, 0.0
        obs = t.observed
        np.add(total, fnp.where(obs, t.x, 0.0), out=total)
        count += obs
        if not (ran or jumped):
            return self._last[r][0], self._none
        self._ran[r] = True                     # (claimed and learned this tick)
        self._last[r] = out = self._run_block(t, drift, t.ts)
        return out

    def _run_block(self, t: Tick, drift: Drift, ts: float) -> tuple[np.ndarray, np.ndarray]:
        """Drift's observe on the block's mean row (a sensor observed once in it is observed), at `ts`;
        the block is emptied."""
        total, count = self._block
        seen = count > 0
        mean = fnp.where(seen, total / np.maximum(count, 1.0), np.nan)
        saved = t.x, t.observed, t.all_observed, t.ts
        t.x, t.observed, t.all_observed, t.ts = mean, seen, bool(fnp.count_nonzero(seen) == seen.size), ts
        try:
            return drift.observe(t)
        finally:
            t.x, t.observed, t.all_observed, t.ts = saved
            total[...], count[...] = 0.0, 0.0

    def _end_cleared(self, t: Tick, results: list, faulty: np.ndarray, observed: np.ndarray) -> list[FaultEvent]:
        """`results`: each rule's (condition, decided) this tick; a fault holds while its rule's condition does. One
        whose condition has been gone `clear_s` while another rule judges its sensor faulty on this tick goes on
        under that rule (`_hand_over`): before (faults14), it ended `cleared` and that rule's fault was paged on the
        same tick — a `missing` whose readings came back out of range, a fault_end told while the sensor was still
        broken and two pages for one broken sensor."""
        kinds = self._rule_kinds
        still = np.zeros(self.ctx.n, bool)
        missing = np.zeros(self.ctx.n, bool)
        for i in np.flatnonzero(faulty):
            still[i] = results[kinds.index(self.kind[i])][0][i]
            missing[i] = self.kind[i] == "missing"
        # Only a reading clears a fault (a missing sensor's condition clears when readings return).
        seen = faulty & (observed | missing)
        gone_s = self.clear.update(~still, seen, t.ts)
        bar = max(self.cfg.clear_s, 1e-9)
        # A whole source's outage ends on its first reading back; a lone sensor's `missing` after clear_s
        # (an intermittent sensor stays one fault: faults11, source.py).
        prompt = self.sources.prompt_ids() if self.sources.open else ()
        events, handed = [], []
        for i in np.flatnonzero(faulty & ~still):
            if gone_s[i] >= (1e-9 if prompt and missing[i] and self.ids[i] in prompt else bar):
                # (a source's sensor is not: its source's fault ends when it is back, the sensor judged on its own)
                r = None if self.ids[i] in self.sources.open else next(
                    (r for r, (_, d) in enumerate(results) if d is not self._none and d[i] and kinds[r] != self.kind[i]),
                    None)
                if r is None:
                    events.append(self._end(i, t.ts, "cleared"))
                else:
                    self._hand_over(i, kinds[r], t.ts)
                    handed.append(i)
        if handed:
            self._kinds_changed(handed)
        return self._ended(events, t.ts) if events else events

    def _hand_over(self, i: int, kind: str, ts: float) -> None:
        """Sensor i's fault goes on as `kind` (judged by that rule now): its id, start and told kind kept, its clear
        counted afresh as a new fault's would be, the kinds it was judged before in `was` (its fault_end says them;
        a station's or lone fault's `kinds_judged` too); journaled at once (faults15: StationFaults.take_rewritten)."""
        self.was[i] = tuple(dict.fromkeys((*self.was[i], self.kind[i])))
        self.kind[i] = kind
        self.clear.ticks[i] = 0
        self.stations.judged_as(self.ids[i], self.names[i], kind, self.open_entry(i), ts)

    def told_kind(self, i: int) -> str:
        """The kind sensor i's open fault was told as (its first, when handed over since: `_hand_over`)."""
        return self.was[i][0] if self.was[i] else self.kind[i]

    def _ended(self, events: list[FaultEvent], ts: float) -> list[FaultEvent]:
        """fault_end events as told: a source's or a station's sensors' as that fault's one end."""
        return self.stations.ended(self.sources.ended(events, self, ts), self, ts)

    def _start_decided(self, t: Tick, decided: np.ndarray) -> list[FaultEvent]:
        events, started = [], []
        new = decided.any(axis=0) & ~self._faulty
        rejudged_at, rejudged = self.sources.rejudged
        if rejudged and rejudged_at == t.ts:
            new[rejudged] = False       # (ended untold this tick as their source came back: judged afresh)
        for i in np.flatnonzero(new):
            started.append(i)
            r = int(np.flatnonzero(decided[:, i])[0])
            rule = self.rules[r]
            start = rule.held.since[i] if np.isfinite(rule.held.since[i]) else t.ts
            self.kind[i], self.start[i] = rule.KIND, start
            self.ids[i] = self._new_id(i)
            self.clear.ticks[i] = 0
            events.append(FaultEvent(fault_id=self.ids[i], seq=0, event="fault", node=self.node, site=self.site,
                                     sensor=self.names[i], group=self.ctx.groups[i], kind=rule.KIND, ts=t.ts,
                                     start=float(start), end=None, evidence=json_safe(rule.evidence(i, t))))
        if events:
            self._kinds_changed(started)
        told = self.sources.started(events, self, t)
        told = self.stations.started(told, self, t.ts)      # (a lone fault too: its mates may join it, faults6)
        for ev in told:             # counted as told: a source's outage is one `source`, not its sensors' missing
            if ev.event == "fault":     # (a fault_update, a join told, raises nothing new: faults12)
                self.raised[ev.kind] += 1
        return told

    def _end(self, i: int, ts: float, reason: str) -> FaultEvent:
        was = self.was[i]
        summary = END_SUMMARY.get(reason) or f"{self.kind[i]} condition gone for {self.cfg.clear_s:g} s" + (
            f" (judged {', then '.join(was)} before it, one fault)" if was else "")
        ev = FaultEvent(fault_id=self.ids[i], seq=1, event="fault_end", node=self.node, site=self.site,
                        sensor=self.names[i], group=self.ctx.groups[i], kind=self.told_kind(i), ts=ts,
                        start=float(self.start[i]), end=ts,
                        evidence={"summary": summary,
                                  **({"kinds_judged": {self.names[i]: [*was, self.kind[i]]}} if was else {})},
                        reason=reason)
        self._clear(i)
        return ev

    def _clear(self, i: int) -> None:
        self.reentry[i] = self.reentry_ticks
        self._reentering = bool(fnp.count_nonzero(self.reentry))
        self.kind[i], self.start[i], self.ids[i], self.was[i] = "", np.nan, "", ()
        self._kinds_changed([i])

    def _new_id(self, i: int) -> str:
        return f"{self._stem(i)}-{self.life}"

    def _stem(self, i: int) -> str:
        return f"{self.node}-{self.names[i]}-{id_stamp(self.start[i])}"

    def rejudge(self, i: int, ts: float) -> None:
        """Sensor i's `missing`, held under its source's fault, ended untold at `ts` (the source is back,
        the sensor not yet) and its silence counted afresh (faults/source.py)."""
        self._clear(i)
        self.rules[RULES.index(Missing)].rejudge(i)

    def _learn(self, t: Tick, any_faulty: bool, all_observed: bool) -> None:
        """`any_faulty`: some sensor is faulty now (else every sensor is healthy: the masks below
        are the same without `& healthy`); `all_observed`: every sensor observed this tick."""
        counted = t.observed & self._healthy if any_faulty else t.observed
        learn = counted if self.candidate is self._none else counted & ~self.candidate     # (no rule's mask: none)
        # A step is learned only from a learnable reading to the next: never the jump back from a fault.
        step_ok = self.learnable_prev
        if all_observed:        # (the where would pick every entry of learn: a copy of it)
            # (every sensor learned: the shared all-True mask itself, never written; else a copy)
            self.learnable_prev = learn if learn is self._every else learn.copy()
        else:
            self.learnable_prev = fnp.where(t.observed, learn, self.learnable_prev & self._healthy if any_faulty
                                           else self.learnable_prev)
        for r, rule in self._learners:
            if self._ran[r]:
                rule.learn(learn)
        # How often a sensor repeats its value or sits at its floor is learned on candidate ticks
        # too: those are exactly the ticks that would otherwise never teach that it does.
        # (every sensor observed now and before: no step is NaN, every one is known)
        # (by position: keywords build a dict every tick; perf55)
        self.normal.learn(t.x, learn, t.step, step_ok, t.low, counted, t.unchanged, all_observed and self._prev_all)

    # -- what the pipeline asks -----------------------------------------------------------------

    def mask(self, row: Row) -> Row:
        """The row the model and the fallback see: faulty sensors, drifting ones included, as missing."""
        if not self.cfg.mask or not self._any_faulty:
            return row
        # (the faulty sensors as _kinds_changed keeps them — kind != "" — not rebuilt from `kind` each tick, and
        # the row remade without dataclasses.replace: ~7 µs a tick with a fault open, now ~3; perf79)
        faulty = self._faulty
        return row.with_readings(fnp.where(faulty, np.nan, row.values), row.missing | faulty,
                                 row.carried & self._healthy)

    def quiet(self, result: TickScore) -> TickScore:
        """The scorers' result with the scores of sensors just back from a fault set to 0."""
        if not self._reentering:
            return result
        s = fnp.where(self.reentry > 0, 0.0, result.sensor_scores)
        return dataclasses.replace(result, sensor_scores=s, score=tick_score(s))

    def holds(self, sensor_scores, threshold: float) -> bool:
        """Should an alert about to open on these scores wait for the fault decision?"""
        if not self.rules or sensor_scores is None:
            return False
        hold = self.holdback.hold(self.now, sensor_scores, threshold, self.ctx.context, self.candidate | self._faulty,
                                  self._last[self._drift][0] & self._healthy, self.rules[self._drift].quiet,
                                  self._tick.observed)
        self.held_alerts += hold
        return hold

    def close(self, ts: float) -> list[FaultEvent]:
        """End every open fault (reason shutdown) when the agent's input is over, so subscribers are not
        left with a dangling one; a stop by signal leaves them open for the next start (service.Agent._at_stop)."""
        return self._ended([self._end(i, ts, "shutdown") for i in np.flatnonzero(self.faulty)], ts)

    # -- the fault journal (agent/checkpoint.py) ------------------------------------------------

    def open_faults(self) -> dict[str, dict]:
        """sensor → {fault_id, kind, start, group} of every open fault, and source → the same with its
        `sensors` for an open source fault (whose sensors' missing it stands for: not listed apart)."""
        held = self.sources.open.keys() | self.stations.open.keys()
        return {**{self.names[i]: self.open_entry(i) for i in np.flatnonzero(self.faulty) if self.ids[i] not in held},
                **self.sources.entries(), **self.stations.entries()}

    def open_entry(self, i: int) -> dict:
        """Sensor i's own open fault as the fault journal keeps it; handed over, every kind it was judged, its kind
        now the last (`kinds_judged`, as its fault_end will say them: faults15)."""
        was = self.was[i]
        return {"fault_id": self.ids[i], "kind": self.told_kind(i), "start": float(self.start[i]),
                "group": self.ctx.groups[i], **({"kinds_judged": {self.names[i]: [*was, self.kind[i]]}} if was else {})}

    def resume_open(self, open_faults: dict[str, dict]) -> None:
        """Make the open faults those of the fault journal (newer than the checkpoint this tracker
        was restored from): a fault raised since goes on under its id, one ended since is ended."""
        opened = self.sources.resume({name: _told(name, f) for name, f in open_faults.items()}, set(self.names),
                                     lambda s: self.ctx.groups[self.index[s]])
        opened = self.stations.resume(opened, self)
        unknown = sorted(set(opened) - set(self.names))
        if unknown:
            raise ValueError(f"open faults of sensors not in the config: {', '.join(unknown)}")
        for i, name in enumerate(self.names):
            f = opened.get(name)
            if f is None:
                if self.kind[i]:
                    self._clear(i)
                continue
            if self.ids[i] != f["fault_id"]:
                self.clear.ticks[i] = 0
            judged = (f.get("kinds_judged") or {}).get(name)
            if judged:          # handed over before the journal was written: its kind now, the kinds before (faults15)
                self.kind[i], self.was[i] = judged[-1], tuple(dict.fromkeys(judged[:-1]))
            elif not (self.ids[i] == f["fault_id"] and self.was[i] and self.was[i][0] == f["kind"]):
                self.kind[i], self.was[i] = f["kind"], ()        # (else handed over since it was told: kept)
            self.start[i], self.ids[i] = f["start"], f["fault_id"]
        self._kinds_changed()
        self._missing_until_a_tick()

    def after_gap(self) -> None:
        """Ticks not run (a restart's skipped downtime, pipeline_time.after_restart), or a step back of the time base
        (pipeline_time.rebase: a gap of unknown length, review35): each sensor's next reading
        follows no reading of the tick before, as after an outage's missing ticks — its step from the last one
        before the gap is no tick's change, neither a spike's jump nor a normal step to learn. Before (user23), a
        motor temperature that moved 2 °C in 5 minutes down was `spike … 20× its normal tick-to-tick change`."""
        if self.rules:
            self.rules[self._spike].after_gap()        # (and its recent change is of before: faults17)
        self.learnable_prev = np.zeros(self.ctx.n, bool)

    def _missing_until_a_tick(self) -> None:
        """After a restore: an open `missing` fault's sensors are missing now (health's `sensors_missing`) until a
        tick says whether their readings came (observe sets the tick's own mask)."""
        self._tick.missing = np.array([k == "missing" for k in self.kind], bool)

    def ended_at_restart(self, open_faults: dict[str, dict], ts: float) -> list[FaultEvent]:
        """fault_end, reason restart, of the faults a previous life left open, when this life has
        no state to judge them by (no usable checkpoint, or fault rules off)."""
        out = []
        for name, f in sorted(open_faults.items()):
            f = _told(name, f)
            if f["kind"] == "source":
                out.append(self.sources.restart_end(name, f, ts, self, END_SUMMARY["restart"]))
                continue
            if f["kind"] == "station":
                out.append(self.stations.restart_end(name, f, ts, self, END_SUMMARY["restart"]))
                continue
            seq = 1 + int(f.get("updates") or 0)    # (a lone fault mates joined: after its fault_updates, faults13)
            out.append(FaultEvent(fault_id=f["fault_id"], seq=seq, event="fault_end", node=self.node, site=self.site,
                                  sensor=name, group=str(f.get("group", "")), kind=f["kind"], ts=ts,
                                  start=f["start"], end=ts, evidence={"summary": END_SUMMARY["restart"], **(
                                      {"kinds_judged": f["kinds_judged"]} if f.get("kinds_judged") else {})},
                                  reason="restart"))
        return out

    def active(self) -> dict[str, str]:
        return {name: k for name, k in zip(self.names, self.kind) if k}

    def snapshot(self) -> dict:
        """Health's fault keys. `sensors_missing`: the sensors without readings now (past the carry-forward bound
        at the last tick) under an open `missing` fault — theirs or a `source` fault's; a fault whose readings came
        back stays open until its condition has been gone faults.clear_s, in `faults_active` and `faults_clearing`
        (seconds gone so far) — but a whole source's outage ends on its first reading back (faults11). Before, `sensors_missing` listed a source fault's sensors while their readings
        arrived again, for clear_s (qa35; user16)."""
        active = self.active()
        now_missing, gone = self._tick.missing, self.clear.ticks
        return {"faults_active": active, "faults_raised": dict(self.raised),
                "fault_candidates": [n for n, c in zip(self.names, self.candidate) if c],
                "alert_ticks_held_for_faults": self.held_alerts,
                "sensors_missing": [n for i, n in enumerate(self.names) if self.kind[i] == "missing" and now_missing[i]],
                "faults_clearing": {n: round(float(gone[i] * self.tick_s), 3) for i, n in enumerate(self.names)
                                    if self.kind[i] and gone[i]},
                "sensors_stuck": [n for n, k in active.items() if k == "stuck"],
                **({"sources": sources} if (sources := self.sources.snapshot()) else {})}

    # -- checkpoint -----------------------------------------------------------------------------

    def state(self) -> dict:
        return {"kind": list(self.kind), "ids": list(self.ids),
                "start": [None if np.isnan(v) else v for v in self.start],
                "clear": self.clear.state(), "candidate": self.candidate.tolist(),
                "prev": [None if np.isnan(v) else v for v in self.prev],
                "learnable_prev": self.learnable_prev.tolist(), "raised": dict(self.raised),
                "held_alerts": self.held_alerts, "reentry": self.reentry.tolist(), "normal": self.normal.state(),
                "rules": {r.KIND: (r.state() if hasattr(r, "state") else r.held.state()) for r in self.rules},
                **({"sources": self.sources.state()} if self.sources.open else {}),
                **({"stations": self.stations.state()} if self.stations.open else {}),
                **({"was": [list(w) for w in self.was]} if any(self.was) else {}),
                **self._cadence_state()}

    def _cadence_state(self) -> dict:
        """What a rule on a cadence (`faults.drift_every_s`) carries between its runs: drift's block so far
        (the sums and counts of each sensor's readings since its last run), each such rule's condition,
        which stands until it runs again, and the last tick's time (a jump back runs the block at it). A
        checkpoint without it (from before, or taken with every rule on every tick) starts them empty."""
        if self._every_tick:
            return {}
        return {"cadence": {"every": list(self.every), "now": self.now,
                            "last": {r.KIND: self._last[k][0].copy() for k, r in enumerate(self.rules) if self.every[k] > 1},
                            **({} if self._block is None else {"block": [a.copy() for a in self._block]})}}

    def _restore_cadence(self, state: dict | None) -> None:
        """_cadence_state's; None or one of other cadences: the rules start their blocks afresh."""
        if not isinstance(state, dict) or state.get("every") != list(self.every):
            return
        def sized(a, dtype, name: str) -> np.ndarray:
            a = np.array(a, dtype)
            if a.shape != (self.ctx.n,):
                raise ValueError(f"cadence.{name}: shape {a.shape}, expected ({self.ctx.n},)")
            return a

        last = state.get("last") or {}
        for k, rule in enumerate(self.rules):
            if self.every[k] > 1 and last.get(rule.KIND) is not None:
                self._last[k] = (sized(last[rule.KIND], bool, f"last.{rule.KIND}"), self._none)
        if self._block is not None and state.get("block") is not None:
            total, count = (sized(a, float, "block") for a in state["block"])
            self._block[0][...], self._block[1][...] = total, count
        self.now = float("nan") if state.get("now") is None else float(state["now"])

    def restore(self, state: dict) -> None:
        self.kind = list(state["kind"])
        self._kinds_changed()
        self.start[:] = [np.nan if v is None else v for v in state["start"]]
        # A checkpoint from before ids were kept: an open fault's id was <node>-<sensor>-<start>.
        self.ids = list(state["ids"]) if "ids" in state else \
            [self._stem(i) if k else "" for i, k in enumerate(self.kind)]
        self.clear.restore(state["clear"])
        self.candidate = np.zeros(self.ctx.n, bool)        # (a tick may have left the shared read-only mask)
        self.candidate[:] = state["candidate"]
        self.prev[:] = [np.nan if v is None else v for v in state["prev"]]
        self._prev_all = not np.isnan(self.prev).any()
        self.learnable_prev = np.zeros(self.ctx.n, bool)   # (a new array: it may be the shared read-only mask)
        self.learnable_prev[:] = state["learnable_prev"]
        self.raised.update(state["raised"])
        self.held_alerts = int(state["held_alerts"])
        self.reentry[:] = state["reentry"]
        self._reentering = bool(fnp.count_nonzero(self.reentry))
        self.normal.restore(state["normal"])
        for r in self.rules:
            saved = state["rules"].get(r.KIND)
            if saved is not None:
                (r.restore if hasattr(r, "restore") else r.held.restore)(saved)
            elif hasattr(r, "unsaved"):     # (a checkpoint from before the rule: what the rest of it says)
                r.unsaved(self.normal)
        self._restore_cadence(state.get("cadence"))
        self.sources.restore(state.get("sources"))
        self.stations.restore(state.get("stations"))
        was = state.get("was")              # (absent: none handed over, or a checkpoint from before faults14)
        self.was = [tuple(str(k) for k in w) for w in was] if isinstance(was, list) and len(was) == self.ctx.n \
            else [()] * self.ctx.n
        self._missing_until_a_tick()


def _kept(was: np.ndarray, now: np.ndarray, observed: np.ndarray, all_observed: bool,
          healthy: np.ndarray | None) -> np.ndarray:
    """`now`, and where `was` held and the sensor was not observed this tick, `was` (healthy only)."""
    if all_observed or not fnp.count_nonzero(was):
        return now
    kept = was & ~observed
    if healthy is not None:
        kept &= healthy
    return now | kept if fnp.count_nonzero(kept) else now


def _union(masks: list[np.ndarray], none: np.ndarray, healthy: np.ndarray | None) -> np.ndarray:
    """The or of the rules' masks (a new array), and `healthy` when given: np.logical_or.reduce
    over the stacked masks, without stacking them."""
    if not masks:
        return none
    if len(masks) == 1:
        return masks[0].copy() if healthy is None else masks[0] & healthy
    out = masks[0] | masks[1]
    for m in masks[2:]:
        out |= m
    if healthy is not None:
        out &= healthy
    return out


def _every(cfg: FaultConfig, rule, tick_s: float) -> int:
    """How many ticks apart a rule is run: its EVERY_KEY's seconds in whole ticks, at least 1."""
    key = getattr(rule, "EVERY_KEY", None)
    return max(1, int(round(getattr(cfg, key) / tick_s))) if key else 1


def _told(name: str, f: dict) -> dict:
    """A journaled open fault, checked: {fault_id, kind, start, group}."""
    if not (isinstance(f, dict) and f.get("kind") in KINDS and isinstance(f.get("fault_id"), str) and f["fault_id"]):
        raise ValueError(f"open fault of {name}: no kind or fault_id")
    return {**f, "start": float(f["start"])}
