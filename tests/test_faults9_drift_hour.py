"""faults9: a drift candidate whose departure the previous day reached at this time of day is no candidate
(agent/faults/drift_hour.py). On the corridor's normal days the morning rise and the two peaks move a station's
sensors off what their neighbours predict at the same minutes every day; on main those were drift candidates
day after day, holding back the alerts their sensor drove alone. Real pipelines on bench/faults.py's
simulated corridor (roadside settings, 30-s ticks), no anomaly but the one a test injects."""
from __future__ import annotations

import numpy as np

from agent.config import from_dict
from agent.pipeline import Pipeline
from conftest import bench_module, through_file

DAY = 86400.0


def _corridor(anomalies: list, seed: int = 0, hours: float = 72.0):
    faults = bench_module("faults")
    d = faults.config_dict("corridor", seed, hours)
    d["sources"][0]["anomalies"] = anomalies
    cfg = from_dict(d)
    return cfg, faults.simulated_rows(cfg)


def _candidate_ticks_by_day(cfg, rows) -> list[int]:
    pipe, days = Pipeline(cfg), [0, 0, 0]
    for row in rows:
        pipe.step(row)
        days[int((row.ts - rows[0].ts) // DAY)] += int(np.count_nonzero(pipe.health.candidate))
    return days


def test_normal_days_candidates_are_cut_once_a_previous_day_exists():
    """Three copies of one weekday, no anomaly: the first day has no previous day (judged as on main: 582
    candidate ticks here on main and with the profile); on main the next two had 575 and 642, with it 221 and 253."""
    cfg, rows = _corridor([])
    first, second, third = _candidate_ticks_by_day(cfg, rows)
    assert first > 300                          # the first day's candidates: nothing to explain them with
    assert second <= 0.6 * first and third <= 0.6 * first


def test_a_drift_on_the_third_day_is_a_candidate_and_decided():
    """S03_speed drifting from Wednesday 13:00 (magnitude 1): a candidate before its decision, and decided at
    13:25:30 as on main (the profile takes out only departures the previous day reached there)."""
    start = 2 * DAY + 13 * 3600.0
    cfg, rows = _corridor([{"kind": "drift", "at_s": start, "duration_s": 7200.0, "target": "S03_speed",
                            "magnitude": 1.0}])
    pipe = Pipeline(cfg)
    k = pipe.sensors.index("S03_speed")
    t0, candidate_before, decided = rows[0].ts, False, None
    for row in rows:
        res = pipe.step(row)
        if decided is None and row.ts >= t0 + start and pipe.health.candidate[k]:
            candidate_before = True
        for ev in res.faults:
            d = ev.to_dict()
            if d["kind"] == "drift" and d["sensor"] == "S03_speed" and d["event"] == "fault" and decided is None:
                decided = row.ts - t0 - start
    assert candidate_before
    assert decided == 25.5 * 60


def test_the_profile_survives_a_checkpoint_round_trip():
    """Restored from a real checkpoint on Tuesday evening, the drift rule's candidates on Wednesday are the
    unrestored run's, tick for tick (the previous day's profile is in the checkpoint)."""
    cfg, rows = _corridor([], hours=60.0)
    restore_at = int((DAY + 20 * 3600.0) // 30.0)
    runs = []
    for at in (None, restore_at):
        pipe, out = Pipeline(cfg), []
        for i, row in enumerate(rows):
            if i == at:
                state = through_file(pipe.state_dict())
                pipe = Pipeline(cfg)
                pipe.restore(state)
            pipe.step(row)
            if i >= restore_at:
                out.append(pipe.health.candidate.copy())
        runs.append(np.array(out))
    plain, restored = runs
    assert plain.any()                          # Wednesday morning's rise has candidates to compare
    np.testing.assert_array_equal(restored, plain)
