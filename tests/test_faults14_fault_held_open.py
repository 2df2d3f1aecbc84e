"""A fault does not end while its sensor is still judged faulty by another rule (faults14). Before, a `missing`
sensor whose readings came back outside its range (a transmitter powered back with an open 4–20 mA loop) had its
`missing` fault end `cleared` ("missing condition gone for 10 s") on the very tick an `out_of_range` fault of the
same sensor was paged: a fault_end told while the sensor was still broken, and a second page for one broken
sensor. Now the fault goes on under its id until no rule judges the sensor faulty for `clear_s`, its fault_end
saying which kinds held it (evidence.held_by) — also across a restart from the checkpoint.

The agent's own Pipeline and fault tracker fed tick rows (a and b on skid1, d on skid2; a udp feed, which is not
down while the others read); every event checked against the shipped schema; the tracker's state through the
checkpoint's own encode/decode."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.window import Row
from fault_states import saved as through_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())
T0 = 1_790_000_000.0


def _tracker(tmp_path):
    return Pipeline(config.from_dict({
        "tick_s": 1, "topology": "group",
        "sensors": [{"name": "a", "group": "skid1", "min": 0, "max": 100}, {"name": "b", "group": "skid1"},
                    {"name": "d", "group": "skid2"}],
        "sources": [{"type": "udp", "port": 0}],
        "window": {"steps": 8, "carry_forward_s": 2}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 3, "clear_s": 10, "stuck_s": 3600, "flatline_s": 3600}, "sinks": []},
        base_dir=str(tmp_path))).health


class Feed:
    def __init__(self, tr):
        self.tr, self.k, self.active = tr, 0, []

    def run(self, ticks: int, silent: bool = False, a: float | None = None) -> list:
        out = []
        for _ in range(ticks):
            k = self.k
            values = np.array([10 + k % 3 if a is None else a, 20 + k % 5, 30 + k % 4], float)
            missing = np.array([silent, False, False])
            for ev in self.tr.observe(Row(ts=T0 + k, values=np.where(missing, np.nan, values), missing=missing,
                                          carried=np.zeros(3, bool))):
                jsonschema.validate(ev.to_dict(), SCHEMA)
                out.append(ev)
            self.active.append(self.tr.active().get("a", ""))
            self.k += 1
        return out


def test_a_missing_sensor_back_out_of_range_stays_one_fault_until_it_is_healthy(tmp_path):
    feed = Feed(_tracker(tmp_path))
    assert feed.run(60) == []
    [fault] = feed.run(10, silent=True)
    assert (fault.event, fault.kind, fault.sensor) == ("fault", "missing", "a")
    # back, reading 500 (its range 0–100) for 30 s: before, its `missing` ended `cleared` 10 s in and an
    # `out_of_range` was paged on that tick
    assert feed.run(30, a=500.0) == []
    # masked throughout under the one fault: `missing`, then (health's faults_active) judged `out_of_range`
    assert feed.active[-30:] == ["missing"] * 9 + ["out_of_range"] * 21      # (clear_s 10 s: ends on its 10th tick back)
    back = feed.run(30)
    [end] = [ev for ev in back if ev.event == "fault_end"]
    assert [ev.event for ev in back] == ["fault_end"]
    assert (end.fault_id, end.seq, end.reason) == (fault.fault_id, 1, "cleared")
    assert end.ts == T0 + 109                 # clear_s after its readings were back in range (before: at 79, out of it)
    assert end.evidence["kinds_judged"] == {"a": ["missing", "out_of_range"]}
    assert end.kind == "missing" and "one fault" in end.evidence["summary"]
    assert feed.tr.snapshot()["faults_raised"]["out_of_range"] == 0


def test_the_kinds_that_held_a_fault_open_survive_a_restart(tmp_path):
    tr = _tracker(tmp_path)
    feed = Feed(tr)
    feed.run(60)
    [fault] = feed.run(10, silent=True)
    feed.run(15, a=500.0)
    state = through_checkpoint(tr.state())
    again = _tracker(tmp_path)
    again.restore(state)
    feed.tr = again
    feed.run(15, a=500.0)
    [end] = feed.run(30)
    assert end.fault_id == fault.fault_id and end.kind == "missing" and end.evidence["kinds_judged"] == {"a": ["missing", "out_of_range"]}


def test_a_fault_with_nothing_else_judged_ends_as_before(tmp_path):
    feed = Feed(_tracker(tmp_path))
    feed.run(60)
    [fault] = feed.run(10, silent=True)
    [end] = feed.run(30)
    assert end.evidence == {"summary": "missing condition gone for 10 s"} and end.fault_id == fault.fault_id
    assert "was" not in feed.tr.state()
