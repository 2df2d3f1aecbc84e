"""faults12: a sensor joining an open station fault is told (user27: K030 reporting zeros — `FAULT station K030 …
2 sensors (K030_flow, K030_occ: dead)`, K030_speed `dead` a tick later, in health's faults_active, but no event: the
centre's page said two sensors for good). The join is now a `fault_update` of that fault (agent/schemas/
fault.schema.json: seq numbered as an alert's — fault 0, each update the next, the end after them — its `sensors` all it stands for, evidence.kinds and .joined),
and so is a mate joining a sensor's lone fault. It is no page: the tracker counts no new fault, the fault_end is as
before. A CSV of the corridor simulator replayed through the agent's own Pipeline; every payload validated."""
from __future__ import annotations

from agent.listen_events import fault_line
from agent.sources.lines import parse_time
from faults12_replay import H, START, replay


def test_a_mate_joining_an_open_station_or_lone_fault_is_told_as_an_update(tmp_path):
    t0 = parse_time(START)

    def zeros(ts, values):
        if t0 + 3 * H <= ts < t0 + 3.5 * H:          # S04: flow and occupancy at 0, its speed a minute later
            values["S04_flow"] = values["S04_occ"] = 0.0
            if ts >= t0 + 3 * H + 60:
                values["S04_speed"] = 0.0
        if t0 + 2 * H <= ts < t0 + 2.5 * H:          # S02: its flow alone at 0, its occupancy two minutes later
            values["S02_flow"] = 0.0
            if ts >= t0 + 2 * H + 120:
                values["S02_occ"] = 0.0
    faults, _, _ = replay(tmp_path, 5, [], zeros)
    s04 = [f for f in faults if f.group == "S04"]
    assert [(f.event, f.kind) for f in s04] == [("fault", "station"), ("fault_update", "station"),
                                                ("fault_end", "station")], [(f.event, f.kind) for f in s04]
    told, update, end = s04
    assert told.sensors == ["S04_flow", "S04_occ"]
    assert update.fault_id == told.fault_id == end.fault_id and (told.seq, update.seq, end.seq) == (0, 1, 2)
    assert update.sensors == ["S04_flow", "S04_occ", "S04_speed"]
    assert update.evidence["kinds"]["S04_speed"] == "dead" and "S04_speed" in update.evidence["joined"]
    assert update.evidence["summary"].startswith("S04_speed (dead) joined: 3 sensors of S04 faulty together")
    assert "FAULT_UPDATE" in fault_line(update.to_dict()) and "S04_speed (dead) joined" in fault_line(update.to_dict())
    s02 = [f for f in faults if f.group == "S02"]
    assert [(f.event, f.sensor) for f in s02] == [("fault", "S02_flow"), ("fault_update", "S02_flow"),
                                                  ("fault_end", "S02_flow")], [(f.event, f.sensor, f.kind) for f in s02]
    assert "S02_occ" in s02[1].evidence["joined"] and "sensors" not in s02[1].to_dict()
    # one page each: the updates raise no new fault
    assert sum(f.event == "fault" for f in faults) == 2
