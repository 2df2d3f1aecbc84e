"""A bundle directory's file names, and whether `stad-convert train` may write into a directory: torch-free, so
that train refuses a directory before torch is imported (convert/cli.py; suite3)."""
from __future__ import annotations

import json
from pathlib import Path

from agent.manifest import MANIFEST_NAME
from agent.model_size import WEIGHTS_FILE
from agent.signing import SIGNATURE_NAME

from .data import TrainingError

HOLDOUT_FILE = "holdout.npy"
CALIBRATION_FILE = "calibration.npy"
ARTIFACT_FILES = {
    "onnx_fp32": "model_fp32.onnx",
    "onnx_int8": "model_int8.onnx",
    "tflite_fp32": "model_fp32.tflite",
    "tflite_int8": "model_int8.tflite",
}
#: The TFLite int8 candidates `export` builds, in the order tried; it keeps the most accurate against PyTorch.
#: Here (torch-free) so that `--tflite-int8-recipes` is checked before torch is imported.
TFLITE_INT8_RECIPES = ("weight_only_int8_per_channel", "dynamic_range_int8_per_channel",
                       "static_int8_per_channel_minmax")
HOLDOUT_WINDOWS = 720      # held-out windows kept in the bundle for `verify`

#: Every file a bundle directory holds (and the manifest's temporary): training into a directory
#: that holds a bundle replaces all of them, so no artifact of the previous model stays beside the
#: new one (a `--no-export` run would otherwise leave the old model's .onnx / .tflite there).
BUNDLE_FILES = frozenset({WEIGHTS_FILE, CALIBRATION_FILE, HOLDOUT_FILE, *ARTIFACT_FILES.values(),
                          MANIFEST_NAME, MANIFEST_NAME + ".tmp", SIGNATURE_NAME})


def check_out_dir(out_dir: Path) -> str | None:
    """Before training: None for a new or empty directory; for one that holds a bundle, a line
    saying it will be replaced. TrainingError for a file, or a directory holding anything that is
    not a bundle's (recordings, other bundles): training would mix its files in."""
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise TrainingError(f"-o {out_dir}: a file, not a directory: name a new directory for the bundle")
    names = sorted(p.name for p in out_dir.iterdir())
    if not names:
        return None
    other = [n for n in names if n not in BUNDLE_FILES]
    if other:
        shown = ", ".join(other[:5]) + (f" and {len(other) - 5} more" if len(other) > 5 else "")
        raise TrainingError(f"-o {out_dir}: holds {shown}, which no bundle has: train into a new or empty "
                            "directory, or one holding only a bundle (it is replaced)")
    try:
        old = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        what = f"bundle {old['model_id']} (created {old['created_at']})"
    except (OSError, ValueError, KeyError, TypeError):
        what = "a bundle's files"
    return (f"{out_dir} holds {what}: replaced when training succeeds (every file of it, exported "
            "artifacts and signature included); left as it is if training fails or is stopped")
