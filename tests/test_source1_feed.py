"""A feed whose sensors all stop together is one `source` fault, and one fault_end when it is back — as a
real `stad-agent run` tells it in its jsonl file, replaying a recording with such a stretch (a feed that
names its sensors in its records cannot say it lost its peer: silence together is what it shows). One
sensor silent alone stays its own `missing` fault, and the payloads are valid for the shipped schema."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
FAULT_SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())
T0 = 1_790_000_000


def run_agent(tmp_path: Path, silent) -> list[dict]:
    """The agent over a 1-s recording of a, b, c, d (c above its max from the start); `silent(k)`: the
    sensors without a reading at second k. Its fault events."""
    rows = ["timestamp,a,b,c,d"]
    for k in range(140):
        quiet = silent(k)
        values = [f"{10 + k % 3}", f"{20 + k % 5}", "80", f"{30 + k % 4}"]
        rows.append(",".join([str(T0 + k), *("" if s in quiet else v for s, v in zip("abcd", values))]))
    (tmp_path / "feed.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "node": {"id": "feed-gw"}, "tick_s": 1, "topology": "group",
        "sensors": ["a", "b", {"name": "c", "max": 50}, "d"],
        "sources": [{"type": "replay", "path": "feed.csv"}],
        "window": {"steps": 8, "carry_forward_s": 2}, "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 3, "clear_s": 2, "stuck_s": 36000, "flatline_s": 36000},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state"}))
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    events = [e for e in events if e.get("event") in ("fault", "fault_end")]
    for e in events:
        jsonschema.validate(e, FAULT_SCHEMA)
    return events


def said(events: list[dict]) -> list[tuple]:
    return [(e["event"], e["kind"], e["sensor"], e.get("reason")) for e in events]


def test_a_feed_silent_as_a_whole_is_one_source_fault(tmp_path):
    # Before: a, b and d each told `missing` and each `fault_end` (3 + 3) for one feed that stopped.
    events = run_agent(tmp_path, lambda k: set("abcd") if 60 <= k < 80 else set())
    label = "replay"
    assert said(events) == [("fault", "out_of_range", "c", None), ("fault", "source", label, None),
                            ("fault_end", "source", label, "cleared"), ("fault_end", "out_of_range", "c", "shutdown")]
    fault, end = events[1], events[2]
    assert fault["sensors"] == ["a", "b", "d"] and fault["evidence"]["sensors_with_own_faults"] == {"c": "out_of_range"}
    assert fault["evidence"]["connection"] is None and "fell silent together" in fault["evidence"]["summary"]
    assert end["fault_id"] == fault["fault_id"] and end["evidence"]["back"] == ["a", "b", "d"]


def test_one_sensor_of_a_feed_silent_alone_is_its_own_missing_fault(tmp_path):
    events = run_agent(tmp_path, lambda k: {"b"} if 60 <= k < 80 else set())
    assert said(events) == [("fault", "out_of_range", "c", None), ("fault", "missing", "b", None),
                            ("fault_end", "missing", "b", "cleared"), ("fault_end", "out_of_range", "c", "shutdown")]
    assert not any("source" in e or "sensors" in e for e in events)        # a sensor fault's payload as before
