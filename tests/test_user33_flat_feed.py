"""A feed that never moves opens no alert on float rounding (user33: a Modbus device's held registers — every sensor
warned `did not move in this warm-up`, the numpy threshold fitted at 5.5e-15 — then `NEW … score 0.00 (peak 0.00)
thr 0.00` on the next tick's 7e-15, open until the input ended); a step of such a sensor still alerts.

Real parts: `stad-agent run` on a real CSV through the replay source, its alerts in the jsonl sink."""
from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conftest import REPO


def run_on(tmp_path, rows: list[str]) -> list[dict]:
    (tmp_path / "feed.csv").write_text("timestamp,a,b,c\n" + "\n".join(rows) + "\n")
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "tick_s": 1, "topology": "group", "sensors": [{"name": n, "group": "skid"} for n in "abc"],
        "sources": [{"type": "replay", "path": "feed.csv"}], "window": {"steps": 16}, "warmup": {"ticks": 80},
        "scoring": {"chain": ["numpy"]}, "faults": {"enabled": False},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state"}))
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def stamp(i: int) -> str:
    return f"2026-12-01T00:{i // 60:02d}:{i % 60:02d}Z"


def test_a_feed_that_never_moves_opens_no_alert(tmp_path):
    assert run_on(tmp_path, [f"{stamp(i)},0.1,1.02,10.4" for i in range(600)]) == []


def test_a_step_of_a_sensor_that_never_moved_still_alerts(tmp_path):
    rows = [f"{stamp(i)},0.1,1.02,{10.4 if i < 300 else 11.4}" for i in range(400)]
    events = run_on(tmp_path, rows)
    assert [e["event"] for e in events][:1] == ["new"]
    assert events[0]["start"] == "2026-12-01T00:05:00.000Z"
    assert events[0]["top_sensors"][0]["sensor"] == "c"
