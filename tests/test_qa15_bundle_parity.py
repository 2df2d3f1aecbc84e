"""A bundle whose recorded parity failed (`stad-convert train` writes it even when its verify
fails, exit 1): the int8 artifacts that failed are not run — the tiers run the bundle's fp32
artifacts — and a bundle left with none is refused with the groups that failed, the same way by
check-config, by a start and by a hot swap. Before, all three took it without a word.
Torch-free: copies of the shipped demo bundle whose manifest records the failed parity the way
`stad-convert verify --record` writes it (passed false, per group alert_agreement)."""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys

import pytest
import yaml

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, demo_cfg, demo_dict,  # noqa: E402
                      drive_hotswap as drive, hotswap_pipeline as setup, sim_rows, variant)

from agent import bundle as bundles  # noqa: E402
from agent.manifest import write as write_manifest  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

pytestmark = NO_DEMO
FAILED = "alert agreement 0.9612 on perturbed windows, under 0.99"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.3)


def failed_parity(name: str, failed: tuple[str, ...], keep: list[str] | None = None):
    """A copy of the demo bundle whose recorded parity failed for the `failed` int8 artifacts."""
    out = variant(name, src=DEMO_BUNDLE, model_id=name, keep=keep)
    manifest = bundles.read_manifest(out)
    manifest.parity["passed"] = False
    for kind in failed:
        manifest.parity[kind]["groups"]["perturbed"]["alert_agreement"] = 0.9612
    write_manifest(out, manifest)
    return out


def check_config(tmp_path, bundle) -> subprocess.CompletedProcess:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(demo_dict(tmp_path, bundle=str(bundle))))
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], capture_output=True,
                          text=True, timeout=120)


def test_a_bundle_whose_every_artifact_failed_parity_is_refused_by_check_config_and_a_hot_swap(tmp_path, rows):
    # On the old code check-config said ok and the hot swap took it (shadowed, then swapped in).
    bad = failed_parity("demo-int8-failed", ("onnx_int8", "tflite_int8"), keep=["onnx_int8", "tflite_int8"])
    res = check_config(tmp_path, bad)
    assert res.returncode == 2, res.stdout + res.stderr
    said = f"scoring.bundle: {bad}: every artifact failed its parity check when the bundle was made (onnx_int8 "
    assert said in res.stderr and f"tflite_int8 {FAILED}" in res.stderr and f"onnx_int8 {FAILED}" in res.stderr

    (tmp_path / "swap").mkdir()
    pipe, swap, models = setup(tmp_path / "swap", bundle=DEMO_BUNDLE)
    drive(pipe, swap, rows, until=lambda: True)
    shutil.copytree(bad, models / "bad")
    drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.status()["last"] is not None)
    outcome = swap.status()["last"]
    assert not outcome["accepted"], outcome
    assert "every artifact failed its parity check when the bundle was made" in outcome["reason"]
    assert f"tflite_int8 {FAILED}" in outcome["reason"]
    assert "stad-convert verify --record --min-agreement X" in outcome["reason"]
    assert pipe.chain.switch_count == 0 and pipe.chain.current.describe()["model_id"] == "demo-corridor"


def test_an_int8_artifact_that_failed_parity_is_not_run_and_the_tier_runs_fp32_and_says_so(tmp_path, rows,
                                                                                           caplog):
    # On the old code the tflite tier ran model_int8.tflite, whose alert decisions verify had failed.
    partly = failed_parity("demo-tflite-int8-failed", ("tflite_int8",))
    res = check_config(tmp_path, partly)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"note: scoring.bundle: {partly}: parity failed when it was made: tflite_int8 " \
           "not run, the tiers run onnx_fp32, onnx_int8, tflite_fp32 instead" in res.stderr
    assert "(tflite_int8 alert agreement 0.9612" in res.stderr      # the figures last: a long line is cut there

    (tmp_path / "start").mkdir()
    started = Pipeline(demo_cfg(tmp_path / "start", bundle=str(partly)))
    assert started.chain.current.describe()["quantization"] == "fp32"
    assert started.chain.current.describe()["artifact"] == "model_fp32.tflite"

    (tmp_path / "swap").mkdir()
    pipe, swap, models = setup(tmp_path / "swap", bundle=DEMO_BUNDLE)
    drive(pipe, swap, rows, until=lambda: True)
    assert pipe.chain.current.describe()["quantization"] == "int8"
    shutil.copytree(partly, models / "partly")
    with caplog.at_level(logging.WARNING, logger="stad.hotswap"):
        drive(pipe, swap, rows[WARMUP + 1:], until=lambda: swap.status()["last"] is not None)
    assert swap.status()["last"]["accepted"], swap.status()["last"]
    now = pipe.chain.current.describe()
    assert now["model_id"] == "demo-tflite-int8-failed" and now["artifact"] == "model_fp32.tflite", now
    assert f"model update: {models / 'partly'}: parity failed when it was made: tflite_int8 not run" in caplog.text
    assert f"(tflite_int8 {FAILED})" in caplog.text


def test_a_bundle_whose_parity_was_never_recorded_is_taken_with_a_note(tmp_path):
    # On the old code check-config said ok and nothing else.
    plain = variant("demo-no-parity", src=DEMO_BUNDLE, model_id="demo-no-parity")
    manifest = bundles.read_manifest(plain)
    manifest.parity = None
    write_manifest(plain, manifest)
    res = check_config(tmp_path, plain)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"note: scoring.bundle: {plain}: no parity recorded in its manifest: its artifacts were never verified " \
           f"against the trained model (`stad-convert verify --record {plain}` does it)" in res.stderr
