"""qa38: a manifest's `model` section whose sizes make a model far bigger than the bundle holds.

Found (qa37, left): `stad-convert export` / `verify` rebuild the model from the section before comparing it with
model.pt, so `d_model: 2048` built a 160 MB model, and `d_model: 100000` tried 320 GB, before "does not match"
(or an allocator error); the agent loaded such a manifest without a word. Now the manifest's check counts the
numbers the sizes make (agent/model_size.py) against `files."model.pt".bytes` (without model.pt, against every
listed file) and refuses it as `invalid manifest: model: …` — check-config, run and the converter's commands
alike — and the converter counts model.pt's own numbers against the sizes before it builds anything.
The bundle is a copy of the shipped demo bundle, its manifest edited; the CLIs run as processes.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.bundle import BundleError, load
from agent.model_size import state_numbers

from bundle_check_config import refused_by_check_config

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "agent" / "models" / "demo-corridor"


def _bundle(tmp_path: Path, **model) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(DEMO, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["model"].update(model)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.mark.parametrize("spec", [(18, 32, 24, 2, 24, 1), (3, 8, 16, 4, 7, 1), (5, 12, 8, 1, 3, 3), (1, 2, 1, 1, 1, 2)])
def test_the_count_is_the_real_models_numbers(spec):
    pytest.importorskip("torch")
    from convert.model import ModelSpec, build_model

    model = build_model(ModelSpec(*spec))
    real = sum(v.numel() for v in model.state_dict().values())
    assert state_numbers(ModelSpec(*spec).as_dict()) == real


def test_the_demo_bundle_holds_its_model():
    manifest = json.loads((DEMO / "manifest.json").read_text())
    numbers = state_numbers(manifest["model"])
    assert numbers is not None and numbers * 4 <= manifest["files"]["model.pt"]["bytes"]
    load(DEMO)


@pytest.mark.parametrize("model", [
    {"d_model": 100_000, "heads": 2}, {"d_model": 2048}, {"ff_hidden": 10 ** 7}, {"members": 10 ** 5},
    {"steps": 10 ** 7}, {"sensors": 10 ** 5}, {"d_model": 10 ** 400},
], ids=["d_model 100000", "d_model 2048", "ff_hidden 1e7", "members 1e5", "steps 1e7", "sensors 1e5", "d_model 1e400"])
def test_a_model_bigger_than_the_bundle_is_an_invalid_manifest(tmp_path, model):
    with pytest.raises(BundleError, match="invalid manifest") as refused:
        load(_bundle(tmp_path, **model))
    said = str(refused.value)
    assert "model: sizes d_model " in said and "model.pt holds 41 399 bytes: not this bundle's model" in said, said
    assert "more characters" not in said, said         # said whole


def test_without_model_pt_listed_the_bound_is_every_listed_file(tmp_path):
    honest = _bundle(tmp_path / "a")
    m = json.loads((honest / "manifest.json").read_text())
    del m["files"]["model.pt"]
    (honest / "manifest.json").write_text(json.dumps(m))
    load(honest)                        # the demo's own sizes fit its artifacts
    m["model"]["d_model"] = 2048
    (honest / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="invalid manifest: .*model: sizes .* the bundle's files hold"):
        load(honest)


def test_check_config_refuses_it_with_the_key_and_no_traceback(tmp_path):
    bundle = _bundle(tmp_path, d_model=100_000)
    said = refused_by_check_config(tmp_path, bundle)
    assert "model: sizes d_model 100000, ff_hidden 24" in said, said


@pytest.mark.parametrize("command", [["export", "--only", "onnx_fp32"], ["verify"], ["inspect"]],
                         ids=["export", "verify", "inspect"])
def test_the_converter_refuses_it_before_building_the_model(tmp_path, command):
    pytest.importorskip("torch")
    bundle = _bundle(tmp_path, d_model=2048)        # 160 MB of weights: built on main, then "does not match"
    before = (bundle / "manifest.json").read_bytes()
    res = subprocess.run([sys.executable, "-m", "convert.cli", *command, str(bundle)], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode in (1, 2) and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert "invalid manifest" in res.stderr and "model: sizes d_model 2048, ff_hidden 24" in res.stderr, res.stderr[-3000:]
    assert (bundle / "manifest.json").read_bytes() == before


def test_weights_that_are_not_the_sections_are_counted_before_a_model_is_built(tmp_path):
    """A model.pt big enough for the section (rehashed: the manifest vouches for it) but holding other numbers:
    refused on its count, before the section's 1.6 million-number model is built."""
    torch = pytest.importorskip("torch")
    from convert.bundle_writer import load_model
    from convert.cli import main

    bundle = _bundle(tmp_path, d_model=400, heads=2)
    torch.save({"x": torch.zeros(2_000_000)}, str(bundle / "model.pt"))
    m = json.loads((bundle / "manifest.json").read_text())
    data = (bundle / "model.pt").read_bytes()
    m["files"]["model.pt"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (bundle / "manifest.json").write_text(json.dumps(m))
    manifest = load(bundle).manifest                # the sizes fit the file: the manifest's check lets it by
    wanted = state_numbers(manifest.model)
    with pytest.raises(BundleError, match=f"model.pt: holds 2000000 numbers, the manifest's model section makes "
                                          f"a model of {wanted}"):
        load_model(bundle, manifest)
    assert main(["verify", str(bundle)]) == 1


@pytest.mark.parametrize("command", [["export", "--only", "onnx_fp32"], ["verify"]], ids=["export", "verify"])
def test_heads_zero_is_a_model_the_converter_cannot_build_not_a_traceback(tmp_path, capsys, command):
    # on batch48: ZeroDivisionError out of `d_model % heads`, a traceback (qa37 caught the other build errors)
    pytest.importorskip("torch")
    from convert.cli import main

    bundle = _bundle(tmp_path, heads=0)
    load(bundle)                                    # heads is no size the count reads: the manifest loads
    assert main([*command, str(bundle)]) == 1
    said = capsys.readouterr().err
    assert f"{command[0]} failed: " in said and "model: builds no model this converter makes" in said, said
