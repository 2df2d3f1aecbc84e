"""The typed bundle manifest (agent/manifest.py), torch-free: the shipped bundle round-trips
exactly, a broken manifest is refused with every problem named by file and key path, and a
manifest rewritten by `write` matches its files again."""
from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from conftest import DEMO_BUNDLE, NO_DEMO

from agent import bundle as bundles
from agent import manifest as manifests
from agent.signing import SIGNATURE_NAME

pytestmark = NO_DEMO


def demo_json() -> dict:
    return json.loads((DEMO_BUNDLE / manifests.MANIFEST_NAME).read_text(encoding="utf-8"))


def test_the_shipped_manifest_round_trips_byte_for_byte():
    text = (DEMO_BUNDLE / manifests.MANIFEST_NAME).read_text(encoding="utf-8")
    m = manifests.parse(json.loads(text))
    assert m.to_json() == text                   # what the writer writes is what the agent parsed
    assert m.sensors[0] == "S01_flow" and m.steps == 32 and m.tick_s == 30.0
    assert m.artifact_kinds() == list(manifests.ARTIFACT_KINDS)
    assert m.artifacts["tflite_int8"].quantization["recipe"] == "weight_only_int8_per_channel"
    assert [t.name for t in m.inputs] == ["values", "missing"]
    assert set(m.listed_files()) == {"model_fp32.onnx", "model_int8.onnx", "model_fp32.tflite", "model_int8.tflite",
                                     "model.pt", "calibration.npy", "holdout.npy"}


def test_a_broken_manifest_is_refused_naming_the_file_and_every_key(tmp_path):
    out = tmp_path / "broken"
    shutil.copytree(DEMO_BUNDLE, out)
    doc = demo_json()
    doc["steps"] = 1
    doc["colour"] = "blue"
    doc["normalisation"]["std"]["S02_occ"] = -1.0
    del doc["residual_std"]["S03_flow"]
    doc["artifacts"]["onnx_int8"]["sha256"] = "ABC"
    doc["artifacts"]["onnx_int8"]["file"] = "../escape.onnx"
    doc["artifacts"]["tflite_int4"] = doc["artifacts"]["tflite_fp32"]
    doc["files"]["model.pt"]["bytes"] = "many"
    doc["threshold"]["value"] = None
    doc["threshold"]["init_threshold"] = -1
    doc["threshold"]["peaks"][3] = "NaN"
    del doc["threshold"]["n"]
    (out / manifests.MANIFEST_NAME).write_text(json.dumps(doc))
    with pytest.raises(bundles.BundleError) as info:
        bundles.load(out)
    msg = str(info.value)
    assert msg.startswith(f"{out / manifests.MANIFEST_NAME}: invalid manifest: ")
    for part in ("colour: unknown key", "steps: must be >= 2, got 1",
                 "normalisation.std.S02_occ: expected a positive number",
                 "residual_std: no value for S03_flow",
                 "artifacts.onnx_int8.sha256: expected 64 lowercase hex digits",
                 "artifacts.onnx_int8.file: expected a plain file name inside the bundle, got '../escape.onnx'",
                 "artifacts.tflite_int4: unknown kind",
                 "files.model.pt.bytes: expected an integer",
                 "threshold.value: expected a positive finite number, got None",
                 "threshold.init_threshold: expected a finite number ≥ 0, got -1",
                 "threshold.n: expected a whole number ≥ 1, got None",
                 "threshold.peaks: expected a list of finite numbers"):
        assert part in msg, (part, msg)


def test_another_format_version_is_the_one_problem_said(tmp_path):
    out = tmp_path / "v2"
    shutil.copytree(DEMO_BUNDLE, out)
    doc = demo_json()
    doc["format_version"] = 2
    doc["new_thing"] = {}
    (out / manifests.MANIFEST_NAME).write_text(json.dumps(doc))
    with pytest.raises(bundles.BundleError, match=r"invalid manifest: format_version: this agent reads version 1, "
                                                  r"the bundle has 2$"):
        bundles.load(out)


def test_a_required_key_missing_is_named(tmp_path):
    doc = demo_json()
    del doc["artifacts"]
    with pytest.raises(manifests.ManifestError, match="artifacts: required key is missing"):
        manifests.parse(doc)


def test_write_rehashes_what_changed_and_drops_a_stale_signature(tmp_path):
    out = tmp_path / "rewritten"
    shutil.copytree(DEMO_BUNDLE, out)
    (out / SIGNATURE_NAME).write_text("c3RhbGU=\n")
    holdout = out / "holdout.npy"
    holdout.write_bytes(holdout.read_bytes() + b"\0")
    with pytest.raises(bundles.BundleError, match="holdout.npy: size"):
        bundles.load(out)
    m = bundles.read_manifest(out)
    written = manifests.write(out, dataclasses.replace(m, model_id="rewritten"))
    assert written.files["holdout.npy"].bytes == m.files["holdout.npy"].bytes + 1
    assert bundles.load(out).model_id == "rewritten"
    assert not (out / SIGNATURE_NAME).exists()
