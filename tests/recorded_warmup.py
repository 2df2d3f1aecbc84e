"""A warm-up on a `warmup.replay` recording and live hours after it, run as `python -m agent run` on real files (the
corridor simulator's CSVs, 6 stations at 30-s ticks): the faults12 and faults14 tests' one way to do it (the fault
rules taught on the recording at the first live tick, agent/faults/recorded.py)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from agent.alerts import iso
from conftest import agent_env
from agent.sources.simulate import SimulateConfig, corridor_sensors, generate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "agent/schemas/fault.schema.json").read_text())
SENSORS = corridor_sensors(6)
H = 3600.0


def write(path: Path, start: str, hours: float, seed: int, edit=None, columns=SENSORS) -> list:
    """The corridor simulator's `hours` from `start` as a CSV of `columns` (a recording without a station: fewer),
    each record's values passed to `edit` first."""
    records = generate(SimulateConfig(scenario="corridor", seed=seed, start=start, duration_s=hours * H), SENSORS, 30.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *columns])
        for r in records:
            values = dict(r.values)
            if edit:
                edit(values)
            w.writerow([iso(r.ts), *[f"{values[s]:.6g}" if s in values else "" for s in columns]])
    return records


def broken(values, held: dict) -> None:
    held.setdefault("S05_speed", values["S05_speed"])
    values["S05_speed"] = held["S05_speed"]             # frozen at the first live tick's reading
    for q in ("flow", "occ", "speed"):
        values[f"S04_{q}"] = 0.0                        # the station reads zeros


def agent_run(tmp_path: Path) -> subprocess.CompletedProcess:
    """`agent run` on a clean recorded day as warmup.replay and live.csv as its (replay) source."""
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "tick_s": 30.0, "topology": "corridor", "sensors": SENSORS,
        "sources": [{"type": "replay", "path": "live.csv"}],
        "window": {"steps": 32, "carry_forward_s": 90}, "warmup": {"ticks": 480, "replay": "clean"},
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": "events.jsonl"}],
        "state_dir": "state"}))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=agent_env())
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def fault_events(tmp_path: Path) -> list[dict]:
    """The run's fault events in events.jsonl (fault, fault_update, fault_end), each checked against the shipped
    schema."""
    lines = [json.loads(s) for s in (tmp_path / "events.jsonl").read_text().splitlines()]
    faults = [f for f in lines if f.get("event") in ("fault", "fault_update", "fault_end")]
    for f in faults:
        jsonschema.validate(f, SCHEMA)
    return faults
