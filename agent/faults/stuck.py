"""stuck: the value stopped moving. Two signs, either one is enough:

- unchanged: exactly the same reading for `stuck_s` — longer for a sensor that repeats its value
  now and then when healthy (a count that is often 0, a coarse transmitter): it must be stuck
  for long enough that a healthy run of repeats that long has odds under FALSE_RUN_ODDS (from
  how often a repeat is followed by another: a slow, coarse reading repeats in runs), and
  for RUN_MARGIN × the longest run of repeats it has shown while healthy (a repeat rate is an
  average: a count repeats far more at night than by day). A sensor that never varied is never
  stuck (it may be a setpoint). Whether it often repeats (OFTEN_REPEATS) is read, as the odds
  are, from its repeat rate when the run began, at the rate's upper bound (OFTEN_Z) for the
  ticks it was learned from: the run's own repeats are counted into the rate as they come (they
  are healthy until decided), and while the agent is young (the rate learns at 1 / ticks seen) a
  frozen run taught it past OFTEN_REPEATS before `stuck_s` — an OPC UA node frozen 50 s after
  start (0 repeats in 46 ticks) was never stuck at the defaults (faults2); the bound keeps what
  that self-teaching also did, a coarse transmitter's 18 repeats in 41 ticks (0.44) not known
  to be under OFTEN_REPEATS, its healthy hour-long run not stuck;
- flatline: its relative tick-to-tick change (|Δx| over the reading's size) over the last
  `flatline_s`, and at least FLAT_MIN_TICKS ticks, collapsed below `flatline_ratio` of its
  normal — a frozen value with a little transmitter noise on top. Relative, because many
  sensors' noise grows with their level. It must also be under 1 / FLAT_MARGIN of the lowest
  such mean the sensor has shown while healthy: a count that sits at 0 for hours every night
  (its relative change is then 0) is quiet, not flat; its freeze is an unchanged run.

Both are judged in ticks as well as seconds: at a slow tick (5-minute metrics) `stuck_s` and
`flatline_s` are one or two ticks, too few to tell a frozen sensor from a quiet one, so the
evidence needed is counted in the sensor's own ticks and repeats, whatever the tick.

Check on site: a frozen controller / PLC register (the value is not being refreshed), a detector
card in a fail-safe state, a blocked or iced sensor, a transmitter left in test mode.
"""
from __future__ import annotations

import math

import numpy as np

from .. import fastnp as fnp
from .config import FaultConfig
from .context import WholeCounts
from .rule import Held, RecentMean, Tick, ring_held
from .standstill import Standstill

FALSE_RUN_ODDS = 1e-6
FLAT_SEEN = 0.8         # share of the flatline window that must have been observed
OFTEN_REPEATS = 0.5      # a sensor repeating its value on more ticks than this is not judged stuck
FLAT_MARGIN = 4.0        # a flatline is this many times quieter than the quietest healthy window (≥ 1: observe)
MIN_HORIZON_TICKS = 240  # repeat statistics are forgotten over learn_s, but never fewer ticks than this
PRIOR_TICKS = 5.0        # weight of the repeat rate in the run continuation rate
RUN_MARGIN = 2.0         # an unchanged run must last this × the longest run seen while healthy
OFTEN_Z = 3.0            # the repeat rate's upper (Wilson) bound at this z is what OFTEN_REPEATS judges


