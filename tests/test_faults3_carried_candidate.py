"""A fault candidate whose reading is carried forward on a tick is still a candidate, and its alert still waits (faults3).

A frozen OPC UA value is re-sent late now and then: on such a tick the reading is carried forward, not observed,
so no rule's condition held and the sensor was no candidate; the hold-back saw no suspect and the alert the freeze
raised opened there, before its `stuck` (which comes later too: a carried tick is not counted in the run). Now a
candidate stays one while its reading does not come (FaultTracker.observe), and the hold-back does not count such
a tick against its wait (HoldBack.hold), as the rule does not count it.

Real parts: the OPC UA test server's three sines as a 1-s agent samples them, written to a real CSV and replayed
through a Pipeline at the defaults (tests/skid_replay.py)."""
from __future__ import annotations

import numpy as np

from agent.faults.holdback import HoldBack
from skid_replay import SENSORS, replayed, skid_csv

FROZEN_AT = 60          # ticks: temp_motor held from here on


def test_a_frozen_value_re_sent_late_waits_for_its_stuck(tmp_path):
    # temp_motor's held value missing from every 10th tick of the hold (carried forward). main opened the alert
    # during the hold (on a carried tick: no suspect, no wait); now no alert until well after the stuck masked it.
    skid_csv(tmp_path / "skid.csv", 300, 1.7, FROZEN_AT, late_every=10)
    faults, alerts, pipe = replayed({"tick_s": 1.0, "topology": "group", "sensors": SENSORS, "warmup": {"ticks": 40},
                                     "sources": [{"type": "replay", "path": str(tmp_path / "skid.csv")}],
                                     "scoring": {"chain": ["numpy"]}}, tmp_path)
    assert [(f.event, f.kind, f.sensor) for f in faults] == [("fault", "stuck", "temp_motor")]
    assert [a for a in alerts if a.ts < faults[0].ts + 30] == []
    assert pipe.health.held_alerts > 0          # it waited, carried ticks and all


def test_the_wait_does_not_count_a_tick_whose_driver_was_not_observed():
    hb = HoldBack(tick_s=1.0, holdback_s=3.0, drift_holdback_s=0.0, lone_holdback_s=0.0, corroborate=0.5)
    scores, context = np.array([9.0, 0.1]), [np.array([1]), np.array([0])]
    suspect, none, fits = np.array([True, False]), np.zeros(2, bool), np.zeros(2, bool)
    seen, carried = np.ones(2, bool), np.array([False, True])
    waits = [hb.hold(float(t), scores, 1.0, context, suspect, none, fits, carried if t % 2 else seen) for t in range(7)]
    # 3 counted ticks (t 0, 2, 4) and the carried ones between them wait; the 4th counted (t 6) does not: the alert
    # opens (main: the 4th tick, t 3)
    assert waits == [True] * 6 + [False]
