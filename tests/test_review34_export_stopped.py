"""`stad-convert export` finishes a bundle whose earlier export stopped halfway (review34).

Export writes each artifact into the bundle over the file the manifest lists, and records the new hashes in
manifest.json at the end. An export stopped in between (Ctrl-C: `stad-convert export: interrupted`, a kill, a full
disk) left a listed artifact rewritten or cut short under the old hashes — and the next export refused the bundle
for that very file ('model_fp32.onnx: size 1000 bytes, the manifest says …', exit 1), the one it was about to write
anew: nothing but a new training or a hand-edited manifest put it right. An artifact export writes again is now not
held to the old manifest; every file it reads (the weights, the calibration rows, an artifact it keeps) still is.

Real parts: a copy of the shipped demo bundle, the converter's CLI in-process, its export and verify.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")

from convert.cli import main  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "agent" / "models" / "demo-corridor"


def _stopped_export(tmp_path, artifact: str) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO, bundle)
    data = (bundle / artifact).read_bytes()
    (bundle / artifact).write_bytes(data[:1000])           # what a stop while it was being written leaves
    return bundle


def test_export_again_finishes_an_export_stopped_while_writing_an_artifact(tmp_path, capsys):
    bundle = _stopped_export(tmp_path, "model_fp32.onnx")
    assert main(["verify", str(bundle)]) == 1 and "model_fp32.onnx: size 1000 bytes" in capsys.readouterr().err
    code = main(["export", "--only", "onnx_fp32", str(bundle)])
    said = capsys.readouterr()
    assert code == 0, said.err
    assert "model_fp32.onnx" in said.out
    assert main(["verify", str(bundle)]) == 0, capsys.readouterr().err


def test_export_still_refuses_a_damaged_file_it_reads_and_does_not_write(tmp_path, capsys):
    bundle = _stopped_export(tmp_path, "model_fp32.onnx")     # listed and kept: held to its hash
    before = (bundle / "manifest.json").read_bytes()
    assert main(["export", "--only", "onnx_int8", str(bundle)]) == 1
    said = capsys.readouterr().err
    assert "export failed: " in said and "model_fp32.onnx: size 1000 bytes" in said, said
    assert (bundle / "manifest.json").read_bytes() == before
    bundle = _stopped_export(tmp_path / "w", "model.pt")
    assert main(["export", "--only", "onnx_fp32", str(bundle)]) == 1
    assert "model.pt: size 1000 bytes" in capsys.readouterr().err
