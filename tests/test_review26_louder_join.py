"""A mate joining a silence with a kind of its own re-judges the alert it drove (review26).

A lone `missing` fault is told to no alert (a sensor with no reading cannot be what an alert was about); a mate
judged `stuck` within `faults.station_join_s` joins it untold (faults6: one page). Before, the alerts heard of
neither, so the frozen mate's alert was never re-judged without it and stayed open on the frozen level for as long
as the freeze lasted. Now the join that makes the fault more than a silence is told to the alerts (not published),
and the fault's end — told under its silent kind — clears the alerts' hold on it.

Real parts: tests/skid_replay.py's skid in a real CSV replayed through a Pipeline (numpy): accel1 silent from
tick 70 (missing at 130), temp_motor frozen from 60 (stuck decided at 150, joins accel1's fault), both back later."""
from __future__ import annotations

import csv
import math

from agent.alerts import iso
from skid_replay import SENSORS, START, replayed


def _skid(tmp_path) -> dict:
    with (tmp_path / "skid.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *SENSORS])
        for k in range(420):
            at = [k, k, min(k, 60) if k < 260 else k]      # temp_motor held from 60 to 260
            cells = [f"{10.0 * (i + 1) + math.sin(at[i] / 1.7 + i):.6g}" for i in range(3)]
            if 70 <= k < 220:
                cells[0] = ""                               # accel1 silent
            w.writerow([iso(START + k), *cells])
    return {"tick_s": 1.0, "topology": "group", "sensors": [{"name": s, "group": "skid1"} for s in SENSORS],
            "warmup": {"ticks": 40}, "sources": [{"type": "replay", "path": str(tmp_path / "skid.csv")}],
            "scoring": {"chain": ["numpy"]}}


def test_a_stuck_mate_joining_a_missing_fault_ends_the_alert_it_drove(tmp_path):
    faults, alerts, pipe = replayed(_skid(tmp_path), tmp_path)
    lone, update, end_fault = faults   # one page: the stuck mate's join told by the fault's update (faults12)
    assert (lone.event, lone.kind, lone.sensor) == ("fault", "missing", "accel1")
    assert (update.event, update.fault_id, update.evidence["kinds"]) == \
        ("fault_update", lone.fault_id, {"accel1": "missing", "temp_motor": "stuck"})
    assert end_fault.event == "fault_end"
    assert end_fault.evidence["kinds"] == {"accel1": "missing", "temp_motor": "stuck"}
    joined_at = START + 150.0
    assert end_fault.evidence["joined"] == {"temp_motor": iso(joined_at)}
    [new, *_, end] = [a for a in alerts if a.alert_id == alerts[0].alert_id]
    assert new.event == "new" and "temp_motor" in [t["sensor"] for t in new.top_sensors]
    # main: never re-judged, the alert was still open at the end of the replay
    assert (end.event, end.reason, end.fault["fault_id"]) == ("end", "sensor_fault", lone.fault_id)
    assert end.end == joined_at and end.ts == joined_at + 1.0
    # the fault's end (under its silent kind) let go of it: no hold on new alerts once it is over
    assert pipe.alerts.after_fault is None and pipe.health.stations.louder == []
