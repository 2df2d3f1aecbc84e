"""bench/corridor_tiny.py (issue 10, corridor30): the census of the tier's score at the corridor's queued incidents
through every graph of the shipped bundle, the queue's noise-free signal and the fallback's parts.

Real parts: the shipped demo bundle (agent/models/demo-corridor: tflite and onnx, int8 and fp32, model.pt), the
bench's own demand-gated corridor replay of one tuning seed, the script run as a process. What the census reads
must be what the agent scored: its re-scoring of the int8 TFLite graph must equal the agent's own per-sensor scores,
the fallback's three parts must add up to its score, and the noise-free signal of a queue over a kilometre must be
many residual units where the seed's tiny queues are not.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

REPO = Path(__file__).resolve().parent.parent
SEED = 4001     # a tuning seed (corridor27's census): 4 queued incidents, one of 0.019 km, three over 1 km


def _run(*args: str) -> str:
    res = subprocess.run([sys.executable, str(REPO / "bench" / "corridor_tiny.py"), *args], capture_output=True,
                         text=True, timeout=600, cwd=REPO)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_the_census_reads_what_the_agent_scored(tmp_path):
    _run("collect", "--seeds", str(SEED), "--out", str(tmp_path))
    seed = json.loads((tmp_path / f"seed{SEED}.json").read_text(encoding="utf-8"))
    inputs = json.loads((tmp_path / "inputs.json").read_text(encoding="utf-8"))
    # the re-scored int8 graph is the agent's own score, bit for bit up to float rounding; the others differ a little
    parity = seed["parity_max_abs_ratio_vs_agent"]
    assert parity["tflite_int8"] < 1e-9
    assert 0 < parity["tflite_fp32"] < 0.5 and 0 < parity["pytorch"] < 0.5
    # every graph takes float inputs: the shipped int8 TFLite has no input scale
    assert all(t["scale_zero_point"] == [0.0, 0.0] for t in inputs["tflite_int8"])
    rows = seed["incidents"]
    assert len(rows) == 4
    for r in rows:
        assert r["station_peak"]["agent"] == pytest.approx(r["station_peak"]["tflite_int8"], abs=1e-9)
        # the fallback's score is its weighted parts' sum: the parts at its peak add up to the peak
        assert sum(r["fallback_parts_at_peak"].values()) == pytest.approx(r["fallback_station_peak"], rel=1e-9)
    tiny = [r for r in rows if r["km"] <= 0.1]
    long = [r for r in rows if r["km"] > 1.0]
    assert len(tiny) == 1 and len(long) == 3
    assert max(tiny[0]["clean_move_residual_units"]) < 1.0
    assert all(max(r["clean_move_residual_units"]) > 20 for r in long)
    assert all(r["found"]["tflite"] and r["found"]["numpy"] for r in long)
    out = _run("report", str(tmp_path))
    assert "1 seeds, 4 queued incidents" in out and "== longer than 0.1 km: 3 incidents" in out


def test_the_noise_beside_the_residual_unit():
    out = _run("noise", "--seed", str(SEED)).splitlines()
    rows = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in out[1:]}
    assert len(rows) == 18
    # the tier's residual unit is the simulator's unpredictable noise, within a fifth, on every sensor
    assert all(0.8 < r[-1] < 1.25 for r in rows.values())


def test_a_bundle_that_does_not_load_and_an_empty_census_are_usage_errors(tmp_path):
    for args, says in ((["collect", "--seeds", str(SEED), "--out", str(tmp_path / "o"), "--bundle", str(tmp_path)],
                        f"--bundle {tmp_path}: {tmp_path}: no manifest.json"),
                       (["noise", "--seed", str(SEED), "--bundle", str(tmp_path)], f"--bundle {tmp_path}:"),
                       (["report", str(tmp_path)], f"{tmp_path}: no seed*.json")):
        res = subprocess.run([sys.executable, str(REPO / "bench" / "corridor_tiny.py"), *args], capture_output=True,
                             text=True, timeout=120, cwd=REPO)
        assert res.returncode == 2, (args, res.stderr)
        assert says in res.stderr and "Traceback" not in res.stderr, res.stderr
