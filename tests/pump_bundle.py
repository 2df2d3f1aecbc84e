"""A small bundle trained on a two-sensor pump loop's CSV recordings, and the agent started on it warming up on
recordings: what the tests of the held-out calibration share (calib1: the warm-up on the training recordings;
review43: a bundle of one recording; user32: a sensor added on the second day). ONNX fp32 only, d_model 8, four
epochs: seconds, built once per test session by each test module (conftest.built_once), by the converter's main in
the building worker's process."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from conftest import agent_env, convert_in_process

TICK, STEPS = 1.0, 8
TRAINED = re.compile(r"onnx: (\d+) of the warm-up ticks are rows its bundle was trained on \(its manifest's "
                     r"data\.segments\): its threshold is calibrated on the (\d+) calm ones it was not")
FITTED = re.compile(r"onnx: normal profile fitted on (\d+) warm-up ticks; threshold ([\d.]+)")
DONE = re.compile(r"warm-up done: .* scoring with tier onnx, threshold ([\d.]+)")


def pump_rows(seed: int, n: int, with_b: bool = True) -> list[str]:
    """Two sensors of a pump-like loop, CSV cells after the time: a slow wave plus noise, `b` following `a`
    (`with_b` False: `a` alone, a file from before `b` was added)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    a = np.sin(t / 15.0) + 0.1 * rng.standard_normal(n)
    b = 0.5 * a + 0.1 * rng.standard_normal(n)
    return [f"{a[i]:.5f}" + (f",{b[i]:.5f}" if with_b else "") for i in range(n)]


def _config(source: dict, **more) -> dict:
    return {"sensors": ["a", "b"], "tick_s": TICK, "topology": "none", "sources": [source],
            "window": {"steps": STEPS, "carry_forward_s": 2 * TICK}, **more}


def train(out: Path, source: dict) -> str:
    """`stad-convert train` on the replay `source` into out/bundle; its output (stdout and stderr). Its main runs in
    this process (conftest.convert_in_process): what the bundle is is the tests' premise, not the converter's
    process, which would import torch again (~3 of its ~5 CPU-s; suite10)."""
    cfg = out / "train.yaml"
    cfg.write_text(yaml.safe_dump(_config(source, warmup={"ticks": 50}, sinks=[])))
    done = convert_in_process(None, "train", "-c", str(cfg), "-o", str(out / "bundle"), "--only", "onnx_fp32",
                              "--epochs", "4", "--d-model", "8", "--ff-hidden", "8", "--threads", "1",
                              "--windows-per-epoch", "512")
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def run_warmed_up(tmp_path: Path, live: Path, bundle: Path, warmup_replay: Path, replay_format: dict | None = None,
                  profile: dict | None = None) -> str:
    """The agent started on `bundle` with `warmup.replay` on `warmup_replay`, the recording `live` replayed after
    (both read with `replay_format`'s keys), 50 ticks; its log."""
    fmt = replay_format or {}
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump(_config(
        {"type": "replay", "path": str(live), **fmt},
        warmup={"ticks": 100, "replay": str(warmup_replay), **({"replay_format": fmt} if fmt else {})},
        scoring={"bundle": str(bundle), "chain": ["onnx", "numpy"], **({"profile": profile} if profile else {})},
        sinks=[], state_dir=str(tmp_path / "state"))))
    done = subprocess.run([sys.executable, "-m", "agent.cli", "run", "-c", str(cfg), "--max-ticks", "50"],
                          capture_output=True, text=True, timeout=600, env=agent_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def training_part(recordings: Path, manifest, dest: Path) -> Path:
    """Each recording cut to the rows the bundle (`manifest`, agent.bundle) was trained on — its header and the first
    `train` rows of each segment — into `dest`: a warm-up of nothing but training rows."""
    dest.mkdir()
    for seg in manifest.data["segments"]:
        lines = (recordings / seg["recording"]).read_text().splitlines(keepends=True)
        (dest / seg["recording"]).write_text("".join(lines[:1 + seg["train"]]))
    return dest
