"""A bundle trained on one recording is calibrated on its held-out rows when the agent warms up on that recording
(review43, of calib1).

calib1 made the start warm-up calibrate a model tier's threshold on the ticks its bundle's manifest says it was not
trained on (`data.segments[].first_ts` and `train`: agent/held_out_ticks.py). But the converter wrote `data.segments`
only for two recordings or more: a bundle trained on one CSV export — and `stad-convert train` itself prints
`warmup.replay` as that same file — had no segment, so the warm-up was fitted on its own training rows, in-sample,
with no word of it (the case calib1 measured: user31's threshold 4.539 against the manifest's 10.880, 3 false alerts).

Real CSV recording, the real `stad-convert train` (a small ONNX model) and the real agent as a process.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from conftest import agent_env, built_once  # noqa: E402

TICK, STEPS, ROWS = 1.0, 8, 1800
DAY = 1793599200.0          # 2026-11-02 00:00 UTC
HEADER = "timestamp,a,b\n"
TRAINED = re.compile(r"onnx: (\d+) of the warm-up ticks are rows its bundle was trained on \(its manifest's "
                     r"data\.segments\): its threshold is calibrated on the (\d+) calm ones it was not")
FITTED = re.compile(r"onnx: normal profile fitted on (\d+) warm-up ticks; threshold ([\d.]+)")


def _rows(seed: int, n: int) -> list[str]:
    """Two sensors of a pump-like loop: a slow wave plus noise, `b` following `a`."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    a = np.sin(t / 15.0) + 0.1 * rng.standard_normal(n)
    b = 0.5 * a + 0.1 * rng.standard_normal(n)
    return [f"{a[i]:.5f},{b[i]:.5f}" for i in range(n)]


def _train(out: Path) -> None:
    """One recording (a single export, no gap) and a bundle trained on it (ONNX fp32 only: seconds)."""
    out.mkdir(parents=True)
    recording = out / "history.csv"
    recording.write_text(HEADER + "".join(f"{DAY + i:.0f},{r}\n" for i, r in enumerate(_rows(1, ROWS))))
    cfg = out / "train.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
                                   "sources": [{"type": "replay", "path": str(recording)}],
                                   "window": {"steps": STEPS, "carry_forward_s": 2 * TICK},
                                   "warmup": {"ticks": 50}, "sinks": []}))
    done = subprocess.run([sys.executable, "-m", "convert.cli", "train", "-c", str(cfg), "-o", str(out / "bundle"),
                           "--only", "onnx_fp32", "--epochs", "4", "--d-model", "8", "--ff-hidden", "8", "--threads",
                           "1", "--windows-per-epoch", "512", "--quiet"], capture_output=True, text=True, timeout=900,
                          env=agent_env())
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_warm_up_on_the_one_recording_trained_on_calibrates_on_its_held_out_rows(tmp_path):
    root = built_once("review43-one-recording-bundle", _train)
    split = json.loads((root / "bundle" / "manifest.json").read_text())["data"]["split"]
    trained = split["train"][1] - split["train"][0]
    live = tmp_path / "live.csv"
    live.write_text(HEADER + "".join(f"{DAY + 86400 + i:.0f},{r}\n" for i, r in enumerate(_rows(9, 200))))
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
        "sources": [{"type": "replay", "path": str(live)}],
        "window": {"steps": STEPS, "carry_forward_s": 2 * TICK},
        "warmup": {"ticks": 100, "replay": str(root / "history.csv")},
        "scoring": {"bundle": str(root / "bundle"), "chain": ["onnx", "numpy"]},
        "sinks": [], "state_dir": str(tmp_path / "state")}))
    done = subprocess.run([sys.executable, "-m", "agent.cli", "run", "-c", str(cfg), "--max-ticks", "50"],
                          capture_output=True, text=True, timeout=600, env=agent_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stderr
    [(taken, left)] = [tuple(map(int, m.groups())) for m in TRAINED.finditer(log)]
    assert (taken, left) == (trained, ROWS - trained), log      # the first 70 %: trained on; the rest held out
    [(fitted, _)] = [(int(m.group(1)), m.group(2)) for m in FITTED.finditer(log)]
    assert 0 < fitted <= left, log                              # no training row in the calibration
