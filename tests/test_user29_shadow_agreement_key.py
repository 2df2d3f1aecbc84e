"""A bundle the shadow rejects for its alert decisions names the key that judged it and how to take it all the same
(user29: a retrain of the same plant on one more recording, delivered into models_dir, was rejected `agreement below
0.8: 120 shadow ticks, …, alert-decision agreement 0.700` — which key, and what an operator who wants the retrain
does next, were not said; the latency, correlation and off-scale rejections name theirs). The running agent's
Pipeline and HotSwap on the demo config, the candidate the shipped demo bundle with its threshold set far under its
scores (every shadow tick above it), torch-free."""
from __future__ import annotations

import logging
import shutil

import pytest

pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg, drive_hotswap as drive,  # noqa: E402
                      hotswap_pipeline as setup, sim_rows)

from agent.bundle import read_manifest  # noqa: E402
from agent.manifest import write as write_manifest  # noqa: E402

pytestmark = NO_DEMO


def test_a_shadow_rejection_on_agreement_names_its_key_and_the_way_through(tmp_path, caplog):
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE)
    drive(pipe, swap, rows, until=lambda: True)
    low = tmp_path / "low"
    shutil.copytree(DEMO_BUNDLE, low)
    manifest = read_manifest(low)
    manifest.model_id = "demo-low"
    manifest.threshold = {**manifest.threshold, "value": 1e-3}
    write_manifest(low, manifest)
    shutil.copytree(low, models / "low")
    with caplog.at_level(logging.WARNING, logger="stad.hotswap"):
        drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.status()["last"] is not None)
    outcome = swap.status()["last"]
    assert not outcome["accepted"], outcome
    assert outcome["reason"].startswith("alert-decision agreement below scoring.shadow_min_agreement 0.8: "), outcome
    assert outcome["reason"].endswith("; to take it all the same, set scoring.bundle to it and restart (or lower "
                                      "that key and restart: a SIGHUP then judges it again)"), outcome
    [said] = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert "scoring.shadow_min_agreement 0.8" in said and said.endswith("(" + str(DEMO_BUNDLE) + ")"), said
    assert pipe.chain.current.describe()["model_id"] == "demo-corridor"
