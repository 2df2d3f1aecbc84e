"""Sensors of one station / machine judged faulty together are one fault (kind `station`), not one each
(agent/faults/station.py; user11: a loop station zeroed was three `stuck` pages for one cut cable).

The agent's own Pipeline and fault tracker fed tick rows (group topology: a, b, c on skid1, d on skid2; a
udp feed, which is not down while d reads), the checkpoint's own encode/decode and the fault journal's open
faults for restarts; then a real `stad-agent run` replaying a corridor recording whose station S02 reads 0
on all three readings, its jsonl file and a real Mosquitto subscriber."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from agent.evaluate.faults import reported_faults
from agent.window import Row
from fault_states import saved as through_checkpoint
from mqtt_broker import MOSQUITTO, Collector, broker, make_broker  # noqa: F401 — fixtures
from source1_events import faults
from station_feed import FAULT_SCHEMA, T0, Feed, tracker

ROOT = Path(__file__).resolve().parents[1]
def said(events) -> list[tuple]:
    return [(ev.event, ev.kind, ev.sensor) for ev in events]


def test_mates_faulty_together_are_one_station_fault_and_a_late_mate_joins_it(tmp_path):
    # Before: a and b each told `missing` (and c later), each with its own fault_end.
    tr = tracker(tmp_path)
    feed = Feed(tr)
    feed.run(30)
    down = feed.run(8, silent={"a", "b"})
    assert said(down) == [("fault", "station", "skid1")]
    fault = down[0].to_dict()
    assert fault["group"] == "skid1" and fault["sensors"] == ["a", "b"] and "source" not in fault
    assert fault["evidence"]["kinds"] == {"a": "missing", "b": "missing"} and "one cause" in fault["evidence"]["summary"]
    assert sorted(fault["evidence"]["starts"]) == ["a", "b"] and fault["start"] == min(fault["evidence"]["starts"].values())
    # each still faulty in the tracker, masked, under the station's id
    assert tr.active() == {"a": "missing", "b": "missing"} and tr.ids[0] == tr.ids[1] == fault["fault_id"]
    masked = tr.mask(Row(ts=0.0, values=np.ones(4), missing=np.zeros(4, bool), carried=np.zeros(4, bool)))
    assert masked.missing.tolist() == [True, True, False, False]
    assert tr.snapshot()["faults_raised"]["station"] == 1 and tr.snapshot()["faults_raised"]["missing"] == 0
    # c falls silent later (within JOIN_S): joins it, told as a fault_update (faults12; before, untold); a and b
    # back: untold while c is still faulty
    [update] = feed.run(8, silent={"a", "b", "c"})
    assert (update.event, update.fault_id, update.sensors) == ("fault_update", fault["fault_id"], ["a", "b", "c"])
    assert update.seq == 1 and list(update.evidence["joined"]) == ["c"]     # numbered as an alert's (faults13)
    assert feed.run(6, silent={"c"}) == [] and tr.active() == {"c": "missing"}
    end = feed.run(6)
    assert said(end) == [("fault_end", "station", "skid1")]
    payload = end[0].to_dict()
    assert payload["fault_id"] == fault["fault_id"] and payload["reason"] == "cleared" and payload["seq"] == 2
    assert payload["sensors"] == ["a", "b", "c"] and payload["evidence"]["kinds"]["c"] == "missing"
    assert list(payload["evidence"]["joined"]) == ["c"] and tr.active() == {}
    # a scorer of the events loses no decision: a, b at the station fault, c when it joined, all ended at its end
    got = reported_faults([fault, payload])
    assert [(f["sensor"], f["kind"], f["end"]) for f in got] == [(s, "missing", end[0].ts) for s in "abc"]
    assert got[2]["ts"] > got[0]["ts"]


def test_one_sensor_faulty_alone_is_told_as_before_and_another_station_is_apart(tmp_path):
    feed = Feed(tracker(tmp_path))
    feed.run(30)
    alone = feed.run(8, silent={"a", "d"})          # one of skid1, one of skid2: two faults, not grouped
    assert sorted(said(alone)) == [("fault", "missing", "a"), ("fault", "missing", "d")]
    assert all("sensors" not in ev.to_dict() and "source" not in ev.to_dict() for ev in alone)  # as before
    assert sorted(said(feed.run(6))) == [("fault_end", "missing", "a"), ("fault_end", "missing", "d")]


def test_a_station_fault_goes_on_across_a_restart_from_the_checkpoint_or_the_journal(tmp_path):
    tr = tracker(tmp_path)
    feed = Feed(tr)
    feed.run(30)
    fault = feed.run(8, silent={"a", "b"})[0]
    told = tr.open_faults()
    assert told == {"skid1": {"fault_id": fault.fault_id, "kind": "station", "start": fault.start, "group": "skid1",
                              "sensors": ["a", "b"], "kinds": {"a": "missing", "b": "missing"}, "joined": {}}}
    assert told["skid1"] == fault.open_entry()      # one writer of the entry (faults6: the event's lacked `joined`)
    # the checkpoint: the next life goes on with it and ends it under its id
    again = tracker(tmp_path)
    again.restore(through_checkpoint(state := tr.state()))
    assert state["stations"][0]["fault_id"] == fault.fault_id
    after = Feed(again, feed.k)
    assert after.run(2, silent={"a", "b"}) == []
    end = after.run(6)
    assert said(end) == [("fault_end", "station", "skid1")] and end[0].fault_id == fault.fault_id
    # the journal newer than a checkpoint taken before the fault: its open faults made the tracker's
    before = tracker(tmp_path)
    Feed(before).run(30)
    before.resume_open(told)
    assert before.open_faults() == told and before.active() == {"a": "missing", "b": "missing"}
    # no state to judge it by: one fault_end, reason restart, for the station
    ended = tracker(tmp_path).ended_at_restart(told, T0 + 100)
    assert [(e.kind, e.sensor, e.reason, e.fault_id) for e in ended] == [("station", "skid1", "restart", fault.fault_id)]
    jsonschema.validate(ended[0].to_dict(), FAULT_SCHEMA)
    # the input ending: one fault_end, reason shutdown
    closed = tr.close(T0 + 100)
    assert [(e.kind, e.sensor, e.reason) for e in closed] == [("station", "skid1", "shutdown")] and tr.active() == {}


def test_the_schema_keeps_a_sensor_faults_payload_and_wants_a_station_faults_fields():
    base = {"schema_version": 1, "fault_id": "n-S02-20260105T000000Z-abc", "seq": 0, "event": "fault", "node": "n",
            "site": "s", "sensor": "S02", "group": "S02", "kind": "station", "ts": "2026-01-05T00:00:30Z",
            "start": "2026-01-05T00:00:00Z", "end": None, "reason": None, "replayed": False,
            "evidence": {"summary": "x", "kinds": {"S02_flow": "dead"}}, "sensors": ["S02_flow"]}
    jsonschema.validate(base, FAULT_SCHEMA)
    for broken in ({k: v for k, v in base.items() if k != "sensors"}, {**base, "source": "udp"},
                   {**base, "evidence": {"summary": "x"}}, {**base, "kind": "stuck"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, FAULT_SCHEMA)


# ---- a real run: a corridor station zeroed ---------------------------------------------------------------

def corridor_recording(tmp_path: Path) -> None:
    """Three loop stations at 1-s ticks for 240 s; S02's flow, occ and speed all read 0 from 120 s to 160 s."""
    names = [f"S0{s}_{m}" for s in (1, 2, 3) for m in ("flow", "occ", "speed")]
    rng = np.random.default_rng(5)
    rows = ["timestamp," + ",".join(names)]
    for k in range(240):
        vals = []
        for s in (1, 2, 3):
            flow, occ, speed = 20 + 3 * np.sin(k / 9) + rng.normal(0, 1), 10 + rng.normal(0, 0.5), 90 + rng.normal(0, 2)
            vals += [0.0, 0.0, 0.0] if s == 2 and 120 <= k < 160 else [flow, occ, speed]
        rows.append(f"{T0 + k:.0f}," + ",".join(f"{v:.2f}" for v in vals))
    (tmp_path / "corridor.csv").write_text("\n".join(rows) + "\n")


@pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed")
def test_a_zeroed_station_is_one_fault_in_the_jsonl_file_and_on_the_broker(tmp_path, broker):  # noqa: F811
    corridor_recording(tmp_path)
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "node": {"id": "road-gw", "site": "a9"}, "tick_s": 1, "topology": "corridor",
        "sensors": [f"S0{s}_{m}" for s in (1, 2, 3) for m in ("flow", "occ", "speed")],
        "sources": [{"type": "replay", "path": "corridor.csv"}],
        "window": {"steps": 8}, "warmup": {"ticks": 60}, "scoring": {"chain": ["numpy"]},
        "faults": {"dead_s": 5, "clear_s": 3, "stuck_s": 36000, "flatline_s": 36000},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"},
                  {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.1}}],
        "state_dir": "state"}))
    sub = Collector(broker.port, ["stad/a9/road-gw/faults"])
    try:
        sub.wait_subscribed()
        done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        written = faults(tmp_path)
        assert all(jsonschema.validate(e, FAULT_SCHEMA) is None for e in written)
        assert [(e["event"], e["kind"], e["sensor"], e["reason"]) for e in written] == [
            ("fault", "station", "S02", None), ("fault_end", "station", "S02", "cleared")], written
        assert written[0]["sensors"] == ["S02_flow", "S02_occ", "S02_speed"]
        assert written[1]["fault_id"] == written[0]["fault_id"]
        assert sub.wait_for(lambda msgs: len(msgs) >= 2, timeout=60)
        published = [json.loads(m.payload) for m in sub.messages]
        for p in published:
            jsonschema.validate(p, FAULT_SCHEMA)
        assert [(p["fault_id"], p["seq"]) for p in published] == [(e["fault_id"], e["seq"]) for e in written]
    finally:
        sub.close()
