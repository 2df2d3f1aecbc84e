"""stuck: the value stopped moving. Two signs, either one is enough:

- unchanged: exactly the same reading for `stuck_s` — longer for a sensor that repeats its value
  now and then when healthy (a count that is often 0, a coarse transmitter): it must be stuck
  for long enough that a healthy run of repeats that long has odds under FALSE_RUN_ODDS. A
  sensor that never varied is never stuck (it may be a setpoint);
- flatline: its relative tick-to-tick change (|Δx| over the reading's size) over the last
  `flatline_s` collapsed below `flatline_ratio` of its normal — a frozen value with a little
  transmitter noise on top. Relative, because many sensors' noise grows with their level.

Check on site: a frozen controller / PLC register (the value is not being refreshed), a detector
card in a fail-safe state, a blocked or iced sensor, a transmitter left in test mode.
"""
from __future__ import annotations

import math

import numpy as np

from .config import FaultConfig
from .rule import Held, Tick

FALSE_RUN_ODDS = 1e-6
FLAT_SEEN = 0.8         # share of the flatline window that must have been observed
OFTEN_REPEATS = 0.5      # a sensor repeating its value on more ticks than this is not judged stuck


class Stuck:
    KIND = "stuck"

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        self.tick_s = tick_s
        self.stuck_s = cfg.stuck_s
        self.ratio = cfg.flatline_ratio
        self.flat_ticks = max(2, int(math.ceil(cfg.flatline_s / tick_s)))
        self.held = Held(ctx.n, tick_s)
        self.steps = np.full((self.flat_ticks, ctx.n), np.nan)     # the last |Δx| per sensor, a ring
        self.head = 0
        self.required = np.full(ctx.n, cfg.stuck_s)
        self.p_run = np.full(ctx.n, 0.5)           # repeat rate when the current run began
        self.flat = np.zeros(ctx.n, bool)

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        normal = t.normal
        step = t.step
        same = t.observed & (step == 0)
        lasted = self.held.update(same, t.observed, t.ts)
        # Run length whose odds under the repeat rate are below FALSE_RUN_ODDS, the rate taken as
        # it was when this run began (the run itself is learned as it goes).
        p = np.minimum(np.maximum(np.maximum(normal.repeat, 1.0 / (normal.count + 2.0)), 1e-12), 0.999)   # clip
        self.p_run = np.where(self.held.ticks <= 1, p, self.p_run)
        if np.count_nonzero(self.held.ticks):       # only an unchanged run is judged (and told) against it
            guard = np.ceil(math.log(FALSE_RUN_ODDS) / np.log(self.p_run)) * self.tick_s
            self.required = np.maximum(self.stuck_s, guard)
        varies = normal.learned & (normal.repeat < OFTEN_REPEATS) & (normal.abs_step > 0)

        self.steps[self.head] = np.where(t.observed & np.isfinite(step), normal.relative_step(step, t.x), np.nan)
        self.head = (self.head + 1) % self.flat_ticks
        seen = np.isfinite(self.steps).sum(axis=0)
        recent = np.where(np.isnan(self.steps), 0.0, self.steps).sum(axis=0) / np.maximum(seen, 1)   # nansum
        self.flat = varies & (seen >= FLAT_SEEN * self.flat_ticks) & (recent < self.ratio * normal.rel_step)
        cond = varies & (same | self.flat)
        decided = varies & ((same & (lasted >= self.required)) | self.flat)
        return cond, decided

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
        return {"held": self.held.state(), "head": self.head, "p_run": self.p_run.tolist(),
                "steps": [[None if np.isnan(v) else v for v in r] for r in self.steps.tolist()]}

    def restore(self, state: dict) -> None:
        self.held.restore(state["held"])
        self.head = int(state["head"])
        self.p_run[:] = state["p_run"]
        self.steps[:] = [[np.nan if v is None else v for v in r] for r in state["steps"]]
