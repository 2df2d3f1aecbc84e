"""An alert's first `top_steps` entry is the tick its top sensor changed (the explain1 round).

Before, a model-tier alert's top steps were the model's temporal attention, which put every demo incident 2 ticks
before its onset and was near flat on the SKAB bundles (~1/31 a step), and the fallback's were the worst sensor's
largest deviation, any step of a shift once it had happened. Now both tiers name where the top sensors' window
changed (agent/alert_events.py, `step_weights`).

Real parts: the demo corridor's simulated night (the simulator, seed 7, no anomaly), one station's speed, occupancy
and flow stepped as an incident's from one tick on, written to a real CSV and replayed through a Pipeline with the demo bundle's model
tier (its real .tflite / .onnx) or the numpy fallback alone; the payload checked against the alert schema.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml
from conftest import DEMO_CONFIG, REPO
from payloads import check
from skid_replay import replayed

from agent import config
from agent.alerts import iso
from agent.records import Rejects
from agent.sources import open_source
from agent.window import Aligner

TICKS = 520
CHANGE = 460            # the tick S03_speed drops at
WARMUP = 400
# An incident's shape at one station from one tick on (a lone sensor's step is a sensor fault here: masked, no alert)
INCIDENT = {"S03_speed": ("add", -45.0), "S03_occ": ("add", 20.0), "S03_flow": ("scale", 0.6)}


def _demo() -> dict:
    d = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    d["sinks"] = []
    d.pop("state_dir", None)
    return d


def _night_csv(path) -> float:
    """The demo corridor's first TICKS ticks (30 s, from midnight) as a CSV, station S03 in INCIDENT from CHANGE;
    returns the change's tick time."""
    d = _demo()
    src = next(s for s in d["sources"] if s["type"] == "simulate")
    src.update({"anomalies": [], "speed": 0, "fast_forward_s": 0,
                "duration_s": TICKS * d["tick_s"]})
    cfg = config.from_dict(d, base_dir=str(REPO / "configs"))
    source = open_source(cfg.sources[0], cfg.sensor_names(), Rejects(), cfg.base_dir, tick_s=cfg.tick_s)
    rows = Aligner.for_agent(cfg, Rejects()).align_all(source.records())[:TICKS]
    at = {cfg.sensor_names().index(name): how for name, how in INCIDENT.items()}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *cfg.sensor_names()])
        for k, row in enumerate(rows):
            values = np.array(row.values, float)
            for j, (op, by) in at.items():
                if k >= CHANGE:
                    values[j] = values[j] + by if op == "add" else values[j] * by
            w.writerow([iso(row.ts), *(f"{v:.6g}" for v in values)])
    return float(rows[CHANGE].ts)


@pytest.mark.parametrize("chain", [["tflite", "onnx", "numpy"], ["numpy"]], ids=["model-tier", "fallback"])
def test_the_first_top_step_of_an_alert_on_a_step_change_is_the_change(tmp_path, chain):
    change_ts = _night_csv(tmp_path / "corridor.csv")
    d = _demo()
    d["sources"] = [{"type": "replay", "path": str(tmp_path / "corridor.csv")}]
    d["warmup"] = {"ticks": WARMUP}
    d["scoring"]["chain"] = chain
    _, alerts, pipe = replayed(d, REPO / "configs")
    new = [a for a in alerts if a.event == "new"]
    assert new, "the drop raised no alert"
    first = new[0]
    assert change_ts <= first.ts <= change_ts + 5 * d["tick_s"], [(iso(a.ts), a.tier) for a in new]
    if chain[0] != "numpy":
        assert first.tier in ("tflite", "onnx"), first.tier          # the model tier explained it
    assert first.top_sensors[0]["sensor"] in INCIDENT
    assert first.top_steps[0]["ts"] == change_ts, (iso(first.top_steps[0]["ts"]), iso(change_ts), first.top_steps)
    payload = check("alert", json.loads(json.dumps(first.to_dict())))
    assert payload["top_steps"][0]["ts"] == iso(change_ts)
    assert 0 < payload["top_steps"][0]["weight"] <= 1
