"""A written time's reject said in its own terms (chaos5's "seen, left"; the chaos6 round). Before:
- an offset of a day or more (`"ts": "2026-01-05T08:00:00+99:00"`) was a `bad time` said in Python's words, "offset
  must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=4,
  seconds=10800)";
- a date past 2100 (`"9999-12-31T23:59:59Z"`, a device's fixed "no date" value) was a `bad timestamp` hinted as a number read in
  the wrong unit: "milliseconds since 1970? the agent reads seconds: send 253402300.799".
Now the offset is named with its limit, and a written date out of range is said as the date the sender wrote. A
number out of range keeps its unit hint. The real agent, fed through its stdin, and a CSV replay of a real file."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from conftest import REPO, agent_env

T0 = int(time.time())       # now: a live source refuses a stamp far from this host's clock


def run_agent(tmp_path: Path, source: dict, stdin: str = "") -> str:
    """The agent run to its input's end; its stderr."""
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "tick_s": 1, "sensors": ["a"], "sources": [source], "window": {"steps": 8}, "warmup": {"ticks": 50},
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state")}))
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(path)], cwd=REPO, env=agent_env(),
                          input=stdin, text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def said(stderr: str, where: str) -> str:
    lines = [line for line in stderr.splitlines() if f"{where}" in line]
    assert len(lines) == 1, (where, stderr[-3000:])
    return lines[0]


def test_a_json_lines_offset_and_a_date_past_2100_are_said_as_written(tmp_path):
    good = [json.dumps({"ts": T0 + k, "a": k}) for k in range(20)]
    bad = [json.dumps({"ts": "2026-01-05T08:00:00+99:00", "a": 1}), json.dumps({"ts": "9999-12-31T23:59:59Z", "a": 1}),
           json.dumps({"ts": 253402300799, "a": 1})]
    err = run_agent(tmp_path, {"type": "stdin"}, "\n".join(good + bad) + "\n")
    offset = said(err, "stdin:21")
    assert "bad time" in offset and "the UTC offset +99:00 is out of range" in offset, offset
    assert "timedelta" not in offset, offset
    date = said(err, "stdin:22")
    assert "bad timestamp" in date and "9999-12-31T23:59:59Z: a date as the sender wrote it" in date, date
    assert "milliseconds" not in date, date
    number = said(err, "stdin:23")      # a number: the unit hint as before
    assert "milliseconds since 1970? the agent reads seconds: send 253402300.799" in number, number


def test_a_csv_rows_offset_and_date_past_2100_are_said_as_written(tmp_path):
    rows = [f"{T0 + k},{k}" for k in range(20)] + ["2026-01-05T08:00:00-2400,1", "9999-12-31 23:59:59,1"]
    (tmp_path / "rec.csv").write_text("timestamp,a\n" + "\n".join(rows) + "\n")
    err = run_agent(tmp_path, {"type": "replay", "path": str(tmp_path / "rec.csv"), "speed": 0})
    offset = said(err, "rec.csv:22")
    assert "the UTC offset -2400 is out of range" in offset and "timedelta" not in offset, offset
    date = said(err, "rec.csv:23")
    assert "9999-12-31T23:59:59Z: a date as the sender wrote it" in date and "milliseconds" not in date, date
    assert "time_format" not in offset, offset     # its layout was read: another would not help
