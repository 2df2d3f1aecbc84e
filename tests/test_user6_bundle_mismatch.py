"""A bundle made for another config says how to mend it, not only what differs: an integrator who
trained on the README's example (window 32) and ran configs/industrial.yaml (window 64) read
`built for a different configuration: window steps: bundle 32, config window.steps 64` from the hot
swap and had to find `stad-convert train --steps` alone (user6's walk)."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.bundle import BundleError, Expectation, load
from agent.cli import main

REPO = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
SENSORS = [f"S0{s}_{q}" for s in range(1, 7) for q in ("flow", "occ", "speed")]
HINT = "train it again with this config's values (stad-convert train{}) or set them to the bundle's"


@pytest.mark.parametrize("steps, tick_s, differs, hint", [
    (64, 30.0, "window steps: bundle 32, config window.steps 64", HINT.format(" `--steps 64`")),
    (32, 1.0, "tick: bundle 30.0 s, config tick_s 1.0 s", HINT.format("")),
])
def test_the_refusal_says_what_to_do(steps, tick_s, differs, hint):
    with pytest.raises(BundleError) as info:
        load(DEMO_BUNDLE, expect=Expectation(sensors=SENSORS, steps=steps, tick_s=tick_s, topology="corridor"))
    assert f"{differs} — {hint}" in str(info.value), str(info.value)


def test_check_config_says_what_to_do(tmp_path, capsys):
    text = (REPO / "configs" / "demo.yaml").read_text(encoding="utf-8")
    assert "steps: 32" in text
    cfg = tmp_path / "demo-64.yaml"
    cfg.write_text(text.replace("steps: 32", "steps: 64"), encoding="utf-8")
    assert main(["check-config", "-c", str(cfg)]) == 2
    said = "".join(capsys.readouterr())
    assert f"window steps: bundle 32, config window.steps 64 — {HINT.format(' `--steps 64`')}" in said, said
