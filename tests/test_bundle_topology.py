"""A bundle is refused under another neighbour rule than the one it was trained with: its spatial
attention's prior names the training config's neighbours, so under the config's other rule the model
would weigh other sensors than the fallback's fusion does (QA pass 8 found it accepted without a word)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.bundle import BundleError, Expectation, load

REPO = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"


def _expect(topology: str | None) -> Expectation:
    sensors = [f"S0{s}_{q}" for s in range(1, 7) for q in ("flow", "occ", "speed")]
    return Expectation(sensors=sensors, steps=32, tick_s=30.0, topology=topology)


def test_the_trained_rule_is_accepted_and_another_refused():
    assert load(DEMO_BUNDLE, expect=_expect("corridor")).manifest.model["topology"] == "corridor"
    assert load(DEMO_BUNDLE, expect=_expect(None)).sensors        # a caller that does not judge it
    with pytest.raises(BundleError, match=r"topology: bundle 'corridor' .*config topology 'group'"):
        load(DEMO_BUNDLE, expect=_expect("group"))


def test_check_config_refuses_the_demo_bundle_under_the_group_rule(tmp_path):
    text = (REPO / "configs" / "demo.yaml").read_text(encoding="utf-8")
    assert "topology: corridor" in text
    cfg = tmp_path / "demo-group.yaml"
    cfg.write_text(text.replace("topology: corridor", "topology: group"), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(cfg)], capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    said = res.stdout + res.stderr
    assert "topology: bundle 'corridor'" in said and "1 problem(s)" in said, said
