"""A simulator seed given twice is refused (qa43).

Each seed is its own segment, split 70 / 15 / 15 by time on its own (convert.data.training_sources): the same
seed twice is the same days twice, so what one copy trains on the other validates and tests on — the held-out
figures would be scores on training data. `training_sources` refuses it naming the key and the seed, and
`stad-convert build-demo --sim-seed` refuses it before the output directory is touched."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load
from convert.data import TrainingError, training_sources

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "configs" / "demo.yaml"


def test_training_sources_refuses_a_seed_given_twice():
    cfg = load(DEMO)
    with pytest.raises(TrainingError, match=r"seed: 3102 given twice .*\[3101, 3102, 3102\]"):
        training_sources(cfg, days=0.25, seed=[3101, 3102, 3102])
    assert len(training_sources(cfg, days=0.25, seed=[3101, 3102])) == 2       # each once: taken


def test_build_demo_refuses_a_seed_given_twice_before_touching_the_output(tmp_path, capsys):
    from convert.cli import main
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "keep.txt").write_text("not removed")
    assert main(["build-demo", "--out", str(out), "--quiet", "--sim-seed", "3101", "3101"]) == 2
    err = capsys.readouterr().err
    assert "stad-convert build-demo: --sim-seed: 3101 given twice" in err and "Traceback" not in err
    assert (out / "keep.txt").read_text() == "not removed"
