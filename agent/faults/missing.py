"""missing: no reading past the carry-forward bound (window.carry_forward_s) for `missing_s`.

The aligner already carries a silent sensor's last value for carry_forward_s; after that the
sensor is missing, and after `missing_s` more it is reported. Check on site: power and
communication to the detector / transmitter, the controller's report schedule.
"""
from __future__ import annotations

import numpy as np

from .config import FaultConfig
from .rule import Held, Tick


class Missing:
    KIND = "missing"
    quiet_on = "missing"        # (rule.rule_quiet: no sensor missing and nothing held is the calm below)

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        self.required_s = cfg.missing_s
        self.held = Held(ctx.n, tick_s)
        self.every = np.ones(ctx.n, bool)

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        if self.held.calm(t.missing):
            return self.held.nothing, self.held.nothing
        lasted = self.held.update(t.missing, self.every, t.ts)
        return t.missing, t.missing & (lasted >= max(self.required_s, 1e-9))

    def rejudge(self, i: int) -> None:
        """Sensor i's silence counted afresh from the next tick (its source is back, it is not yet:
        faults/source.py): told as its own fault only if it lasts `missing_s` from now."""
        self.held.ticks[i] = 0
        self.held.since[i] = np.nan

    def evidence(self, i: int, t: Tick) -> dict:
        last = t.prev[i]
        return {"summary": f"no reading for {self.held.ticks[i] * self.held.tick_s:g} s past the carry-forward bound",
                "last_value": None if np.isnan(last) else round(float(last), 4)}
