"""A sensor flat through the warm-up that then moves scores in units of the std floor (`warmup.flat_sensors:
score`, the default) — its own alert, by design; its healthy neighbours must not be named with it (faults18, of
review43's finding 2: the pump at ~2e10, S04_speed / S02_speed at ~9e7 / 2e7 through the fallback's fusion, whose
neighbour mean took the pump's floor-unit value as an input).

A real `python -m agent run` on real CSVs (the corridor simulator at 30-s ticks): warmed up on a 4-hour recording
in which S03_speed reads 0 throughout (a pump at rest), then live with it at 0 for 20 minutes and running after."""
from __future__ import annotations

import json
import subprocess
import sys

import yaml

from agent.sources.lines import parse_time
from conftest import agent_env
from recorded_warmup import SENSORS, write

FIRST = "2026-01-05T08:00:00Z"
REST_TICKS = 40             # 20 minutes at rest live, then as simulated


def test_a_flat_sensor_that_starts_alerts_alone_its_neighbours_stay_under_the_threshold(tmp_path):
    seen = [0]

    def at_rest(values):
        values["S03_speed"] = 0.0

    def rests_then_runs(values):
        if seen[0] < REST_TICKS:
            values["S03_speed"] = 0.0
        seen[0] += 1
    write(tmp_path / "clean" / "day.csv", "2026-01-05T04:00:00Z", 4, seed=3, edit=at_rest)
    write(tmp_path / "live.csv", FIRST, 2, seed=5, edit=rests_then_runs)
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "tick_s": 30.0, "topology": "corridor", "sensors": SENSORS,
        "sources": [{"type": "replay", "path": "live.csv"}],
        "window": {"steps": 32, "carry_forward_s": 90}, "warmup": {"ticks": 480, "replay": "clean"},
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": "events.jsonl"}],
        "state_dir": "state"}))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=agent_env())
    assert run.returncode == 0, run.stderr[-3000:]
    assert "S03_speed: did not move in this warm-up" in run.stderr, run.stderr[-3000:]
    alerts = [a for a in map(json.loads, (tmp_path / "events.jsonl").read_text().splitlines())
              if a.get("kind") == "alert" and a.get("event") in ("new", "update", "end")]
    runs_at = parse_time(FIRST) + REST_TICKS * 30.0
    naming = [a for a in alerts if any(t["sensor"] == "S03_speed" for t in a["top_sensors"])]
    # the pump's own start: an alert naming it first, in units of the floor, once it runs
    assert naming and min(parse_time(a["ts"]) for a in naming) >= runs_at, naming
    assert max(t["score"] for a in naming for t in a["top_sensors"] if t["sensor"] == "S03_speed") > 1e6, naming
    # its neighbours are not told anomalous because of it: every other sensor it is named with is under the threshold
    beside = [(a["ts"], t["sensor"], t["score"], a["threshold"]) for a in naming for t in a["top_sensors"]
              if t["sensor"] != "S03_speed" and t["score"] >= a["threshold"]]
    assert not beside, beside