class Stuck:
    KIND = "stuck"

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        self.tick_s = tick_s
        self.stuck_s = cfg.stuck_s
        self.ratio = cfg.flatline_ratio
        self.flat_ticks = cfg.flatline_ticks(tick_s)
        self.held = Held(ctx.n, tick_s)
        self.standstill = Standstill(ctx)
        self.steps = RecentMean(self.flat_ticks, ctx.n)            # the last relative |Δx| per sensor
        assert FLAT_SEEN <= 1.0         # (a window whose every entry is seen is full: observe)
        self.required = np.full(ctx.n, cfg.stuck_s)
        self.p_run = np.full(ctx.n, 0.5)           # repeat rate when the current run began
        self.repeat_high = np.zeros(ctx.n)         # the repeat rate's upper bound when the run began (_high)
        self._p_run_now = False                    # p_run is _p() as the statistics stand (no run anywhere)
        self.repeat = np.zeros(ctx.n)              # share of ticks with the previous value (healthy)
        self._repeat_count = WholeCounts(ctx.n)     # ticks its repeat rate learned (`repeat_count`)
        self.alpha_min = 1.0 / max(cfg.learn_s / tick_s, MIN_HORIZON_TICKS)
        self._alpha = fnp.const(self.alpha_min)    # (a per-tick operand: fastnp.const)
        self.cont = np.zeros(ctx.n)                # repeats followed by another, in runs that ended healthy
        self.cont_count = np.zeros(ctx.n)          # …of so many repeats
        self.longest = np.zeros(ctx.n)             # the longest unchanged run (ticks) that ended while healthy
        self.lowest = np.full(ctx.n, np.inf)       # the lowest windowed mean relative change while healthy
        self._lowest_changed()
        self._rate_floor = False                   # every repeat_count is past 1 / alpha_min (observe)
        self._never_repeated = True                # every repeat is +0.0: no sensor has repeated yet
        self._above_left = 0                       # ticks certain to have no window below lowest (observe)
        self._ahead = 1                            # how many the screen looks ahead (observe)

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        normal = t.normal
        step = t.step
        same = t.unchanged if t.all_observed else t.observed & t.unchanged     # (step == 0: the tracker's, once a tick)
        any_same = fnp.count_nonzero(same)      # (no repeat: the usual tick of a continuous reading)
        # A station's speed or flow held at its floor while its occupancy says the traffic stands still is a
        # queue, not a frozen loop (standstill.py, `dead`'s rule too; user27: an incident's flow 0 paged stuck):
        # no run there — its run starts over when the queue clears — and the tick teaches no repeat statistic.
        standing = None
        if any_same and self.standstill.moving.size and fnp.count_nonzero(t.at_floor):
            standing = self.standstill.among(same & t.at_floor, t)
            if fnp.count_nonzero(standing):
                same = same & ~standing
                any_same = fnp.count_nonzero(same)
            else:
                standing = None
        idle_before = self.held.idle            # no run before this tick: none can have ended
        run_before = None if idle_before else self.held.ticks.copy()
        # With no run before and no repeat now, update would change nothing and hold nothing; the
        # decision below reads `lasted` only where a sensor repeats: none does.
        lasted = self.held.update(same, t.observed, t.ts) if any_same or not idle_before else None
        # A run that ended without the sensor being judged faulty was healthy behaviour: its length
        # and its repeats that were followed by another (run − 1 of run) are learned, over at most
        # the last 1 / alpha_min such repeats.
        ended = None if idle_before else t.observed & ~same & (run_before > 0) & t.healthy
        if standing is not None and ended is not None:
            ended &= ~standing                  # (a run a standstill cut is not a healthy run's length)
        if ended is not None and fnp.count_nonzero(ended):
            self.longest = fnp.where(ended, np.maximum(self.longest, run_before), self.longest)
            self.cont += fnp.where(ended, run_before - 1.0, 0.0)
            self.cont_count += fnp.where(ended, run_before, 0.0)
            scale = np.minimum(1.0, (1.0 / self.alpha_min) / np.maximum(self.cont_count, 1.0))
            self.cont *= scale
            self.cont_count *= scale
        # How often a repeat is followed by another (learned from runs that ended healthy): a
        # slowly moving, coarse reading repeats in runs, so its runs last longer than its repeat
        # rate alone says. Until a few are seen it is taken as the repeat rate (PRIOR_TICKS).
        # Both learned over at least MIN_HORIZON_TICKS ticks: at a slow tick learn_s is a handful
        # of ticks, and a frozen sensor would teach itself that it often repeats within the hour.
        # observed, with a step from the previous reading
        stepped = np.isfinite(step) if t.all_observed else t.observed & np.isfinite(step)
        counted = stepped if t.all_healthy else stepped & t.healthy
        if standing is not None:
            counted = counted & ~standing
        # (every sensor's rate at the floor and every sensor counted: the usual tick)
        all_stepped = fnp.count_nonzero(stepped) == stepped.size
        every_counted = all_stepped if counted is stepped else fnp.count_nonzero(counted) == counted.size
        all_counted = self._rate_floor and every_counted
        if any_same or not self._never_repeated:
            if self._rate_floor:    # every sensor's rate is alpha_min (counts only grow): the same values
                # (every sensor counted: the where would pick alpha_min everywhere, the same products)
                rate = self._alpha if all_counted else fnp.where(counted, self.alpha_min, 0.0)
            else:
                every = np.maximum(1.0 / (self.repeat_count + 1.0), self.alpha_min)
                self._rate_floor = fnp.count_nonzero(every == self.alpha_min) == every.size
                rate = fnp.where(counted, every, 0.0)
            if any_same:
                self.repeat += rate * (same - self.repeat)
            else:                   # (no repeat: r + rate × (0 − r) is r − rate × r, bit for bit; no bool cast)
                self.repeat -= rate * self.repeat
            self._never_repeated = self._never_repeated and not fnp.count_nonzero(self.repeat)
        # (else every repeat is +0.0 and no sensor repeats: +0.0 + rate × (0 − +0.0) is +0.0, for any
        # rate, so the update would leave every bit as it is; _rate_floor is a cache, checked later)
        # (every sensor counted: +1 everywhere, kept as a number until the count is read — by the rate below the
        # floor on a tick some sensor repeats or has repeated, _p, _high and state(); whole numbers: the same bits.
        # Before, only at the rate floor: a bool-to-float add a tick, ~0.6 µs, until 1 / alpha_min ticks; perf76)
        if every_counted:
            self._repeat_count.add_one()
        else:
            repeat_count = self.repeat_count
            repeat_count += counted
        if not self.held.idle and fnp.count_nonzero(self.held.ticks):   # only an unchanged run is judged against it
            # Run length whose odds under that are below FALSE_RUN_ODDS, taken as it was when this
            # run began (the run itself is learned as it goes).
            starts = self.held.ticks <= 1
            self.p_run = fnp.where(starts, self._p(), self.p_run)
            self.repeat_high = fnp.where(starts, self._high(), self.repeat_high)
            self._p_run_now = False
            guard = np.ceil(math.log(FALSE_RUN_ODDS) / np.log(self.p_run)) * self.tick_s
            self.required = np.maximum(np.maximum(self.stuck_s, guard), RUN_MARGIN * self.longest * self.tick_s)
        else:
            # No run anywhere: p_run would be this tick's p for every sensor. It is computed only when
            # read (state()); the next tick that holds a run starts every run there (ticks ≤ 1).
            self._p_run_now = True
        # (a finite step over a positive size: never NaN where kept)
        if all_stepped:     # (every sensor: computed into the ring's row, no copy)
            normal.relative_step(step, t.x, out=self.steps.next_row())
            self.steps.push(stepped, None)
        else:
            self.steps.push(stepped, normal.relative_step(step, t.x))
        # Both tests below need a window quieter than the quietest healthy one: a flatline is under
        # lowest / FLAT_MARGIN (≤ lowest, and only where lowest is known: finite), a new quietest is
        # under lowest. On a tick where no window is (nearly all), neither can hold, and whether a
        # sensor varies is needed only for a repeat. The screen: while the window's newest rows alone
        # keep its sum certainly over lowest's, neither it nor the next windows are below lowest (the
        # relative steps are ≥ 0: RecentMean.over_for): those ticks read no mean. How many ticks ahead
        # it looks grows by one after it held and halves after it did not; a tick it did not hold for reads
        # the mean unless its window alone is certainly over (RecentMean.over_now).
        if self._above_left:
            self._above_left -= 1
            any_below = 0
        elif self.steps.over_for(self._lowest_sum, self._ahead):
            self._above_left, any_below = self._ahead, 0
            self._ahead = min(self._ahead + 1, self.flat_ticks - 1)
        else:
            self._ahead = max(self._ahead // 2, 1)
            if self.steps.over_now(self._lowest_sum):
                any_below = 0       # (none can be below now: the screen with no look ahead, ~half a mean's cost; perf60)
            else:
                recent = self.steps.mean()
                below = recent < self.lowest
                any_below = fnp.count_nonzero(below)
        if any_below or any_same:
            # (no sensor has repeated: every repeat is +0.0, under OFTEN_REPEATS)
            # (a sensor in a run: its rate's bound when the run began, not a rate the run itself taught)
            repeat = self.repeat if self.held.idle else fnp.where(self.held.ticks > 0, self.repeat_high, self.repeat)
            varies = normal.abs_step > 0 if self._never_repeated else (repeat < OFTEN_REPEATS) & (normal.abs_step > 0)
            if not normal.all_learned:
                varies &= normal.learned
        flat, any_flat = self.held.nothing, 0           # this tick's flatlines (all False: read-only)
        if any_below:
            # judged once a quiet window is known (every entry of the window seen: past FLAT_SEEN ≤ 1 of it everywhere):
            full = varies if self.steps.all_seen else varies & (self.steps.seen() >= FLAT_SEEN * self.flat_ticks)
            under = full & below
            if fnp.count_nonzero(under):
                flat = full & (recent < np.minimum(self.ratio * normal.rel_step, self._lowest_flat))
                if not self._all_lowest_known:
                    flat &= self._lowest_known
                quiet = under & ~flat
                if not t.all_healthy:
                    quiet &= t.healthy
                if fnp.count_nonzero(quiet):
                    self.lowest = fnp.where(quiet, recent, self.lowest)
                    self._lowest_changed()
                any_flat = fnp.count_nonzero(flat)
        if not any_same:                # nothing unchanged: the flatline alone decides
            if not any_flat:
                return self.held.nothing, self.held.nothing        # (the calm tick: both masks all False)
            return flat, flat.copy()
        unchanged = varies & same
        if not t.all_healthy:
            # A sensor judged faulty holds it by a run longer than any it showed healthy: back from a freeze, a
            # thermocouple that repeats a reading about once a minute held its `stuck` by every such repeat, and
            # the clear_s that ends it never ran out (user12: still open 36 min after it moved again).
            unchanged &= t.healthy | (lasted > self.longest * self.tick_s)
        if not fnp.count_nonzero(unchanged) and not any_flat:
            return self.held.nothing, self.held.nothing
        cond = unchanged | flat
        decided = (unchanged & (lasted >= self.required)) | flat
        return cond, decided

    @property
    def repeat_count(self) -> np.ndarray:
        return self._repeat_count.array

    def _lowest_changed(self) -> None:
        """What the flatline test reads of `lowest`, computed when it changes, not every tick."""
        self._lowest_known = np.isfinite(self.lowest)
        self._all_lowest_known = fnp.count_nonzero(self._lowest_known) == self.lowest.size
        self._lowest_flat = self.lowest / FLAT_MARGIN
        # The screen's total (observe): a window whose real kept sum is certainly over lowest × its
        # length (RecentMean.over_for) has a mean read at or above lowest (mean() divides by at most the
        # length). Over it by 1e-9 of it, ten times the running sum's error when mean() reads it
        # (RecentMean.TOL), and by 1e-300 (the product and the mean's quotient may be subnormal, rounded
        # by up to 2⁻¹⁰⁷⁵ whatever their size). Not finite (lowest unknown, or past the float range):
        # NaN, never over.
        total = self.lowest * (self.flat_ticks * (1.0 + 1e-9)) + 1e-300
        self._lowest_sum = fnp.where(np.isfinite(total), total, np.nan)

    def _high(self) -> np.ndarray:
        """The repeat rate's upper Wilson bound at OFTEN_Z, over the ticks it is learned from (at most
        1 / alpha_min: older ones are forgotten)."""
        n = np.maximum(np.minimum(self.repeat_count, 1.0 / self.alpha_min), 1.0)
        z2 = OFTEN_Z * OFTEN_Z / n
        p = self.repeat
        return (p + z2 / 2 + OFTEN_Z * np.sqrt(np.maximum(p * (1 - p), 0.0) / n + z2 / (4 * n))) / (1 + z2)

    def _p(self) -> np.ndarray:
        """The chance a repeat is followed by another, from the learned run statistics, clipped."""
        repeat = np.maximum(self.repeat, 1.0 / (self.repeat_count + 2.0))
        p_cont = (self.cont + PRIOR_TICKS * repeat) / (self.cont_count + PRIOR_TICKS)
        return np.minimum(np.maximum(np.maximum(p_cont, repeat), 1e-12), 0.999)   # clip

    def evidence(self, i: int, t: Tick) -> dict:
        held = self.held.ticks[i] * self.tick_s
        if self.held.ticks[i] > 0:
            summary = f"the same value {t.x[i]:g} for {held:g} s (needs {self.required[i]:g} s for this sensor)"
        else:
            summary = (f"relative tick-to-tick change collapsed below {self.ratio:g} of its normal "
                       f"({t.normal.rel_step[i]:.3g}) for {self.flat_ticks * self.tick_s:g} s")
        return {"summary": summary, "value": None if np.isnan(t.x[i]) else round(float(t.x[i]), 4),
                "unchanged_s": held, "normal_relative_step": round(float(t.normal.rel_step[i]), 6)}

    def state(self) -> dict:
        p_run = self._p() if self._p_run_now else self.p_run
        return {"held": self.held.state(), "head": self.steps.head, "p_run": p_run.tolist(),
                "longest": self.longest.tolist(), "repeat": self.repeat.tolist(), "repeat_high": self.repeat_high.tolist(), "repeat_count": self.repeat_count.tolist(),
                "cont": self.cont.tolist(), "cont_count": self.cont_count.tolist(), "lowest": [None if np.isinf(v) else v for v in self.lowest.tolist()],
                "steps": self.steps.ring(),
                "steps_sums": self.steps.sums()}

    def restore(self, state: dict) -> None:
        self.held.restore(state["held"])
        self.p_run = np.array(state["p_run"], float).reshape(self.p_run.shape)
        self._p_run_now = False
        self.longest[:] = state.get("longest", 0.0)      # a checkpoint from before runs were learned
        self.repeat[:] = state.get("repeat", 0.0)
        self.repeat_high[:] = state.get("repeat_high", self.repeat)     # (a checkpoint from before faults2)
        self.repeat_count[:] = state.get("repeat_count", 0.0)
        self._rate_floor = False
        self._never_repeated = not (fnp.count_nonzero(self.repeat) or np.signbit(self.repeat).any())
        self.cont[:] = state.get("cont", 0.0)
        self.cont_count[:] = state.get("cont_count", 0.0)
        self.lowest[:] = [np.inf if v is None else v for v in state.get("lowest", [None] * self.lowest.size)]
        self._lowest_changed()
        self._above_left = 0
        steps = ring_held(state["steps"], self.steps.zeroed.shape)
        if steps is not None:       # else a window of another length: start it over
            self.steps.set_rows(steps, int(state["head"]), state.get("steps_sums"))
