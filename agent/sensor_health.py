"""Per-sensor health: dropout (missing past the carry-forward bound) and stuck values."""
from __future__ import annotations

import numpy as np

from .alerts import iso
from .checkpoint import array_like

STUCK_TICKS = 20
OK, MISSING, STUCK = 0, 1, 2
STATE_NAMES = ("ok", "missing", "stuck")


class SensorHealth:
    """Emits an event when a sensor goes missing, gets stuck, or comes back."""

    def __init__(self, sensors: list[str], tick_s: float, stuck_ticks: int = STUCK_TICKS):
        self.sensors = sensors
        self.stuck_ticks = stuck_ticks
        n = len(sensors)
        self.state = np.zeros(n, np.int8)
        self.same = np.zeros(n, np.int64)       # observed ticks in a row with an unchanged value
        self.last = np.full(n, np.nan)
        self.varied = np.zeros(n, bool)         # ever changed value: a constant sensor is not 'stuck'

    def observe(self, row) -> list[dict]:
        observed = ~(row.missing | row.carried)
        unchanged = observed & (row.values == self.last)
        changed = observed & ~unchanged
        self.varied |= changed & ~np.isnan(self.last)
        self.same += unchanged
        self.same[changed] = 0
        np.copyto(self.last, row.values, where=observed)
        new = np.where(row.missing, MISSING, STUCK * (self.varied & (self.same >= self.stuck_ticks)))
        flips = np.flatnonzero(new != self.state)
        if flips.size == 0:
            return []
        events = []
        for i in flips:
            state = STATE_NAMES[new[i]]
            detail = {"missing": "no value past the carry-forward bound",
                      "stuck": f"same value {self.last[i]:g} for {self.same[i]} ticks",
                      "ok": f"reporting again after being {STATE_NAMES[self.state[i]]}"}[state]
            events.append({"ts": iso(row.ts), "sensor": self.sensors[i], "state": state, "detail": detail})
        self.state = new.astype(np.int8)
        return events

    def missing_now(self) -> list[str]:
        return [s for s, st in zip(self.sensors, self.state) if st == MISSING]

    def stuck_now(self) -> list[str]:
        return [s for s, st in zip(self.sensors, self.state) if st == STUCK]

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        return {"state": self.state, "same": self.same, "last": self.last, "varied": self.varied}

    def restore(self, state: dict) -> None:
        """Validates everything before changing anything."""
        new = {k: array_like(state[k], getattr(self, k), f"health.{k}") for k in ("state", "same", "last", "varied")}
        if not np.isin(new["state"], (OK, MISSING, STUCK)).all():
            raise ValueError("health.state: unknown sensor state")
        for k, v in new.items():
            setattr(self, k, v)
