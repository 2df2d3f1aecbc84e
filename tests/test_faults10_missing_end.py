"""A `missing` fault ends on the first tick its sensor reads again; every other kind keeps `faults.clear_s`.

Why (faults10, docs/measured/faults.md): `clear_s` 60 held every short source stall's sensors faulty and masked a
minute after their readings came back — on a 1-s gateway each 8-s stall every 5 minutes hid the sensors ~23 % of
the time and half the injected drifts went unreported (bench/stall_mask.py: 10 of 20; 20 of 20 now, false alarms
and every other kind's reports unchanged without stalls). The re-entry quiet (the sensor's own score 0 for the
window's length after any fault) still keeps the gap out of the scores. A real FaultTracker as the pipeline builds it.
"""
from __future__ import annotations

import numpy as np

from agent import config
from agent.faults.tracker import FaultTracker
from agent.scorers.base import TickScore, tick_score
from agent.window import Row

TICK = 1.0
STEPS = 16


def _tracker() -> FaultTracker:
    cfg = config.from_dict({"tick_s": TICK, "topology": "group", "sources": [{"type": "stdin"}],
                            "sensors": [{"name": "a", "group": "skid"}, {"name": "b", "group": "skid"},
                                        {"name": "c", "group": "skid", "min": 0.0, "max": 100.0}],
                            "faults": {"clear_s": 60, "missing_s": 0, "out_of_range_s": 0}})
    return FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults, reentry_ticks=STEPS)


def _row(k: int, rng: np.random.Generator, silent: str = "", c: float | None = None) -> Row:
    values = 50.0 + rng.normal(0.0, 1.0, 3)
    if c is not None:
        values[2] = c
    missing = np.array([name == silent for name in "abc"])
    values[missing] = np.nan
    return Row(ts=1000.0 + k * TICK, values=values, missing=missing, carried=np.zeros(3, bool))


def _run(tracker: FaultTracker, rows) -> list:
    out = []
    for row in rows:
        out += [(row.ts, ev) for ev in tracker.observe(row)]
    return out


def test_a_missing_fault_ends_on_the_first_tick_its_sensor_reads_again():
    rng = np.random.default_rng(0)
    tracker = _tracker()
    _run(tracker, [_row(k, rng) for k in range(300)])
    events = _run(tracker, [_row(k, rng, silent="a") for k in range(300, 308)])
    assert [(ev.event, ev.sensor, ev.kind) for _, ev in events] == [("fault", "a", "missing")], events
    assert tracker.active() == {"a": "missing"} and tracker.snapshot()["sensors_missing"] == ["a"]

    back = _row(308, rng)
    ended = tracker.observe(back)
    # main: the fault stayed open (and `a` masked) for clear_s, 60 more ticks of readings
    assert [(ev.event, ev.sensor, ev.reason) for ev in ended] == [("fault_end", "a", "cleared")], ended
    assert ended[0].evidence["summary"] == "readings back" and ended[0].ts == back.ts
    assert tracker.active() == {} and tracker.mask(back) is back        # read and scored again at once
    # …its own score quiet while its gap is in the window (the reason the mask was kept)
    quiet = tracker.quiet(TickScore(sensor_scores=np.array([9.0, 0.5, 0.4]), score=9.0, tier="numpy"))
    assert quiet.sensor_scores[0] == 0.0 and quiet.score == tick_score(np.array([0.0, 0.5, 0.4]))
    assert int(tracker.reentry[0]) == STEPS


def test_every_other_kind_still_ends_clear_s_after_its_condition_is_gone():
    rng = np.random.default_rng(1)
    tracker = _tracker()
    _run(tracker, [_row(k, rng) for k in range(300)])
    events = _run(tracker, [_row(k, rng, c=150.0) for k in range(300, 305)])
    assert [(ev.event, ev.sensor, ev.kind) for _, ev in events] == [("fault", "c", "out_of_range")], events
    events = _run(tracker, [_row(k, rng) for k in range(305, 400)])
    [(ts, end)] = events
    assert end.event == "fault_end" and end.sensor == "c" and end.reason == "cleared", end
    assert ts == 1000.0 + (305 + 59) * TICK             # its 60th tick back in range: clear_s, as before
    assert end.evidence["summary"] == "out_of_range condition gone for 60 s"
