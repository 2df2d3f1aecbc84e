"""A source that goes away is one fault (kind `source`, its sensors listed), not one `missing` per sensor
(agent/faults/source.py; review20's finding 8: a PLC reboot told as 8 faults + 8 fault_end).

The agent's own Pipeline and fault tracker fed tick rows as the aligner closes them (a live feed's
silence: every value NaN and missing), a udp feed's config (it cannot tell a lost peer: silence together
is what it shows); the checkpoint's own encode/decode and the fault journal's open faults for the
restarts. The live Modbus device's reboot is tests/test_source1_modbus.py."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from agent import config
from agent.faults.source import SourceMap
from agent.pipeline import Pipeline
from agent.window import Row
from conftest import free_port, wait_until
from fault_states import saved as through_checkpoint

ROOT = Path(__file__).resolve().parents[1]
FAULT_SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())
HEALTH_SCHEMA = json.loads((ROOT / "agent/schemas/health.schema.json").read_text())
SENSORS = ["a", "b", "c", "d"]
TICK = 1.0
T0 = 1_790_000_000.0


def pipeline(tmp_path, sources=None) -> Pipeline:
    """A numpy agent's pipeline: c has a range its readings are outside (an out_of_range fault from the
    first tick); missing decided 3 s past the 2-s carry-forward, cleared after 2 s."""
    return Pipeline(config.from_dict({
        "tick_s": TICK, "topology": "group",
        "sensors": ["a", "b", {"name": "c", "max": 50}, "d"],
        "sources": sources or [{"type": "udp", "port": 0}],
        "window": {"steps": 8, "carry_forward_s": 2}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 3, "clear_s": 2, "stuck_s": 3600, "flatline_s": 3600}, "sinks": [],
    }, base_dir=str(tmp_path)))


class Feed:
    """Tick rows into a tracker: each sensor read (varying values; c at 80, above its max 50) or silent."""

    def __init__(self, tracker):
        self.tracker, self.k, self.events = tracker, 0, []

    def run(self, ticks: int, silent: set[str] = frozenset()) -> list:
        out = []
        for _ in range(ticks):
            ts = T0 + self.k * TICK
            values = np.array([10 + self.k % 3, 20 + self.k % 5, 80.0, 30 + self.k % 4])
            missing = np.array([s in silent for s in SENSORS])
            out += self.tracker.observe(Row(ts=ts, values=np.where(missing, np.nan, values), missing=missing,
                                            carried=np.zeros(4, bool)))
            self.k += 1
        for ev in out:
            jsonschema.validate(ev.to_dict(), FAULT_SCHEMA)
        self.events += out
        return out

    def said(self, events=None) -> list[tuple]:
        return [(ev.event, ev.kind, ev.sensor) for ev in (self.events if events is None else events)]


def test_every_sensor_of_a_feed_silent_together_is_one_source_fault_and_one_end(tmp_path):
    # Before: a, b and d were told `missing` one by one (3 faults, 3 fault_end) for one feed that stopped.
    p = pipeline(tmp_path)
    tr = p.health
    feed = Feed(tr)
    assert feed.said(feed.run(30)) == [("fault", "out_of_range", "c")]
    down = feed.run(10, silent=set(SENSORS))
    assert feed.said(down) == [("fault", "source", "udp 127.0.0.1:0")]
    ev = down[0]
    payload = ev.to_dict()
    assert payload["source"] == "udp 127.0.0.1:0" and payload["sensors"] == ["a", "b", "d"]
    assert payload["evidence"]["sensors_with_own_faults"] == {"c": "out_of_range"}
    assert "fell silent together" in payload["evidence"]["summary"] and payload["evidence"]["connection"] is None
    # masked as ever: the silent sensors are missing faults under the source's id; c keeps its own
    assert tr.active() == {"a": "missing", "b": "missing", "c": "out_of_range", "d": "missing"}
    assert {tr.ids[i] for i in (0, 1, 3)} == {ev.fault_id}
    masked = tr.mask(Row(ts=0.0, values=np.ones(4), missing=np.zeros(4, bool), carried=np.zeros(4, bool)))
    assert masked.missing.tolist() == [True, True, True, True]
    snap = p.snapshot()
    assert snap["sources"] == {"udp 127.0.0.1:0": {"down": True, "fault_id": ev.fault_id, "connected": None,
                                                   "sensors": 4}}
    assert snap["faults_raised"]["source"] == 1 and snap["faults_raised"]["missing"] == 0
    back = feed.run(6)
    assert feed.said(back) == [("fault_end", "source", "udp 127.0.0.1:0")]
    assert back[0].fault_id == ev.fault_id and back[0].reason == "cleared" and back[0].sensors == ["a", "b", "d"]
    assert back[0].evidence["back"] == ["a", "b", "d"] and "still_silent" not in back[0].evidence
    assert tr.active() == {"c": "out_of_range"} and not p.snapshot()["sources"]["udp 127.0.0.1:0"]["down"]
    assert feed.said().count(("fault_end", "out_of_range", "c")) == 0     # c's own fault stays open


def test_one_sensor_silent_alone_is_its_own_missing_fault_as_before(tmp_path):
    feed = Feed(pipeline(tmp_path).health)
    feed.run(30)
    alone = feed.run(10, silent={"b"})
    assert feed.said(alone) == [("fault", "missing", "b")]
    assert "source" not in alone[0].to_dict() and "sensors" not in alone[0].to_dict()    # the payload as before
    assert feed.said(feed.run(6)) == [("fault_end", "missing", "b")]


def test_a_sensor_still_silent_when_its_source_is_back_is_then_told_on_its_own(tmp_path):
    tr = pipeline(tmp_path).health
    feed = Feed(tr)
    feed.run(30)
    source = feed.run(10, silent={"a", "b", "d"})[0]
    back = feed.run(3, silent={"b"})
    assert feed.said(back) == [("fault_end", "source", "udp 127.0.0.1:0")]
    assert back[0].evidence["back"] == ["a", "d"] and back[0].evidence["still_silent"] == ["b"]
    assert "b" not in tr.active()           # judged afresh from the source's return: missing_s more
    own = feed.run(8, silent={"b"})
    assert feed.said(own) == [("fault", "missing", "b")] and own[0].fault_id != source.fault_id
    assert feed.said(feed.run(5)) == [("fault_end", "missing", "b")]


def test_a_source_fault_goes_on_across_a_restart_from_the_checkpoint_or_the_journal(tmp_path):
    tr = pipeline(tmp_path).health
    feed = Feed(tr)
    feed.run(30)
    fault = feed.run(8, silent=set(SENSORS))[0]
    told = tr.open_faults()
    assert told == {"c": told["c"], "udp 127.0.0.1:0": {"fault_id": fault.fault_id, "kind": "source",
                                                          "start": fault.start, "group": fault.group, "sensors": ["a", "b", "d"]}}
    assert told["udp 127.0.0.1:0"] == fault.open_entry()      # what the fault journal keeps of it
    # the checkpoint: the next life goes on with it and ends it under its id
    again = pipeline(tmp_path).health
    again.restore(through_checkpoint(p_state := tr.state()))
    assert p_state["sources"][0]["fault_id"] == fault.fault_id
    after = Feed(again)
    after.k = feed.k
    assert after.said(after.run(2, silent=set(SENSORS))) == []
    end = after.run(6)
    assert after.said(end) == [("fault_end", "source", "udp 127.0.0.1:0")] and end[0].fault_id == fault.fault_id
    # the journal newer than a checkpoint taken before the outage: its open faults made the tracker's
    before = pipeline(tmp_path).health
    Feed(before).run(30)
    before.resume_open(told)
    assert before.open_faults() == told and before.active()["a"] == "missing"
    # no state to judge it by: one fault_end, reason restart, for the source (not one per sensor)
    ended = pipeline(tmp_path).health.ended_at_restart(told, T0 + 100)
    assert [(e.kind, e.sensor, e.reason, e.fault_id) for e in ended] == [
        ("out_of_range", "c", "restart", told["c"]["fault_id"]), ("source", "udp 127.0.0.1:0", "restart", fault.fault_id)]
    for e in ended:
        jsonschema.validate(e.to_dict(), FAULT_SCHEMA)


def test_the_input_ending_during_an_outage_ends_the_source_fault_once(tmp_path):
    tr = pipeline(tmp_path).health
    feed = Feed(tr)
    feed.run(30)
    fault = feed.run(8, silent=set(SENSORS))[0]
    closed = tr.close(T0 + 50)
    assert [(e.kind, e.sensor, e.reason) for e in closed] == [("out_of_range", "c", "shutdown"),
                                                             ("source", "udp 127.0.0.1:0", "shutdown")]
    assert closed[1].fault_id == fault.fault_id and tr.active() == {}


def test_which_source_carries_which_sensor(tmp_path):
    # Named sensors belong to the source naming them; the rest to the one feed naming none; with two such
    # feeds, to neither (told one by one, as before); two labels alike are told apart by their index.
    cfg = config.from_dict({
        "tick_s": 1, "topology": "none", "sensors": ["a", "b", "c", "d"],
        "sources": [{"type": "modbus", "port": 5020, "registers": {"a": 0, "b": 1}}, {"type": "udp", "port": 0}],
        "scoring": {"chain": ["numpy"]}, "sinks": []}, base_dir=str(tmp_path))
    m = SourceMap.of(cfg.sources, cfg.sensor_names())
    assert m.labels == ["modbus 127.0.0.1:5020", "udp 127.0.0.1:0"] and m.owner == [0, 0, 1, 1]
    two = SourceMap([("udp x", [], True), ("udp x", [], True), ("mqtt y", ["d"], False)], ["a", "b", "c", "d"])
    assert two.labels == ["udp x (sources[0])", "udp x (sources[1])", "mqtt y"] and two.owner == [-1, -1, -1, 2]
    assert m.peer(0) is None                        # no live source attached: only silence tells


def test_health_with_sources_is_valid_for_its_schema(tmp_path):
    p = pipeline(tmp_path)
    Feed(p.health).run(30)
    sources = p.snapshot()["sources"]
    jsonschema.validate(sources, HEALTH_SCHEMA["properties"]["sources"])
    assert sources == {"udp 127.0.0.1:0": {"down": False, "fault_id": None, "connected": None, "sensors": 4}}


def test_a_source_that_says_it_lost_its_device_is_down_even_for_one_sensor(tmp_path):
    # A Modbus source polling a port where nothing answers says so (Source.peer); its one sensor's
    # missing is then the device's fault, named with the connection's error. Unattached (nothing says
    # the device is gone) the same silence is a's own missing fault, as before.
    pytest.importorskip("pymodbus")
    from agent.records import Rejects
    from agent.sources import open_source
    sources = [{"type": "modbus", "host": "127.0.0.1", "port": free_port(), "poll_s": 0.05, "registers": {"a": 0}},
               {"type": "udp", "port": 0}]
    p = pipeline(tmp_path, sources)
    modbus = open_source(p.cfg.sources[0], SENSORS, Rejects())
    reading = threading.Thread(target=lambda: list(modbus.records()), daemon=True)
    reading.start()
    try:
        assert wait_until(lambda: modbus.peer is not None and not modbus.peer[0], 30)
        unattached = Feed(pipeline(tmp_path, sources).health)
        unattached.run(30)
        assert unattached.said(unattached.run(10, silent={"a"})) == [("fault", "missing", "a")]
        p.source_map.attach([modbus])       # (the udp feed, second, is not opened: it says nothing)
        feed = Feed(p.health)
        feed.run(30)
        down = feed.run(10, silent={"a"})
    finally:
        modbus.close()
        reading.join(30)
    label = p.source_map.labels[0]
    assert feed.said(down) == [("fault", "source", label)] and down[0].sensors == ["a"]
    assert down[0].evidence["connection"] and label in down[0].evidence["summary"]
    assert p.snapshot()["sources"][label]["connected"] is False
