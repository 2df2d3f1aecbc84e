"""A corridor simulator run (6 stations, 30-s ticks) written as a CSV and replayed through the agent's own Pipeline
(skid_replay.replayed): the faults12 tests' one way to do it. Every fault event is checked against
agent/schemas/fault.schema.json."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema

from agent.alerts import iso
from agent.sources.simulate import AnomalySpec, SimulateConfig, corridor_sensors, generate
from skid_replay import replayed

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())
SENSORS = corridor_sensors(6)
START = "2026-01-05T00:00:00Z"
H = 3600.0


def replay(tmp_path: Path, hours: float, anomalies: list[AnomalySpec], edit=None) -> tuple[list, list, list]:
    """Every fault event, every `new` alert, and the records written (`edit(ts, values)` may change a row's)."""
    records = generate(SimulateConfig(scenario="corridor", seed=3, start=START, duration_s=hours * H,
                                      anomalies=anomalies), SENSORS, 30.0)
    path = tmp_path / "corridor.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *SENSORS])
        for r in records:
            if edit:
                edit(r.ts, r.values)
            w.writerow([iso(r.ts), *[f"{r.values[s]:.6g}" if s in r.values else "" for s in SENSORS]])
    faults, alerts, _ = replayed({
        "tick_s": 30.0, "topology": "corridor", "sensors": SENSORS,
        "sources": [{"type": "replay", "path": str(path)}],
        "window": {"steps": 32, "carry_forward_s": 90}, "warmup": {"ticks": 480},
        "scoring": {"chain": ["numpy"]}, "threshold": {"method": "pot", "risk": 0.0005},
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 6, "cooldown_ticks": 10}}, tmp_path)
    for ev in faults:
        jsonschema.validate(ev.to_dict(), SCHEMA)
    return faults, [a for a in alerts if a.event == "new"], records
