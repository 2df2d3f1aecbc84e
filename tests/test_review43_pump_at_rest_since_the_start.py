"""A pump at rest from the agent's start while its neighbours move — off for the night, legitimately constant for an
hour — is one `never_varied` page that says it may be at rest and ends once it runs (review43, of faults16).

faults16's page said the agent "cannot tell whether it is held, dead or constant by design (a setpoint: leave it out
of `sensors`)": for a pump that was merely stopped when a fresh agent started, the one remedy it named was to drop a
working sensor from the config. What the operator gets, measured here: the page after `faults.learn_s`, its evidence
naming the at-rest case, that the page ends by itself once the sensor reads another value, and what follows: read
flat through the warm-up (`warmup.flat_sensors: score`, the default), its start scores in units of the std floor — an
alert naming it (said at the warm-up's end; measured: scores ~2e10; its neighbours' ~1e8 through the fallback until faults18), not a
fault; `warmup.flat_sensors: learn` learns it live instead.

A real `python -m agent run` on a real CSV (the corridor simulator at 30-s ticks): a fresh agent warmed up on live
ticks, S03_speed at 0 from its first tick for 70 minutes, then as simulated."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from agent.sources.lines import parse_time
from conftest import agent_env
from recorded_warmup import SENSORS, fault_events, write

FIRST = "2026-01-05T08:00:00Z"
REST_TICKS = 140            # 70 minutes at 30-s ticks: past faults.learn_s's hour


def test_a_pump_at_rest_since_the_start_is_paged_as_possibly_at_rest_and_ends_once_it_runs(tmp_path):
    seen = [0]

    def at_rest(values):
        if seen[0] < REST_TICKS:
            values["S03_speed"] = 0.0
        seen[0] += 1
    write(tmp_path / "live.csv", FIRST, 2, seed=5, edit=at_rest)
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "tick_s": 30.0, "topology": "corridor", "sensors": SENSORS,
        "sources": [{"type": "replay", "path": "live.csv"}],
        "window": {"steps": 32, "carry_forward_s": 90}, "warmup": {"ticks": 60},
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": "events.jsonl"}],
        "state_dir": "state"}))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=agent_env())
    assert run.returncode == 0, run.stderr[-3000:]
    faults = fault_events(tmp_path)
    raised = [f for f in faults if f["event"] == "fault"]
    assert [(f["sensor"], f["kind"]) for f in raised] == [("S03_speed", "never_varied")], raised
    summary = raised[0]["evidence"]["summary"]
    assert "at rest since the agent started" in summary and "ends once it reads another value" in summary, summary
    assert "`warmup.flat_sensors: learn`" in summary, summary        # what follows its start, and the way out
    runs_at = parse_time(FIRST) + REST_TICKS * 30.0
    [end] = [f for f in faults if f["event"] == "fault_end" and f["sensor"] == "S03_speed"]
    assert end["reason"] == "cleared" and runs_at <= parse_time(end["ts"]) <= runs_at + 600, end
    # read flat through the warm-up (`warmup.flat_sensors: score`, the default, said at its end): its start is scored
    # in units of the std floor — an alert naming it, none before it ran
    assert "S03_speed: did not move in this warm-up" in run.stderr, run.stderr[-3000:]
    lines = [json.loads(s) for s in (tmp_path / "events.jsonl").read_text().splitlines()]
    naming = [a for a in lines if a.get("event") in ("new", "update", "end")
              and any(t["sensor"] == "S03_speed" for t in a.get("top_sensors") or [])]
    assert naming and min(parse_time(a["ts"]) for a in naming) >= runs_at, naming
