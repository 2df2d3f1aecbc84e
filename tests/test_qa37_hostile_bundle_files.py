"""qa37: `stad-convert export` and `verify` on a bundle whose files match their manifest (sha256 and size: made by
another tool, a hand, a disk that lied before the hashes were taken) but hold what this converter never writes.

Found (each a traceback on main, exit 1 without the file named): weights that are not a torch file (random bytes,
an empty file) — `torch.load`'s UnpicklingError / EOFError; weights of another model — export's RuntimeError from
`load_state_dict`; a `model` section whose sizes are not whole numbers (`d_model: "x"`, `members: "x"`) or cannot
build a model (`heads` that do not divide `d_model`, a negative size; export only: a missing one); a holdout.npy or
calibration.npy that is not a .npy of rows (random bytes, an object array numpy will not unpickle). Now each is
`export failed:` / `verify failed:` with the file and why, exit 1. The bundle is a copy of conftest's tiny bundle (found
on a copy of the shipped demo bundle; any bundle the converter wrote holds these files, and the tiny one verifies in
half the demo's CPU: five cases verify it whole; suite10).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import tiny_bundle  # noqa: E402
from convert.cli import main  # noqa: E402


def _rehashed(bundle: Path) -> None:
    """Every listed file's sha256 and size as it is now: the manifest vouches for what the files hold."""
    m = json.loads((bundle / "manifest.json").read_text())
    for entry, name in [*((e, n) for n, e in m["files"].items()), *((a, a["file"]) for a in m["artifacts"].values())]:
        data = (bundle / name).read_bytes()
        entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    (bundle / "manifest.json").write_text(json.dumps(m))


def _model_key(key: str, value):
    def edit(bundle: Path) -> None:
        m = json.loads((bundle / "manifest.json").read_text())
        if value is None:
            del m["model"][key]
        else:
            m["model"][key] = value
        (bundle / "manifest.json").write_text(json.dumps(m))
    return edit


def _write(name: str, data: bytes):
    return lambda bundle: (bundle / name).write_bytes(data)


def _npy(name: str, array: np.ndarray):
    return lambda bundle: np.save(str(bundle / name), array, allow_pickle=True)


HOSTILE = {
    "weights random bytes": (_write("model.pt", os.urandom(5000)), "model.pt"),
    "weights empty": (_write("model.pt", b""), "model.pt"),
    "weights of another model": (lambda b: torch.save({"x": torch.zeros(3)}, str(b / "model.pt")), "model.pt"),
    "d_model not a number": (_model_key("d_model", "x"), "model"),
    "d_model negative": (_model_key("d_model", -1), "model"),
    "heads do not divide d_model": (_model_key("heads", 10 ** 6), "model"),
    "members not a number": (_model_key("members", "x"), "model"),
    "d_model missing": (_model_key("d_model", None), "model"),
    "holdout random bytes": (_write("holdout.npy", os.urandom(3000)), "holdout.npy"),
    "holdout an object array": (_npy("holdout.npy", np.array([{"a": 1}], dtype=object)), "holdout.npy"),
    "calibration not a .npy": (_write("calibration.npy", b"\x93NUMPY garbage"), "calibration.npy"),
    # review31: rows of the right kind but not this bundle's shape (a ValueError or torch's RuntimeError, a traceback)
    "calibration windows of another length": (_npy("calibration.npy", np.zeros((4, 5, 6), np.float16)),
                                              "calibration.npy"),
    "calibration rows of another width": (_npy("calibration.npy", np.zeros((100, 2), np.float16)), "calibration.npy"),
    "calibration fewer rows than a window": (_npy("calibration.npy", np.zeros((3, 6), np.float16)),
                                             "calibration.npy"),
    "calibration no windows": (_npy("calibration.npy", np.zeros((0, 32, 6), np.float16)), "calibration.npy"),
}


#: What a command does not read: export never the held-out rows (verify judges them); verify calibration.npy only
#: to say where failing windows came from (export's int8 calibration reads it: refused there).
NOT_READ = {("export", "holdout.npy"), ("verify", "calibration.npy")}


@pytest.mark.parametrize("command", ["export", "verify"])
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_bundle_file_this_converter_never_writes_fails_naming_the_file(tmp_path, capsys, command, case):
    edit, named = HOSTILE[case]
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle(), bundle)
    edit(bundle)
    _rehashed(bundle)
    before = (bundle / "manifest.json").read_bytes()
    args = ["export", "--only", "onnx_fp32", str(bundle)] if command == "export" else ["verify", str(bundle)]
    code = main(args)                   # on main: an exception out of main (a traceback from the CLI)
    said = capsys.readouterr().err
    if (command, named) in NOT_READ:
        assert code == 0, said
        return
    assert code == 1, said
    assert f"{command} failed: " in said and named in said, said
    assert (bundle / "manifest.json").read_bytes() == before      # nothing recorded about a bundle that failed
