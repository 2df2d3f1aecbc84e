"""`stad-convert export --only onnx_int8` quantizes this bundle's model, never a file it finds on disk (qa41).

onnx_int8 is a quantization of an fp32 ONNX export. export took `model_fp32.onnx` from the bundle directory whenever
one was there — also when the manifest does not list it: a file a stopped first export left, or another model's
copied in by hand. The int8 artifact then was that file's model, recorded in the manifest under this bundle's hashes.
A user who asks for one artifact expects it made from the bundle's weights, like every other kind: onnx_int8 now
quantizes the fp32 export written in the same run (`--only onnx_fp32,onnx_int8`, a full export) or a fresh one of its
own, and leaves a file the manifest does not list alone.

Real parts: a copy of the shipped demo bundle, another real model's fp32 export, the converter's CLI in-process,
its export and verify.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from agent.bundle import read_manifest  # noqa: E402
from agent.manifest import write as write_manifest  # noqa: E402
from convert import bundle_writer as bw  # noqa: E402
from convert.cli import main  # noqa: E402
from convert.export import export_onnx_fp32  # noqa: E402
from convert.model import build_model  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "agent" / "models" / "demo-corridor"


def _bundle_with_an_unlisted_fp32_of_another_model(tmp_path) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO, bundle)
    manifest = read_manifest(bundle)
    kept = {k: a for k, a in manifest.artifacts.items() if k != "onnx_fp32"}
    write_manifest(bundle, dataclasses.replace(manifest, artifacts=kept))
    torch.manual_seed(7)
    other = build_model(bw.load_model(bundle, manifest).spec).eval()    # same shapes, untrained: another model
    export_onnx_fp32(other, bundle / bw.ARTIFACT_FILES["onnx_fp32"])
    return bundle


def test_export_only_onnx_int8_quantizes_the_bundles_model_not_an_unlisted_file(tmp_path, capsys):
    bundle = _bundle_with_an_unlisted_fp32_of_another_model(tmp_path)
    stray = bundle / bw.ARTIFACT_FILES["onnx_fp32"]
    stray_bytes = stray.read_bytes()
    assert main(["export", "--only", "onnx_int8", str(bundle)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert stray.read_bytes() == stray_bytes                 # not listed, not written, left as it was
    assert "onnx_fp32" not in read_manifest(bundle).artifacts
    # verify measures every listed artifact against the bundle's PyTorch model: the int8 must be its model
    code = main(["verify", str(bundle)])
    said = capsys.readouterr()
    assert code == 0, said.out + said.err
    assert "onnx_int8" in said.out + said.err
