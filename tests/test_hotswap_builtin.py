"""Hot swap and its rejections with the committed demo bundle: no torch needed (the converter is
not run), so these run on a gateway-like install. tests/test_hotswap.py covers more cases with
bundles the converter makes."""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from agent import bundle as bundles
from agent.hotswap import HotSwap
from agent.pipeline import Pipeline
from agent.scorers import runtimes
from conftest import DEMO_BUNDLE, HAVE_DEMO, demo_cfg, drive_hotswap as drive, sim_rows

pytestmark = [
    pytest.mark.skipif(not HAVE_DEMO, reason="the demo bundle (agent/models/demo-corridor) is not built"),
    pytest.mark.skipif(not runtimes()["tflite"].available(), reason="ai-edge-litert is not installed"),
]

WARMUP = 300
TICK_S = 30.0


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.3)


def demo_copy(dest, model_id: str):
    """The demo bundle under another model_id (manifest.json itself is not a hashed file)."""
    shutil.copytree(DEMO_BUNDLE, dest)
    manifest = json.loads((dest / bundles.MANIFEST_NAME).read_text())
    manifest["model_id"] = model_id
    (dest / bundles.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    return dest


def setup(tmp_path, bundle=None, shadow_ticks=5):
    models = tmp_path / "models"
    models.mkdir()
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, bundle=str(bundle) if bundle else None, models_dir=str(models),
                   shadow_ticks=shadow_ticks, chain=["tflite", "numpy"])
    pipe = Pipeline(cfg)
    return pipe, HotSwap(cfg, pipe, poll_ticks=2), models


def test_the_demo_bundle_replaces_the_numpy_fallback_without_a_gap(tmp_path, rows):
    pipe, swap, models = setup(tmp_path)
    assert pipe.chain.tier == "numpy"
    before = drive(pipe, swap, rows, until=lambda: True)
    demo_copy(models / "demo", "demo-copy")
    after = drive(pipe, swap, rows[WARMUP + 1:], until=lambda: pipe.chain.tier == "tflite")
    ts = np.array([r.ts for r in before + after])
    assert np.all(np.diff(ts) == TICK_S), "a tick went unscored"
    assert "tflite" in pipe.thresholds and pipe.chain.current.describe()["model_id"] == "demo-copy"
    outcome = swap.status()["last"]
    assert outcome["accepted"] and swap.status()["accepted"] == 1


def test_a_tampered_copy_is_rejected_and_the_running_bundle_keeps_scoring(tmp_path, rows, caplog):
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE)
    drive(pipe, swap, rows, until=lambda: True)
    bad = demo_copy(models / "bad", "demo-bad")
    blob = bytearray((bad / "model_int8.tflite").read_bytes())
    blob[100] ^= 0xFF
    (bad / "model_int8.tflite").write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING, logger="stad.hotswap"):
        drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.status()["last"] is not None)
    outcome = swap.status()["last"]
    assert not outcome["accepted"] and "model_int8.tflite: sha256 mismatch" in outcome["reason"]
    assert pipe.chain.switch_count == 0 and pipe.chain.tier == "tflite"
    assert pipe.chain.current.describe()["model_id"] == json.loads((DEMO_BUNDLE / "manifest.json").read_text())["model_id"]
