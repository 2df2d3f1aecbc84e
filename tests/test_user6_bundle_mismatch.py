"""A bundle made for another config says how to mend it, not only what differs: an integrator who
trained on the README's example (window 32) and ran configs/industrial.yaml (window 64) read
`built for a different configuration: window steps: bundle 32, config window.steps 64` from the hot
swap and had to find `stad-convert train --steps` alone (user6's walk)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.bundle import BundleError, Expectation, load

REPO = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
SENSORS = [f"S0{s}_{q}" for s in range(1, 7) for q in ("flow", "occ", "speed")]


def test_another_window_names_the_steps_to_train_with():
    with pytest.raises(BundleError) as info:
        load(DEMO_BUNDLE, expect=Expectation(sensors=SENSORS, steps=64, tick_s=30.0, topology="corridor"))
    said = str(info.value)
    assert "window steps: bundle 32, config window.steps 64" in said
    assert "train it again with this config's values (stad-convert train `--steps 64`)" in said, said


def test_another_tick_is_told_to_retrain_without_a_steps_hint():
    with pytest.raises(BundleError) as info:
        load(DEMO_BUNDLE, expect=Expectation(sensors=SENSORS, steps=32, tick_s=1.0, topology="corridor"))
    said = str(info.value)
    assert "tick: bundle 30.0 s, config tick_s 1.0 s" in said
    assert "train it again with this config's values (stad-convert train)" in said, said


def test_check_config_says_what_to_do(tmp_path):
    text = (REPO / "configs" / "demo.yaml").read_text(encoding="utf-8")
    assert "steps: 32" in text
    cfg = tmp_path / "demo-64.yaml"
    cfg.write_text(text.replace("steps: 32", "steps: 64"), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(cfg)], capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    said = res.stdout + res.stderr
    assert res.returncode == 2, said
    assert "window steps: bundle 32, config window.steps 64 — train it again with this config's values (stad-convert train `--steps 64`) or set them to the bundle's" in said, said
