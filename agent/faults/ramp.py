"""The drift rule's ramp: a short or small drift decided below the limit, because it keeps growing.

A drift that is short or small reaches `drift_z` late, or not at all (the pump's 20-minute
simulated drifts reach it in their last minutes, with no station relation to judge them). So a
drift candidate whose context stays calm for `drift_ramp_s` while its departure grows to GROWTH ×
what it was when it became one is a drift too: a drift grows, a neighbour-model misfit plateaus.
It must have been judged without a break for RAMP_WARM_S before: after a fault of another kind the
departure's running mean refills from 0, a rise that is no ramp. Only sensors without a station
relation (relation.py) are judged this way: loop sensors have their relation instead.

It lives apart from drift.py so that each reads in one sitting; drift.py owns the departure and
the candidates and passes them in each judged tick (`update`). `judged_run` is not checkpointed:
after a restart it refills.
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .rule import Held

GROWTH = 1.25            # a calm-context candidate's departure grown this many ×…
RAMP_WARM_S = 900.0      # …and judged without a break this long before it became one


class Ramp:
    def __init__(self, on: np.ndarray, ramp_s: float, tick_s: float):
        n = on.size
        self.on = on                           # the sensors it judges (no station relation)
        self.s = ramp_s
        self.enabled = bool(on.any()) and ramp_s > 0
        self.held = Held(n, tick_s)
        self.start = np.zeros(n)               # its departure's size when it became a candidate
        self.ramped = np.zeros(n, bool)        # drifting, decided by the ramp
        self._ramped_any = False
        self.judged_run = np.zeros(n, np.int64)     # ticks judged without a break
        self.warm_ticks = int(np.ceil(RAMP_WARM_S / tick_s))

    def update(self, pending: np.ndarray, seen: np.ndarray, size: np.ndarray, drifting: np.ndarray,
               ts: float, since: np.ndarray, over: np.ndarray,
               stepped: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """`pending`: calm-context drift candidates; `seen`: judged this tick; `size`: |departure|;
        `since`: the drift rule's Held.since, moved back to when a decided ramp became a candidate
        (the fault starts then); `over`, `stepped`: past half the limit, a step (a ramped drift lasts
        while it is past half the limit and not a step). (condition, decided), or None when nothing holds."""
        self.judged_run = fnp.where(seen, self.judged_run + 1, 0)
        on = pending & self.on & ((self.judged_run >= self.warm_ticks) | (self.held.ticks > 0))
        if self.held.calm(on) and not self._ramped_any:
            return None
        lasted = self.held.update(on, seen, ts)
        fnp.copyto(self.start, size, where=on & (self.held.ticks == 1))
        decided = on & (lasted >= self.s) & (size >= GROWTH * self.start)
        self.ramped = (self.ramped & drifting) | decided
        fnp.copyto(since, np.fmin(since, self.held.since), where=decided)
        self._ramped_any = bool(fnp.count_nonzero(self.ramped))
        return self.ramped & over & ~stepped, decided

    def state(self) -> dict:
        return {"held": self.held.state(), "from": self.start.tolist(), "ramped": self.ramped.tolist()}

    def restore(self, state: dict) -> None:
        self.held.restore(state["held"])
        self.start[:] = state["from"]
        self.ramped[:] = state["ramped"]
        self._ramped_any = bool(self.ramped.any())
