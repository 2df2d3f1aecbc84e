"""The fault tracker's cost cuts keep its behaviour: a rule's cadence (faults.<kind>_every_s) and the
condition timer's idle path (agent/faults/rule.py, tracker.py)."""
from __future__ import annotations

import numpy as np
import pytest

from agent.config import from_dict
from agent.faults.rule import Held
from agent.faults.tracker import FaultTracker
from agent.records import Rejects
from agent.sources.simulate import corridor_sensors, generate
from agent.window import Aligner

TICK_S = 30.0


def corridor_rows(ticks: int, **faults):
    cfg = from_dict({"tick_s": TICK_S, "topology": "corridor", "sensors": corridor_sensors(2), "faults": faults,
                     "sources": [{"type": "simulate", "scenario": "corridor", "seed": 1,
                                  "start": "2026-01-05T00:00:00Z", "duration_s": ticks * TICK_S}]})
    rows = Aligner.for_agent(cfg, Rejects()).align_all(generate(cfg.sources[0], cfg.sensor_names(), cfg.tick_s))
    return cfg, rows


def drift_rule(tracker: FaultTracker):
    return next(r for r in tracker.rules if r.KIND == "drift")


@pytest.mark.parametrize("every_s, k", [(0.0, 1), (3 * TICK_S, 3), (2.6 * TICK_S, 3)])
def test_drift_is_judged_every_k_ticks_as_a_tick_k_times_as_long(every_s, k):
    cfg, rows = corridor_rows(300, drift_every_s=every_s)
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    drift = drift_rule(tracker)
    assert drift.held.tick_s == k * TICK_S               # its durations stay in seconds
    for row in rows:
        tracker.observe(row)
    ran = sum(round(r.ts / TICK_S) % k == 0 for r in rows)
    assert drift.ticks == ran                            # it learned on exactly its own ticks
    assert abs(ran - len(rows) / k) <= 1


def test_every_tick_is_the_default_and_the_other_rules_run_every_tick():
    cfg, _ = corridor_rows(10)
    assert cfg.faults.drift_every_s == 0
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    assert tracker.every == [1] * len(tracker.rules)


def test_drift_every_s_is_validated():
    with pytest.raises(Exception, match=r"faults\.drift_every_s"):
        corridor_rows(10, drift_every_s=-1)


def test_an_idle_condition_timer_returns_what_the_full_update_returns():
    """Held skips its work while nothing holds; the seconds and the state match the full update."""
    rng = np.random.default_rng(0)
    fast = Held(5, 30.0)
    since_expected = np.full(5, np.nan)
    ticks_expected = np.zeros(5, np.int64)
    for step in range(200):
        cond = rng.random(5) < (0.3 if step % 50 < 10 else 0.0)       # bursts, then long idle spells
        seen = rng.random(5) < 0.9
        on = seen & cond
        since_expected = np.where(on & (ticks_expected == 0), float(step),
                                  np.where(seen & ~cond, np.nan, since_expected))
        ticks_expected = np.where(on, ticks_expected + 1, np.where(seen, 0, ticks_expected))
        lasted = fast.update(cond, seen, float(step))
        np.testing.assert_array_equal(lasted, ticks_expected * 30.0)
        np.testing.assert_array_equal(fast.ticks, ticks_expected)
        np.testing.assert_array_equal(fast.since, since_expected)
    assert fast.idle == (not ticks_expected.any())
