"""out_of_range: a reading outside the sensor's physical range (`min` / `max` in `sensors`) for
`out_of_range_s`. Only sensors with a configured range are checked — or one a Modbus integer register implies, short of
its rail values (agent/register_ranges.py: a broken loop's 0xFFFF is a fault, not an incident).

Check on site: the transmitter's scaling and wiring (a 4–20 mA loop open reads below range, a
short above), the unit configured in the controller.
"""
from __future__ import annotations

import numpy as np

from .config import FaultConfig
from .rule import Held, Tick


class OutOfRange:
    KIND = "out_of_range"

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        self.required_s = cfg.out_of_range_s
        self.held = Held(ctx.n, tick_s)
        # No sensor with a range (the demo's, the simulator's): no reading is ever outside, so while
        # nothing is held (always, but after a restore) the tick is calm without a compare.
        self._no_range = not ctx.configured_range.any()
        self.quiet_on = "always" if self._no_range else None     # (rule.rule_quiet: that calm)

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        if self._no_range and self.held.idle:
            return self.held.nothing, self.held.nothing
        outside = (t.x < t.ctx.lo) | (t.x > t.ctx.hi)       # (NaN compares False, without a warning)
        if self.held.calm(outside):         # (none outside: nor is any observed one)
            return self.held.nothing, self.held.nothing
        cond = t.observed & outside
        lasted = self.held.update(cond, t.observed, t.ts)
        return cond, cond & (lasted >= max(self.required_s, 1e-9))

    def evidence(self, i: int, t: Tick) -> dict:
        lo, hi = t.ctx.lo[i], t.ctx.hi[i]
        note = t.ctx.range_notes[i](float(t.x[i])) if t.ctx.range_notes[i] else ""
        return {"summary": f"reads {t.x[i]:g}, outside its range [{lo:g}, {hi:g}]" + (f": {note}" if note else ""),
                "value": round(float(t.x[i]), 4), "min": None if np.isinf(lo) else lo,
                "max": None if np.isinf(hi) else hi}
