"""A restart down exactly as long as the window is judged the same at every time of day (review13).

Pipeline.after_restart refills the window when the agent was down longer than the window, and an
open alert is then judged at the first score after the refill (clock25; closed as an outage: ended
at once). The gap came in seconds, a difference of epoch stamps (first new tick − last tick − one
tick), and was compared with steps × tick_s: on a 0.1-s tick the rounding of stamps
near 1.7e9 made a gap of exactly the window 'longer' at four ticks in five and 'not longer' at the
fifth — the same restart ended the alert or continued it depending on the second it happened.
The gap is whole ticks; it is compared as such. And data at the very next tick after a restart is no
restart gap at all."""
from __future__ import annotations

import time

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.records import Record, Rejects
from agent.window import Aligner, Row
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
        gap_s = max(0.0, first - last - TICK)               # as the agent measures it (agent/resume.py)
        ended = [e.event for e in again.after_restart(first, gap_s, skipped=True)]
        decided.append((ended, again.refill, again.alerts.active))
    assert all(d == ([], 0, True) for d in decided), decided
    assert not again.alerts.open.judge_after_refill      # (the boundary: continued as before)
    last = rows[-1].ts
    first = rows[-1].ts + (STEPS + 2) * TICK                # one tick more: longer than the window
    again = Pipeline(cfg)                                   # skipped: the window refills, the alert is judged
    again.restore(state)                                    # at its first score after it (clock25)
    assert [e.event for e in again.after_restart(first, first - last - TICK, skipped=True)] == []
    assert again.refill == STEPS and again.alerts.open.judge_after_refill
    again = Pipeline(cfg)                                   # closed as an outage: ended at once
    again.restore(state)
    assert [e.event for e in again.after_restart(first, first - last - TICK, skipped=False)] == ["end"]


def live(ts: float) -> Record:
    return Record(ts=ts, values={"a": 1.0, "b": 2.0}, origin="udp", received=ts)


def test_data_at_the_next_tick_after_a_restart_is_no_restart_gap():
    """The wall clock had closed ticks past the newest data when the checkpoint was taken (every
    sensor silent a few seconds, window.idle_flush_s on); the first data after the restart comes at
    the next tick to close. Nothing lies between: the old code counted a restart gap of 0 s (health,
    /metrics, and the log's 'restart gap: … 0 tick(s) not run')."""
    def aligner() -> Aligner:
        return Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    first = aligner()
    t0 = float(int(time.time()) - 600)
    for i in range(30):
        first.push(live(t0 + i))
        first.flush_until(t0 + i - 1.5)
    for i in range(30, 40):                 # ten seconds of silence: closed on the wall clock
        first.flush_until(t0 + i - 1.5)
    assert first.last_closed_k > first.newest_k + 1
    again = aligner()
    again.restore(first.state_dict())
    k = again.next_k
    rows = []
    for j in range(5):
        rows += again.push(live((k + j) * 1.0))
    assert again.restart_gaps == 0 and again.last_restart_gap is None and not again.moves, \
        (again.restart_gaps, again.last_restart_gap, again.moves)
    assert [again.tick_of(r.ts) for r in rows][:1] == [k] and not again.rejects.as_dict()
