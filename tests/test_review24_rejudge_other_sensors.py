"""A fault told to the alerts under a name that is no sensor of the config does not stop the ticks (review24):
an alert journal's fault from a run with other sensors, and a station fault (its `sensor` is the group).

With no checkpoint that fits (the sensors changed), the agent restores the alert journal's tracker anyway
(Resume._resume_alerts): an alert that ended with a sensor fault still lasting (`after_fault`) then names a
sensor the new config may not have. Each scored tick asks for the score without that sensor (the pipeline's
`rejudge`); its index lookup raised ValueError on the first scored tick. Now a sensor not in the config leaves
the score as it is, as a sensor no longer faulty does.

Real parts: the OPC UA test server's skid as a real CSV replayed through a Pipeline (tests/skid_replay.py),
temp_motor frozen so its alert ends with `stuck` (as in test_faults4_fault_end.py); then two Pipelines whose
config renames temp_motor, one given that tracker's state, stepped on the same rows. The station fault: the
same skid with two sensors frozen."""
from __future__ import annotations

import csv
import math

from agent import config
from agent.alerts import iso
from agent.pipeline import Pipeline
from agent.records import Rejects
from agent.sources import open_source
from agent.window import Aligner
from skid_replay import SENSORS, START, replayed, skid_csv


def _skid(tmp_path, names) -> dict:
    return {"tick_s": 1.0, "topology": "group", "sensors": [{"name": s, "group": "skid1"} for s in names],
            "warmup": {"ticks": 40}, "sources": [{"type": "replay", "path": str(tmp_path / "skid.csv")}],
            "scoring": {"chain": ["numpy"]}, "sinks": []}


def test_a_journal_s_fault_on_a_sensor_the_config_lacks_leaves_the_scores_as_they_are(tmp_path):
    skid_csv(tmp_path / "skid.csv", 400, 1.7, 60)
    _, alerts, pipe = replayed(_skid(tmp_path, SENSORS), tmp_path)
    assert [a.reason for a in alerts if a.event == "end"] == ["sensor_fault"]
    journaled = pipe.alerts.state_dict()
    assert journaled["after_fault"]["sensor"] == "temp_motor"           # the fault lasts: it is kept

    cfg = config.from_dict(_skid(tmp_path, [s.replace("temp_motor", "temp_bearing") for s in SENSORS]),
                           base_dir=str(tmp_path))
    given, alone = Pipeline(cfg), Pipeline(cfg)
    given.alerts.restore(journaled)
    source = open_source(cfg.sources[0], cfg.sensor_names(), Rejects(), cfg.base_dir, tick_s=cfg.tick_s)
    scored = 0
    for row in Aligner.for_agent(cfg, Rejects()).align_all(source.records()):
        a, b = given.step(row), alone.step(row)
        assert a.warming == b.warming and (a.warming or a.score == b.score)
        scored += not a.warming
    assert scored > 300 and given.alerts.after_fault == journaled["after_fault"]


def test_a_station_fault_told_to_an_open_alert_ends_it_as_the_station_s_fault(tmp_path):
    """Two of the skid's three sensors freeze on one tick: their `stuck` is told as one `station` fault, whose
    `sensor` is the group, and it began before the alert it is told to (AlertTracker.fault_raised). The
    re-judge looked 'skid1' up as a sensor: ValueError on the next tick above the threshold. Now (faults6) it
    leaves out every sensor faulty under that fault's id, and the alert ends as the station's fault."""
    with (tmp_path / "skid.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *SENSORS])
        for k in range(400):
            at = [min(k, 60), min(k, 60), k]
            w.writerow([iso(START + k), *[f"{10.0 * (i + 1) + math.sin(at[i] / 1.7 + i):.6g}" for i in range(3)]])
    faults, alerts, pipe = replayed(_skid(tmp_path, SENSORS), tmp_path)
    assert [(f.event, f.kind, f.sensor, sorted(f.sensors)) for f in faults] == \
        [("fault", "station", "skid1", ["accel1", "pressure"])]
    assert alerts[0].event == "new" and alerts[0].start <= faults[0].start
    ends = [a for a in alerts if a.event == "end"]
    assert [(e.reason, e.fault) for e in ends] == \
        [("sensor_fault", {"fault_id": faults[0].fault_id, "sensor": "skid1", "kind": "station"})], ends
    assert not pipe.alerts.active
