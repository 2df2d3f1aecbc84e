"""spike: a reading that jumps far from the sensor's last one while the sensors it should move
with (topology neighbours, station / machine mates) do not move.

One tick's change |x_t − x_{t−1}| is compared with the sensor's normal tick-to-tick change (the
mean |Δx| of its healthy ticks when it changed at all, context.Normal: a coarse transmitter
moves by whole steps) or, when larger, its mean change over the last
RECENT_TICKS ticks: more than `spike_z` times that is a jump. The recent change keeps a sensor
that is busy now (occupancy in stop-and-go traffic, a pump ramping) from being judged on the
scale of its quiet hours. A jump
that its whole observed, healthy context shares (each of them moving less than spike_z / 2 of
its own normal step is "calm") is the process — a queue reaching a station moves its flow,
occupancy and speed together, a load change moves a skid's current, pressure and flow — and is
left to the scorers. A jump alone is a sensor fault candidate, judged a `spike` once the
condition has held `spike_s` (0: on the tick, so the outlier is masked before the scorers see
it and cannot raise an incident). The way back is a jump too, so the fault covers the outlier
and its return, and ends `clear_s` after the last one. Only a step between two consecutive
observed ticks counts (not the first reading after a gap), and a jump onto the sensor's floor
is left to the `dead` rule, a jump out of its configured range to `out_of_range`.

After a gap of the whole tracker (after_gap: the first live tick after the recording the rules were taught on, a
restart's skipped downtime, a step back of the time base) the recent change is of another time: the recording's
same hour of another day, or before the downtime. A sensor is not judged until RECENT_TICKS of its steps since the
gap fill the ring (faults17: seed 250's healthy S04_occ, in a queue at 08:00 whose steps were 3× the taught day's,
was paged `spike` twice in the first 4 minutes, on its taught scale and one live step). A real spike on those first
ticks is not paged: the scorers see it.

A jump whose context is not calm (the morning rise's first ticks: a neighbour moving 4–9 × its
night-time step) and that moves DOMINANT × as far as any of it, each on its own usual scale, is
not yet the process nor a fault: a queue setting in moves one mate much further than the others
too. It is kept (its value before, for BACK_TICKS ticks; not taught as the sensor's recent
behaviour) and judged by what follows: back within BACK_TO of the jump from where it left while
none of its context jumps (each under `spike_z` × its own) — a there-and-back of the sensor alone,
which a queue setting in is not, nor a whole station's one-tick jump and back (its mates jump back
with it) — it is a spike, decided on the way back's tick; otherwise it expires.

Check on site: a loose connector or terminal, a damaged cable screen or a noisy power supply
(interference), a transmitter or detector card that resets; a loop detector's crosstalk with an
adjacent lane's loop.
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .config import FaultConfig
from .rule import Held, RecentMean, Tick, names_values, ring_held


RECENT_TICKS = 10
DOMINANT = 4.0             # a jump this many × its context's largest move (own scales) is judged by its return…
BACK_TICKS = 3             # …within this many ticks…
BACK_TO = 0.25             # …to within this share of the jump from its value before: a spike
MIN_MOVING = 0.05          # the share of ticks a sensor changes on, at least (for its usual change)
SCREEN_TICKS = 16          # the screen's bound on the usual change holds this many ticks of learning
RAMP_TICKS = 5             # a jump the sensor's own move over this many ticks before it already went…
RAMP_Z = 3.0               # …this many × its usual change × √RAMP_TICKS, the same way, is a ramp's: the process
_ONE, _ZERO, _MIN_MOVING = fnp.const(1.0), fnp.const(0.0), fnp.const(MIN_MOVING)   # (per-tick operands: fastnp.const)


class Spike:
    TIME_FIELDS = ("kept_until",)   # seconds on the time base (agent/timebase.py)
    KIND = "spike"

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        self.required_s = cfg.spike_s
        self.z = cfg.spike_z
        self._z = fnp.const(self.z)
        self.held = Held(ctx.n, tick_s)
        self.seen_before = np.zeros(ctx.n, bool)       # observed on the previous tick
        # |Δx| over its scale, as of the last tick the screen did not clear (observe): the evidence
        # reads it on a jump's tick, when it is that tick's.
        self.ratio = np.zeros(ctx.n)
        self.usual = np.zeros(ctx.n)                    # this tick's usual |Δx| (the evidence quotes it)
        self.recent = RecentMean(RECENT_TICKS, ctx.n)            # the last |Δx| per sensor
        # Pushes not yet in `recent` (see _flush): the last RECENT_TICKS of them, in a ring of their own
        # (the arrays themselves: a tick's step and masks are new arrays, never written after the tick).
        self._kept: list = [None] * RECENT_TICKS
        self._steps: list = [None] * RECENT_TICKS
        self._waiting = 0
        # The last RAMP_TICKS + 2 ticks' readings (the Tick's arrays, never written after their tick: `_ramping`).
        self._xs: list = [None] * (RAMP_TICKS + 2)
        self._x_at = 0
        self.calm_context = [[] for _ in range(ctx.n)]
        # A dominant jump in a busy context, kept for BACK_TICKS (checkpointed; read only for a healthy sensor):
        self.kept_from = np.full(ctx.n, np.nan)          # its value before the jump
        self.kept_jump = np.zeros(ctx.n)                 # the jump
        self.kept_until = np.full(ctx.n, -np.inf)        # the last tick its return counts
        self.tick_s = tick_s
        # The screen (_screen): a step at or under `_under` cannot be over z × its usual change for
        # SCREEN_TICKS learned ticks after `_under_at` (in the normal behaviour's `era`); None: no bound.
        self._under: np.ndarray | None = None
        self._under_at, self._under_era = 0, None
        self._screen_a = None                           # (the alpha_min its constants were made for)
        # Steps seen since the tracker's last gap (after_gap), per sensor; None: every sensor's ring is of them.
        self.since_gap: np.ndarray | None = None

    def after_gap(self) -> None:
        """The next readings follow no reading of the tick before, and the recent change is not known until
        RECENT_TICKS steps after them (the module's docstring)."""
        self.seen_before = np.zeros(self.seen_before.size, bool)    # (a new array: it may be a shared read-only mask)
        self.since_gap = np.zeros(self.seen_before.size, np.int64)

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        self._x_at = at = (self._x_at + 1) % (RAMP_TICKS + 2)
        self._xs[at] = t.x
        ctx, normal = t.ctx, t.normal
        if t.all_observed:          # (observed is all True: consecutive is seen_before; the shared mask is never written)
            consecutive, self.seen_before = self.seen_before, t.observed
        else:
            consecutive = t.observed & self.seen_before
            self.seen_before = t.observed.copy()
        if self.since_gap is not None:
            self._count_since_gap(consecutive)
        under = self._under
        if (under is not None and normal.learns - self._under_at <= SCREEN_TICKS and normal.era is self._under_era
                and not fnp.count_nonzero(np.greater(t.step, under))):      # (the ufunc, not `>`; perf76)
            return self._calm(consecutive, t)       # (a NaN step compares False: it is never a jump either)
        # Its usual change when it changes at all: a coarse (quantised) sensor moves by whole steps.
        moving = _ONE - normal.repeat
        self.usual = usual = normal.abs_step / np.maximum(moving, _MIN_MOVING)
        self._screen(normal, moving)
        # (the screen just made, at no tick of learning since, clears this tick as it clears the next
        # SCREEN_TICKS: no step over it, no ratio over z; one tick in 17 on the demo, perf60)
        under = self._under
        if under is not None and not fnp.count_nonzero(t.step > under):
            return self._calm(consecutive, t)
        known = consecutive & (usual > _ZERO)
        if not normal.all_learned:
            known &= normal.learned
        if self.since_gap is not None:
            known &= self.since_gap > RECENT_TICKS        # (this tick's step and RECENT_TICKS before it)
        # Where known, usual > 0 is the scale: the ratio is divided only there, 0 elsewhere (no
        # 0/0 or NaN to silence: known sensors were observed on both ticks, so their step is a number).
        # The screen: the ratio's scale is max(usual, recent) >= usual, and a correctly rounded
        # division by a larger number is no larger, so a sensor whose step / usual is not over z
        # cannot jump. On a tick where none is (~99 % of the demo's) the recent mean is not read.
        # (every sensor known, the usual tick: the where would divide every entry)
        ratio = t.step / usual if fnp.count_nonzero(known) == ctx.n else \
            np.divide(t.step, usual, out=np.zeros(ctx.n), where=known)
        jump = None
        if fnp.count_nonzero(ratio > self._z):
            self._flush()
            self.ratio = np.divide(t.step, np.maximum(usual, self.recent.mean()), out=ratio, where=known)
            jump = known & (ratio > self._z)
        if jump is None or not fnp.count_nonzero(jump):      # the calm tick: no jump, nothing more to judge
            return self._calm(consecutive, t)
        cond = np.zeros(ctx.n, bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = fnp.where(usual > 0, usual, 1.0)
            # The context is judged calm on its normal scale alone: a busy neighbour is not calm.
            context_ratio = fnp.where(known, t.step / scale, 0.0)
            onto_floor = t.low & (t.level > 0)          # (t.low: at its floor, dead.AT_FLOOR)
            out = (t.x < ctx.lo) | (t.x > ctx.hi)
        jump &= ~onto_floor & ~out
        kept = np.zeros(ctx.n, bool)
        for i in np.flatnonzero(jump):
            c = ctx.context[i]
            ctx_seen = c[known[c] & t.healthy[c]]
            calm = context_ratio[ctx_seen] <= self.z / 2
            self.calm_context[i] = ctx_seen[calm].tolist()
            # (the process's: its step is the sensor's recent behaviour). Not for a sensor under a fault: its move
            # before is the fault's own (a spike's outlier stacking over ticks rises again, then comes back).
            ramp = bool(t.healthy[i]) and self._ramping(i, t, usual[i])
            cond[i] = ctx_seen.size > 0 and bool(calm.all()) and not ramp
            if cond[i] or ramp or ctx_seen.size == 0 or not t.healthy[i]:
                continue
            top = context_ratio[ctx_seen].max()
            if (t.ts <= self.kept_until[i] and abs(t.x[i] - self.kept_from[i]) <= BACK_TO * abs(self.kept_jump[i])
                    and top <= self.z):
                cond[i] = True                      # back where it jumped from, alone: a spike, in a busy context
                self.kept_until[i] = -np.inf
            elif context_ratio[i] >= DOMINANT * top:
                kept[i] = True
                self.kept_from[i], self.kept_jump[i] = t.prev[i], t.x[i] - t.prev[i]
                self.kept_until[i] = t.ts + (BACK_TICKS + 0.5) * self.tick_s
        # The outliers themselves (and their way back, and a kept jump) are not the sensor's recent behaviour.
        self._defer(consecutive & ~cond & ~kept, t.step)
        if self.held.calm(cond):
            return self.held.nothing, self.held.nothing
        lasted = self.held.update(cond, t.observed, t.ts)
        return cond, cond & (lasted >= max(self.required_s, 1e-9))

    def _count_since_gap(self, consecutive: np.ndarray) -> None:
        """This tick's step counted; once every sensor has more than RECENT_TICKS, the count is dropped."""
        self.since_gap += consecutive
        if fnp.count_nonzero(self.since_gap > RECENT_TICKS) == self.since_gap.size:
            self.since_gap = None

    def _ramping(self, i: int, t: Tick, usual: float) -> bool:
        """The jump of sensor `i` goes on a move of its own that had begun before it: over the RAMP_TICKS ticks
        before, it moved the jump's way at least RAMP_Z × its usual change × √RAMP_TICKS (a random walk of its
        usual steps goes that far about 1 % of the time). A spike is a there-and-back from where the sensor
        was; a jump that goes on a one-way move is the process (a flow ramping down as a valve closes, a
        temperature rising: SKAB other/12's FT101, other/14's TT102, reported as spikes before: qa33) — the
        anomaly detector's business. Not known (a reading missing, fewer ticks since the start): no ramp."""
        before = self._xs[(self._x_at + 1) % (RAMP_TICKS + 2)]        # the oldest kept: RAMP_TICKS before t − 1
        if before is None:
            return False
        moved = t.prev[i] - before[i]
        jump = t.x[i] - t.prev[i]
        return bool(moved * jump > 0 and abs(moved) >= RAMP_Z * usual * RAMP_TICKS ** 0.5)

    def _calm(self, consecutive: np.ndarray, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        """A tick with no jump: its steps are the recent behaviour, nothing holds."""
        self._defer(consecutive, t.step)
        if not self.held.idle:          # (its condition is all False: every seen sensor starts over)
            self.held.update(self.held.nothing, t.observed, t.ts)
        return self.held.nothing, self.held.nothing

    def _screen(self, normal, moving: np.ndarray) -> None:
        """A per-sensor step under which no ratio can pass z for the next SCREEN_TICKS learned ticks,
        made while every sensor learns at the floor rate a (Normal.rate_floor). A tick's learning
        leaves abs_step ≥ (1 − a)·abs_step (the steps learned are ≥ 0) and 1 − repeat ≤ max(1 − repeat,
        0) + a (the repeats learned are 0 or 1), so after k ≤ SCREEN_TICKS = K ticks the usual change
        is at least abs_step·(1 − a)^K / max(1 − repeat + K·a, K·a, MIN_MOVING). Given up to every
        rounding on the way: 1e-9 of it and 1e-12 of the room (a normal float's rounding is a few
        2⁻⁵³ of it), and z × 1e-300 (a subnormal's is up to 2⁻¹⁰⁷⁴ whatever its size: the
        screen is then at most z × 1e-300 under its bound, and below 0 for an abs_step under 1e-300).
        A step at or under z × that has a ratio ≤ z: the tick is calm without computing it. A
        statistic that is not a number gives NaN, never passed, and a usual change that is NaN,
        never a jump; a bound below 0 is passed by every step (the tick is then computed)."""
        if not normal.rate_floor:
            self._under = None
            return
        if self._screen_a != normal.alpha_min:
            a, k = normal.alpha_min, SCREEN_TICKS
            self._screen_a = a
            self._room_add = fnp.const(k * a + 1e-12)
            self._room_min = fnp.const(max(k * a, MIN_MOVING) + 1e-12)
            self._shrink = fnp.const(self.z * (1.0 - a) ** k * (1.0 - 1e-9))
            self._less = fnp.const(self.z * 1e-300)
        self._under = normal.abs_step * self._shrink / np.maximum(moving + self._room_add, self._room_min) - self._less
        self._under_at, self._under_era = normal.learns, normal.era

    def _defer(self, kept: np.ndarray, step: np.ndarray) -> None:
        """`recent.push(kept, step)`, made when `recent` is next read (_flush): a push writes a whole
        slot of the ring, so of the waiting pushes only the last RECENT_TICKS can leave a trace; they
        are kept (the arrays, not copies) in a ring of their own. Read only on a tick the screen does
        not clear and in the checkpoint, the recent steps cost two list writes a tick instead of a push."""
        slot = self._waiting % RECENT_TICKS
        self._kept[slot] = kept
        self._steps[slot] = step
        self._waiting += 1

    def _flush(self) -> None:
        """Make the waiting pushes, oldest first: the pushes dropped (overwritten by later ones
        before any read) only move the ring's head, so `recent` is then bit for bit the ring pushed
        every tick."""
        waiting, recent = self._waiting, self.recent
        if not waiting:
            return
        last = min(waiting, RECENT_TICKS)
        recent.head = (recent.head + waiting - last) % recent.size
        for k in range(waiting - last, waiting):
            slot = k % RECENT_TICKS
            recent.push(self._kept[slot], self._steps[slot])
        self._waiting = 0

    def evidence(self, i: int, t: Tick) -> dict:
        prev = t.prev[i]
        return {"summary": f"jumped from {prev:g} to {t.x[i]:g}, {self.ratio[i]:.0f}× its normal tick-to-tick "
                           f"change, while {', '.join(t.ctx.names[j] for j in self.calm_context[i])} stayed calm",
                "value": round(float(t.x[i]), 4), "previous": None if np.isnan(prev) else round(float(prev), 4),
                "normal_step": round(float(self.usual[i]), 6), "ratio": round(float(self.ratio[i]), 2),
                "neighbours": names_values(t, self.calm_context[i])}

    def state(self) -> dict:
        self._flush()
        return {"held": self.held.state(), "seen_before": self.seen_before.tolist(), "head": self.recent.head,
                "recent": self.recent.ring(),
                "recent_sums": self.recent.sums(),
                "kept": [[v if np.isfinite(v) else None for v in a.tolist()]
                         for a in (self.kept_from, self.kept_jump, self.kept_until)],
                "since_gap": None if self.since_gap is None else self.since_gap.tolist()}

    def restore(self, state: dict) -> None:
        self.held.restore(state["held"])
        seen = np.zeros(self.seen_before.size, bool)     # (a new array: seen_before may be the tracker's read-only one)
        seen[:] = state["seen_before"]
        self.seen_before = seen
        rows = ring_held(state["recent"], self.recent.zeroed.shape)
        if rows is None:
            raise ValueError(f"spike.recent: not a ring of {self.recent.size} rows × {self.recent.n}")
        self.recent.set_rows(rows, int(state["head"]), state.get("recent_sums"))
        self._waiting = 0
        gap = state.get("since_gap")        # (a checkpoint from before it: none)
        self.since_gap = None if gap is None else np.array(gap, np.int64)
        if "kept" in state:             # (a checkpoint from before it: nothing kept)
            for a, saved, none in zip((self.kept_from, self.kept_jump, self.kept_until), state["kept"],
                                      (np.nan, 0.0, -np.inf)):
                a[:] = [none if v is None else v for v in saved]
