"""`stad-agent simulate` on a gateway config tells the user to add the simulator in the scenario its sensors fit
(user27: run on a copy of configs/roadside.yaml — a corridor of loop detectors — it said to add `scenario:
pump`), in a copy of the config; the advice followed writes the gateway's sensors."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def _simulate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "simulate", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_a_corridor_gateway_config_is_told_the_corridor_scenario_and_the_advice_works(tmp_path):
    roadside = REPO / "configs" / "roadside.yaml"
    told = _simulate("-c", str(roadside), "-o", str(tmp_path / "none"), "--days", "1")
    assert told.returncode == 2
    advice = "replace `sources` by `[{type: simulate, scenario: corridor, seed: 1}]`"
    assert advice in told.stderr and "in a copy of this config" in told.stderr, told.stderr
    assert "scenario: pump" not in told.stderr
    copy = yaml.safe_load(roadside.read_text())
    copy["sources"] = yaml.safe_load(advice.split("by `")[1].rstrip("`"))
    (tmp_path / "sim.yaml").write_text(yaml.safe_dump(copy))
    done = _simulate("-c", str(tmp_path / "sim.yaml"), "-o", str(tmp_path / "rec"), "--days", "0.1")
    assert done.returncode == 0, done.stderr
    with next((tmp_path / "rec").glob("*.csv")).open() as f:
        header = next(csv.reader(f))
    assert header == ["timestamp", *copy["sensors"], "anomaly"]


def test_a_pump_config_is_still_told_the_pump_scenario():
    told = _simulate("-c", str(REPO / "configs" / "industrial.yaml"), "-o", "/nonexistent/none", "--days", "1")
    assert told.returncode == 2
    assert "`[{type: simulate, scenario: pump, seed: 1}]`" in told.stderr, told.stderr
