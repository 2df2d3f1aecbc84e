"""A restart down exactly as long as the window is judged the same at every time of day (review13).

Pipeline.after_restart ends an open alert and refills the window when the agent was down longer
than the window. The gap came in seconds, a difference of epoch stamps (first new tick − last
tick − one tick), and was compared with steps × tick_s: on a 0.1-s tick the rounding of stamps
near 1.7e9 made a gap of exactly the window 'longer' at four ticks in five and 'not longer' at the
fifth — the same restart ended the alert or continued it depending on the second it happened.
The gap is whole ticks; it is compared as such."""
from __future__ import annotations

import time

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row
from conftest import ar1_rows, through_file

SENSORS = ["P1_flow", "P1_temp", "P1_press", "P2_flow", "P2_temp", "P2_press"]
TICK = 0.1
STEPS = 16


def test_a_gap_of_exactly_the_window_continues_the_alert_at_every_tick():
    cfg = config.from_dict({
        "sensors": SENSORS, "sources": [{"type": "stdin"}], "tick_s": TICK, "topology": "group",
        "window": {"steps": STEPS}, "warmup": {"ticks": 80}, "scoring": {"chain": ["numpy"]},
        "faults": {"enabled": False},       # (its rules' timers are seconds: on 0.1-s ticks they hold the step)
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 3, "update_interval_s": 10000}})
    k0 = int(time.time() / TICK)                            # stamps of today, as a live source gives them
    rows = [Row(ts=(k0 + i) * TICK, values=r.values, missing=r.missing, carried=r.carried)
            for i, r in enumerate(ar1_rows(165, len(SENSORS), 0, (150, 190, 25.0), np.arange(len(SENSORS)) < 3, 0.02))]
    running = Pipeline(cfg)
    for r in rows:
        running.step(r)
    assert running.alerts.active
    state = through_file(running.state_dict())
    decided = []
    for later in range(40):                                 # the same restart, 40 ticks of the clock apart
        last_k = k0 + len(rows) - 1 + later
        last, first = last_k * TICK, (last_k + STEPS + 1) * TICK    # STEPS ticks not run between them
        again = Pipeline(cfg)
        again.restore(state)
        gap_s = max(0.0, first - last - TICK)               # as the agent measures it (service.py)
        ended = [e.event for e in again.after_restart(first, gap_s)]
        decided.append((ended, again.refill, again.alerts.active))
    assert all(d == ([], 0, True) for d in decided), decided
    again = Pipeline(cfg)                                   # one tick more: longer than the window
    again.restore(state)
    last = rows[-1].ts
    first = rows[-1].ts + (STEPS + 2) * TICK
    assert [e.event for e in again.after_restart(first, first - last - TICK)] == ["end"] and again.refill == STEPS
