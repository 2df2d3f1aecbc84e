"""The fault rules at fast ticks (vibration at 10–100 Hz, bench/fuzz.py's 1-ms agent): what they keep
does not grow with 1 / tick_s where nothing reads it. perf39 found drift's departures ring (relation.py,
HISTORY_S of ticks: 1.2 million rows at 1-ms ticks, 61 MB with the log readings' rings, each row written
into every checkpoint as JSON numbers) kept for agents without a loop station, whose rules never write
or read it: the fuzz agent's checkpoint was 27 MB and its RSS ~580 MB."""
from __future__ import annotations

import json

from agent.config import from_dict
from agent.faults.tracker import FaultTracker


def _tracker(tick_s: float, sensors, topology: str | None = None) -> FaultTracker:
    cfg = from_dict({"tick_s": tick_s, "sensors": sensors, **({"topology": topology} if topology else {}),
                     "sources": [{"type": "stdin"}], "scoring": {"chain": ["numpy"]},
                     "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}]})
    return FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)


def _drift(tracker: FaultTracker):
    return next(r for r in tracker.rules if r.KIND == "drift")


def test_without_a_loop_station_the_departures_ring_is_one_row_at_any_tick():
    tracker = _tracker(0.001, ["a", "b", "c"])
    drift = _drift(tracker)
    assert drift.trio.size == 0
    assert drift.history.shape[0] == 1 and drift.log_history.shape[0] == 1     # (1.2 million before)
    saved = json.loads(json.dumps(drift.state()))
    assert len(saved["relation"]["history"]["departures"]) == 1


def test_a_loop_station_keeps_its_departures_for_history_s():
    from agent.faults.relation import HISTORY_S
    from agent.sources.simulate import corridor_sensors
    drift = _drift(_tracker(1.0, corridor_sensors(2), "corridor"))
    assert drift.trio.size > 0
    assert drift.history.shape[0] == int(HISTORY_S / 1.0)
