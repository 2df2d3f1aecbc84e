"""bench/skab_tier_diag.py (issue 10, twenty-first round): it says where the attention tier's false alarms
come from — on each file's training rows scored after a shorter warm-up, and per alert on the dev files —
and which sensor's part led the tier's score there.

Real parts: SKAB-layout files written here, a tiny bundle trained on them by convert/ (ONNX int8), the
script run as a process. A file whose flow level climbs over its last training rows must show the
tier's alerted rows led by the flow's profile; a dev file whose flow stays shifted after its label must
show a false-alarm alert after the label, led by the flow's profile. Each false row is told why its alert was
open on it (over the threshold, held by the level hold, or a dip inside the span: skab37), every alert how it ended,
and `--skab-config` runs another config (one without the level hold holds no row).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import bench_module

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parent.parent
HEADER = ("datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;Temperature;Thermocouple;Voltage;"
          "Volume Flow RateRMS;anomaly;changepoint")
ROWS = 700


def _skab_file(path: Path, flow_shift: np.ndarray, labels: np.ndarray, seed: int) -> None:
    """ROWS one-second rows of 8 noisy sensors; the flow moved by `flow_shift` (in its noise σ)."""
    rng = np.random.default_rng(seed)
    base = np.array([0.2, 0.27, 2.1, 0.38, 90.0, 26.8, 230.0, 120.0])
    noise = np.array([0.01, 0.01, 0.05, 0.02, 0.2, 0.1, 1.0, 1.0])
    ar = np.zeros(8)
    lines = [HEADER]
    for k in range(ROWS):
        ar = 0.8 * ar + rng.standard_normal(8)
        v = base + noise * ar
        v[7] += noise[7] * flow_shift[k]
        stamp = f"2020-03-01 10:{k // 60:02d}:{k % 60:02d}"
        lines.append(";".join([stamp] + [f"{x:.5f}" for x in v] + [f"{labels[k]:.1f}", "0.0"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_the_diagnosis_names_the_sensor_part_behind_the_tiers_false_alarms(tmp_path):
    from convert.pipeline import DataOptions, export_bundle, train_bundle
    from convert.train import TrainOptions
    from convert.verify import verify_bundle

    accuracy = bench_module("accuracy")
    root = tmp_path / "data" / "skab"
    none = np.zeros(ROWS)
    climb = np.where(np.arange(ROWS) >= 300, np.minimum(np.arange(ROWS) - 300, 60) * 0.5, 0.0)   # +30 σ
    _skab_file(root / "other" / "7.csv", climb, none, seed=1)                 # not a dev file
    labels = ((np.arange(ROWS) >= 500) & (np.arange(ROWS) < 560)).astype(float)
    stays = np.where(np.arange(ROWS) >= 500, 30.0, 0.0)                       # shifted from the label on
    _skab_file(root / "valve1" / "0.csv", stays, labels, seed=2)              # a dev file
    cfg = accuracy.skab_config(accuracy.SKAB_CONFIG, [f"sources.0.path={root}"])
    bundle = tmp_path / "bundle"
    options = TrainOptions(epochs=2, windows_per_epoch=1024, d_model=16, heads=2, ff_hidden=16, threads=1,
                           progress=False)
    train_bundle(cfg, bundle, options, DataOptions(), model_id="skab-tiny")
    export_bundle(bundle, ["onnx_int8"], log=lambda *a: None)
    verify_bundle(bundle, write=True, log=lambda *a: None)

    def diagnose(*extra):
        out = subprocess.run([sys.executable, str(REPO / "bench" / "skab_tier_diag.py"), "--bundle", str(bundle),
                              "--data", str(tmp_path / "data"), "--scorer", "onnx", *extra],
                             capture_output=True, text=True, cwd=REPO, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout)

    report = diagnose()
    assert report["config"] == str(accuracy.SKAB_CONFIG)

    held = report["holdout"]
    assert set(held) == {"other/7.csv", "valve1/0.csv"}
    for name, f in held.items():
        assert f["rows"] == 400 - int(400 * 0.7), name          # the last 30 % of the 400 training rows
        assert f["labelled_anomalous"] == 0
    climbing = held["other/7.csv"]["tier"]
    assert climbing["alerted"] >= 60                              # the flow sits 30 σ off a level fitted flat
    lead = climbing["lead_alerted"]
    assert max(lead, key=lead.get) == "flow profile"
    assert held["valve1/0.csv"]["tier"]["alerted"] < climbing["alerted"]

    dev = report["dev"]
    assert set(dev) == {"valve1/0.csv"}                            # only the dev files
    f = dev["valve1/0.csv"]
    assert f["tier_false_rows"] > 0 and f["normal_rows"] == ROWS - 400 - 60
    alert = max(f["alerts"], key=lambda a: a["false_rows"])
    assert alert["where"] in ("after", "overlaps") and alert["opens_ticks_after_warmup"] >= 90
    assert max(alert["lead"], key=alert["lead"].get) == "flow profile"
    for a in f["alerts"]:                                          # why each false row was inside an alert
        assert set(a["false_rows_open_because"]) <= {"over", "held", "dip"}
        assert sum(a["false_rows_open_because"].values()) == a["false_rows"]
        assert a["ended"] in ("cleared", "subsided", "end of data", "sensor_fault", "no_data")
    assert alert["false_rows_open_because"].get("over", 0) > 0    # the shifted flow scores above the threshold
    assert sum(f["tier_false_rows_open_because"].values()) == f["tier_false_rows"]

    unheld = tmp_path / "skab-unheld.yaml"                          # the same config without the level hold
    unheld.write_text(accuracy.SKAB_CONFIG.read_text(encoding="utf-8").replace("hold_sigma: 2 ", "hold_sigma: 0 "),
                      encoding="utf-8")
    other = diagnose("--only", "dev", "--skab-config", str(unheld))
    assert other["config"] == str(unheld) and "holdout" not in other
    g = other["dev"]["valve1/0.csv"]
    assert "held" not in g["tier_false_rows_open_because"]
    assert sum(g["tier_false_rows_open_because"].values()) == g["tier_false_rows"] > 0

    # skab44: `--fraction 0` runs each whole file as SKAB splits it (for files labelled normal throughout: cuts of
    # anomaly-free.csv), `--only scored` the per-alert look on every file, not the dev files only
    whole = diagnose("--only", "holdout", "--only", "scored", "--fraction", "0")
    assert whole["fraction"] == 0 and "dev" not in whole
    held = whole["holdout"]
    for name, h in held.items():
        assert h["rows"] == ROWS - 400, name                         # every row after SKAB's 400 training rows
    assert held["other/7.csv"]["labelled_anomalous"] == 0 and held["valve1/0.csv"]["labelled_anomalous"] == 60
    scored = whole["scored"]
    assert set(scored) == {"other/7.csv", "valve1/0.csv"}              # every file, not only the dev ones
    assert scored["valve1/0.csv"]["tier_false_rows"] == dev["valve1/0.csv"]["tier_false_rows"]   # the dev look's
    # on a file labelled normal throughout, the holdout's alerted rows are the scored look's false rows
    assert scored["other/7.csv"]["tier_false_rows"] == held["other/7.csv"]["tier"]["alerted"]
    assert scored["other/7.csv"]["numpy_false_rows"] == held["other/7.csv"]["numpy"]["alerted"]
