"""Per-sensor health: dropout (missing past the carry-forward bound) and stuck values."""
from __future__ import annotations

import numpy as np

from .alerts import iso

STUCK_TICKS = 20


class SensorHealth:
    """Emits an event when a sensor goes missing, gets stuck, or comes back."""

    def __init__(self, sensors: list[str], tick_s: float, stuck_ticks: int = STUCK_TICKS):
        self.sensors = sensors
        self.stuck_ticks = stuck_ticks
        n = len(sensors)
        self.state = np.array(["ok"] * n, dtype=object)
        self.same = np.zeros(n, int)
        self.last = np.full(n, np.nan)
        self.varied = np.zeros(n, bool)     # ever changed value: a constant sensor is not 'stuck'

    def observe(self, row) -> list[dict]:
        observed = ~row.missing & ~row.carried
        changed = observed & (row.values != self.last)
        self.varied |= changed & np.isfinite(self.last)
        self.same = np.where(observed & ~changed, self.same + 1, np.where(observed, 0, self.same))
        self.last = np.where(observed, row.values, self.last)
        new = np.where(row.missing, "missing",
                       np.where(self.varied & (self.same >= self.stuck_ticks), "stuck", "ok")).astype(object)
        events = []
        for i in np.flatnonzero(new != self.state):
            state = new[i]
            detail = {"missing": "no value past the carry-forward bound",
                      "stuck": f"same value {self.last[i]:g} for {self.same[i]} ticks",
                      "ok": f"reporting again after being {self.state[i]}"}[state]
            events.append({"ts": iso(row.ts), "sensor": self.sensors[i], "state": state, "detail": detail})
        self.state = new
        return events

    def missing_now(self) -> list[str]:
        return [s for s, st in zip(self.sensors, self.state) if st == "missing"]

    def stuck_now(self) -> list[str]:
        return [s for s, st in zip(self.sensors, self.state) if st == "stuck"]
