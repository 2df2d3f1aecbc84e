"""never_varied: a sensor that has read one value on every tick since it was first read — a loop stuck at 0, a
speed held at one number — while the sensors it should move with (topology neighbours, station / machine mates)
moved, for `faults.learn_s`.

Why a rule of its own (faults16): every other rule compares a sensor with what it learned of it. `stuck` leaves a
sensor that never varied alone (it may be a setpoint) and `dead` one usually at its floor (a quiet road at night), so
a sensor broken from its first tick — a station added with no column in `warmup.replay`'s recording, or a fresh
agent warmed up on live ticks — was never paged while it stayed so, and no model scored it either (a sensor with no
normal learnt joins scoring once it moves): the operator saw nothing but a start-up line. A sensor silent from its
first tick is `missing` already (missing.py); this is the one that reads.

What it can judge: that the sensor has not changed once since it was first read, over `learn_s` (the time the rules
take to learn what a sensor does), while on at least half of those ticks most of its context that has shown itself
working (read and changed before, healthy) changed value — a station whose three loops all read 0 is judged by its
neighbours, its mates being suspects too. What it cannot: whether the sensor is held, dead, or constant by design
(a setpoint in `sensors`), or at rest since the start (a pump off for the night: review43, the page ends once it
runs); its evidence says so, once. A sensor with no context (a single series) is never judged.
A candidate once it has held `stuck_s` so; decided at `learn_s`; it ends `clear_s` after the sensor first reads
another value (from then on the other rules learn it), and while it has not, it stays judged even if its context
rests (as dead's: faults14).
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from ..alerts import iso
from .config import FaultConfig
from .rule import Held, Tick, names_values

MOVED_SHARE = 0.5   # its context moved on at least this share of the ticks it held


class NeverVaried:
    KIND = "never_varied"
    quiet_on = "always"     # (rule.rule_quiet: not called while its Held is idle — kept so only once all have varied)

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        self.tick_s = tick_s
        self.candidate_s = max(cfg.stuck_s, tick_s)
        self.required_s = max(cfg.learn_s, cfg.stuck_s, cfg.dead_s, tick_s)
        self.held = Held(ctx.n, tick_s)                 # observed ticks since its first reading, one value on all
        self.first = np.full(ctx.n, np.nan)             # its first reading since the tracker started
        self.varied = np.zeros(ctx.n, bool)             # has read another value since
        self.moved = np.zeros(ctx.n)                    # ticks (of held's) on which its context moved
        self.witnesses: list[list[int]] = [[] for _ in range(ctx.n)]    # its context that moved, last tick counted
        self._done = False                              # every sensor has varied: nothing left to judge
        self.held.idle = False                          # (called from the first tick on, until _done)

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        none = self.held.nothing
        if self._done:
            return none, none
        obs = t.observed
        fresh = obs & np.isnan(self.first)
        if fnp.count_nonzero(fresh):
            self.first = fnp.where(fresh, t.x, self.first)
        self.varied |= obs & (t.x != self.first) & ~np.isnan(self.first)
        if fnp.count_nonzero(self.varied) == self.varied.size:
            self._finish()
            return none, none
        suspect = obs & ~self.varied
        proven = obs & self.varied & t.healthy
        with np.errstate(invalid="ignore"):
            changed = proven & (t.step > 0)
        for i in np.flatnonzero(suspect):
            c = t.ctx.context[i]
            peers = c[proven[c]]
            moving = peers[changed[peers]]
            if moving.size and 2 * moving.size >= peers.size:
                self.moved[i] += 1
                self.witnesses[i] = list(moving)
        lasted = self.held.update(suspect, obs, t.ts)
        self.held.idle = False                          # (a sensor is left to vary, or to be read: keep being called)
        self.moved = fnp.where(self.held.ticks > 0, self.moved, 0.0)
        ticks = self.held.ticks
        share_ok = self.moved >= MOVED_SHARE * ticks
        cond = suspect & (lasted >= self.candidate_s) & share_ok
        t.keep_judged(cond, self.KIND, suspect)     # judged: so while it has not varied, its context resting or not
        if not fnp.count_nonzero(cond):
            return none, none
        return cond, cond & (lasted >= self.required_s)

    def evidence(self, i: int, t: Tick) -> dict:
        ticks = int(self.held.ticks[i])
        since = float(self.held.since[i])
        movers = [t.ctx.names[j] for j in self.witnesses[i]]
        return {"summary": f"has read {self.first[i]:g} on every tick since it was first read at {iso(since)} "
                           f"({ticks * self.tick_s:g} s, {ticks} ticks) while {', '.join(movers)} moved (on "
                           f"{int(self.moved[i])} of them); no earlier reading of it was seen (added since the "
                           f"recording, or since the agent started), so the agent cannot tell whether it is held, dead "
                           f"or constant by design (a setpoint: leave it out of `sensors`) or at rest since the agent "
                           f"started (a pump stopped: this page ends once it reads another value — but a warm-up that read "
                           f"it flat scores that change in units of the std floor, an alert, as its end said; "
                           f"`warmup.flat_sensors: learn` learns it live instead), nor score it on a normal of its own",
                "value": round(float(self.first[i]), 4), "first_read": iso(since), "ticks": ticks,
                "context_moved_ticks": int(self.moved[i]), "floor": float(t.ctx.floor[i]),
                "neighbours": names_values(t, self.witnesses[i])}

    def state(self) -> dict:
        # (a sensor that has varied needs no first reading: none is kept, so the state is the same however it began)
        return {"held": self.held.state(),
                "first": [None if varied or np.isnan(v) else float(v) for v, varied in zip(self.first, self.varied)],
                "varied": self.varied.tolist(), "moved": self.moved.tolist()}

    def restore(self, state: dict) -> None:
        self.held.restore(state["held"])
        self.first[:] = [np.nan if v is None else v for v in state["first"]]
        self.varied[:] = state["varied"]
        self.moved[:] = state["moved"]
        if fnp.count_nonzero(self.varied) == self.varied.size:
            self._finish()

    def _finish(self) -> None:
        """Every sensor has varied: nothing is held, and the tracker no longer calls observe (its Held idle)."""
        self._done = True
        self.held.ticks[:] = 0
        self.held.since[:] = np.nan
        self.held.idle = True
        self.moved[:] = 0.0

    def unsaved(self, normal) -> None:
        """Restored from a checkpoint written before this rule (faults16): a sensor whose learned normal step is
        not 0 has varied; the others are judged from their next reading on, as new."""
        self.varied[:] = (normal.count > 0) & (normal.abs_step > 0)
        if fnp.count_nonzero(self.varied) == self.varied.size:
            self._finish()
