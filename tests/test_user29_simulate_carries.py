"""The simulator carries every sensor of its config, in health's `sources` and in the source-fault map (user29).

SimulateConfig.carried was the base's: the sensors its `anomalies` target. The demo's simulator (18 sensors, a spike on
S02_occ and a stuck S03_speed) said `sensors: 2` in health, and two targeted sensors dropping out together were told
as the simulator stopping (`every sensor simulate carries fell silent together`), where a seeded schedule's — no
targets, so every sensor carried — were told as the sensors' own faults. Fault events of the demo itself are the same
as before (compared over 40 simulated hours: 35 events, equal but for their ids)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from agent import config
from agent.pipeline import Pipeline
from conftest import agent_env

REPO = Path(__file__).resolve().parent.parent
PUMP = ["accel1", "accel2", "current", "pressure", "temp_motor", "temp_fluid", "voltage", "flow"]


def test_health_says_the_demo_simulator_carries_its_18_sensors():
    doc = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    doc["scoring"] = {"chain": ["numpy"]}
    cfg = config.from_dict(doc, "demo.yaml", str(REPO / "configs"))
    sources = Pipeline(cfg).snapshot()["sources"]
    assert [s["sensors"] for s in sources.values()] == [18], sources


def test_two_targeted_dropouts_together_are_not_the_simulator_stopping(tmp_path):
    doc = {"tick_s": 1, "topology": "group", "sensors": [{"name": s, "group": "skid"} for s in PUMP],
           "sources": [{"type": "simulate", "scenario": "pump", "seed": 3, "start": "2026-01-05T00:00:00Z",
                        "duration_s": 1500,
                        "anomalies": [{"kind": "dropout", "at_s": 700, "duration_s": 300, "target": "accel1"},
                                      {"kind": "dropout", "at_s": 700, "duration_s": 300, "target": "flow"}]}],
           "window": {"steps": 32, "carry_forward_s": 5}, "warmup": {"ticks": 400}, "scoring": {"chain": ["numpy"]},
           "sinks": [{"type": "jsonl", "path": "state/alerts.jsonl"}], "state_dir": "state"}
    (tmp_path / "sim.yaml").write_text(yaml.safe_dump(doc))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "sim.yaml")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=agent_env())
    assert run.returncode == 0, run.stderr[-3000:]
    faults = [e for e in map(json.loads, (tmp_path / "state" / "alerts.jsonl").read_text().splitlines())
              if e.get("event") == "fault"]
    told = {(e["kind"], tuple(e.get("sensors") or [e["sensor"]])) for e in faults}
    assert not any(kind == "source" for kind, _ in told), told
    assert any(set(sensors) >= {"accel1", "flow"} for _, sensors in told), told
