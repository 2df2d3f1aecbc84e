"""qa37: a bundle whose manifest.json holds hostile fields (a hand edit, a bit flipped, another tool's output).

Found (each a traceback on main):
- a threshold number written as a 400-digit integer: `math.isfinite` raised OverflowError inside the manifest's
  checks — `check-config`, `run` and a hot swap met it instead of "invalid manifest: threshold.value …";
- an artifact's or file's name longer than a file name can be (ENAMETOOLONG from `is_file`) or holding a NUL
  byte (ValueError from the path);
- `stad-convert inspect` on a manifest whose free-form parts (training, data, parity: read by people, not by the
  agent) are not in the form this converter writes: KeyError, TypeError, OverflowError from the formatting. Now
  the part says so on its own line and the rest prints.
The bundle is a copy of the shipped demo bundle, its manifest edited; the CLIs run as processes.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.bundle import BundleError, load

from bundle_check_config import refused_by_check_config

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "agent" / "models" / "demo-corridor"
HUGE = 10 ** 400


def _bundle(tmp_path: Path, edit) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(DEMO, out)
    manifest = json.loads((out / "manifest.json").read_text())
    edit(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def _set(*path_and_value):
    *path, value = path_and_value

    def edit(m: dict) -> None:
        for key in path[:-1]:
            m = m[key]
        m[path[-1]] = value
    return edit


def _rename_artifact(name: str):
    def edit(m: dict) -> None:
        m["artifacts"]["onnx_fp32"]["file"] = name
    return edit


@pytest.mark.parametrize("edit, key", [
    (_set("threshold", "value", HUGE), "threshold.value"),
    (_set("threshold", "init_threshold", HUGE), "threshold.init_threshold"),
    (_set("threshold", "sigma", -HUGE), "threshold.sigma"),
    (_set("threshold", "peaks", [1.0, HUGE]), "threshold.peaks"),
    (_rename_artifact("x" * 100_000), "artifacts.onnx_fp32.file"),
    (_rename_artifact("model\x00.onnx"), "artifacts.onnx_fp32.file"),
    (_set("training", "text"), "training"),             # held on main too: a free-form part must be a mapping
], ids=["value", "init_threshold", "sigma", "peaks", "name 100 000 long", "name with NUL", "training text"])
def test_a_hostile_manifest_field_is_refused_naming_its_key(tmp_path, edit, key):
    bundle = _bundle(tmp_path, edit)
    with pytest.raises(BundleError, match="invalid manifest") as refused:
        load(bundle)
    assert key in str(refused.value) and len(str(refused.value)) < 2000, str(refused.value)[:3000]


def test_check_config_refuses_it_with_the_key_and_no_traceback(tmp_path):
    bundle = _bundle(tmp_path, _set("threshold", "value", HUGE))
    assert "threshold.value" in refused_by_check_config(tmp_path, bundle)


@pytest.mark.parametrize("part, value", [
    ("training", {"a": 1}), ("training", None), ("data", {"split": {}}), ("data", {"split": None, "sources": 5}),
    ("data", {"split": {"rows": 1, "train": "", "validation": [0, 1], "test": [0, 1]}}),
    ("parity", {}), ("parity", {"windows": HUGE}),
])
def test_inspect_says_which_part_it_cannot_read_and_prints_the_rest(tmp_path, part, value):
    bundle = _bundle(tmp_path, _set(part, value))
    res = subprocess.run([sys.executable, "-m", "convert.cli", "inspect", str(bundle)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    if value is None:       # an absent part: nothing to say about it
        assert res.returncode == 0 and "not in the form" not in res.stdout
        return
    assert res.returncode == 0, res.stderr[-3000:]
    said = [line for line in res.stdout.splitlines() if "not in the form" in line]
    assert len(said) == 1 and said[0].startswith(f"{part:<12}"), res.stdout
    assert "artifacts:" in res.stdout and "model_id" in res.stdout       # the rest printed
