"""missing: no reading past the carry-forward bound (window.carry_forward_s) for `missing_s`.

The aligner already carries a silent sensor's last value for carry_forward_s; after that the
sensor is missing, and after `missing_s` more it is reported. Check on site: power and
communication to the detector / transmitter, the controller's report schedule.

A sensor with no reading yet (none observed since the tracker started: its first ticks after a fresh start) has
no value for the aligner to carry, so it is missing from the first tick; its silence is counted from that tick
and it is reported only once it has lasted the carry-forward bound (`unseen_grace_s`, the tracker's
`carry_forward_s`) and `missing_s` more, as a sensor seen once is. Before, it was told `missing` at the first tick
(with every sensor: a `source` fault) whenever the agent's first record lacked it — a first record whose only
value was refused (out of range, NaN), a sensor of its own topic whose first message came a tick later — and its
fault, ending only after faults.clear_s (60 s) of readings, kept it masked through a warm-up shorter than that: the
warm-up fitted it on no reading (std at the floor, threshold 0), chaos2's MQTT soak.

That wait runs once. A sensor never read that was told missing under its source's fault (faults/source.py) and is
still silent when the source is back is judged afresh from then (`rejudge`) and waits `missing_s`, as a sensor
read before does — not the carry-forward bound again: it already ran while the source was down (review35,
qa43; `waited`, in the checkpoint).
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from ..window import carry_ticks

from .config import FaultConfig
from .rule import Held, Tick


class Missing:
    KIND = "missing"
    quiet_on = "missing"        # (rule.rule_quiet: no sensor missing and nothing held is the calm below)

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float, unseen_grace_s: float = 0.0):
        self.required_s = cfg.missing_s
        self.held = Held(ctx.n, tick_s)
        self.every = np.ones(ctx.n, bool)
        self.grace_s = carry_ticks(unseen_grace_s, tick_s) * tick_s    # the bound as the aligner applies it
        self.waited = np.zeros(ctx.n, bool)     # a sensor never read has had its grace (rejudged: no second one)

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        if self.held.calm(t.missing):
            return self.held.nothing, self.held.nothing
        lasted = self.held.update(t.missing, self.every, t.ts)
        decided = t.missing & (lasted >= max(self.required_s, 1e-9))
        if self.grace_s and fnp.count_nonzero(decided):
            unseen = np.isnan(t.prev) & ~self.waited    # no reading yet: its silence began at the first tick
            decided &= ~unseen | (lasted - self.grace_s >= max(self.required_s, 1e-9))
        return t.missing, decided

    def rejudge(self, i: int) -> None:
        """Sensor i's silence counted afresh from the next tick (its source is back, it is not yet:
        faults/source.py): told as its own fault only if it lasts `missing_s` from now."""
        self.held.ticks[i] = 0
        self.held.since[i] = np.nan
        self.waited[i] = True       # never read or not, its grace ran while it was missing under the source

    def state(self) -> dict:
        return {**self.held.state(), "waited": self.waited.tolist()}

    def restore(self, state: dict) -> None:
        """Held's state; `waited` absent (a checkpoint from before it): none has had its grace."""
        self.held.restore(state)
        self.waited[:] = state.get("waited") or False

    def evidence(self, i: int, t: Tick) -> dict:
        last = t.prev[i]
        if np.isnan(last) and self.waited[i]:
            return {"summary": f"no reading since the first tick; silent {self.held.ticks[i] * self.held.tick_s:g} s "
                               "since its source came back", "last_value": None}
        if np.isnan(last) and self.grace_s:
            return {"summary": f"no reading since the first tick, {self.held.ticks[i] * self.held.tick_s - self.grace_s:g} s "
                               "past the carry-forward bound", "last_value": None}
        return {"summary": f"no reading for {self.held.ticks[i] * self.held.tick_s:g} s past the carry-forward bound",
                "last_value": None if np.isnan(last) else round(float(last), 4)}
