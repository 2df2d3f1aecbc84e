"""Writing bundles: files, manifest.json with the sha256 and size of every file, an optional .tar.

The reading side (and every check the agent makes) is agent/bundle.py.
Set SOURCE_DATE_EPOCH to pin `created_at` (and the tar's mtimes) for byte-identical rebuilds.
"""
from __future__ import annotations

import io
import json
import os
import tarfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from agent.bundle import FORMAT_VERSION, MANIFEST_NAME, file_sha256
from agent.signing import SIGNATURE_NAME

from .data import pack_rows, unpack_rows, window_arrays
from .model import ModelSpec, SpatioTemporalForecaster, build_model

WEIGHTS_FILE = "model.pt"
HOLDOUT_FILE = "holdout.npy"
CALIBRATION_FILE = "calibration.npy"
ARTIFACT_FILES = {
    "onnx_fp32": "model_fp32.onnx",
    "onnx_int8": "model_int8.onnx",
    "tflite_fp32": "model_fp32.tflite",
    "tflite_int8": "model_int8.tflite",
}
HOLDOUT_WINDOWS = 720      # held-out windows kept in the bundle for `verify`
#: Calm windows kept for int8 calibration at `export`, spread evenly over the training and
#: validation rows (every time of day, rush hours included); export adds perturbed copies.
CALIBRATION_WINDOWS = 32
#: Perturbed copies (convert.perturb) of every calibration window used at `export`.
CALIBRATION_PERTURBED_COPIES = 8
CALIBRATION_SEED = 20260107


def created_at() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def file_entry(path: Path) -> dict:
    return {"file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size}


def write_manifest(bundle_dir: Path, manifest: dict) -> None:
    """Re-hash every listed file, then write manifest.json (atomically)."""
    for name in list(manifest.get("files", {})):
        entry = file_entry(bundle_dir / name)
        manifest["files"][name] = {"sha256": entry["sha256"], "bytes": entry["bytes"]}
    for kind, entry in manifest.get("artifacts", {}).items():
        entry.update(file_entry(bundle_dir / entry["file"]))
    tmp = bundle_dir / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(bundle_dir / MANIFEST_NAME)
    # A signature over the old manifest cannot match the new one: the bundle must be signed again.
    (bundle_dir / SIGNATURE_NAME).unlink(missing_ok=True)


def io_description(spec: ModelSpec) -> tuple[list, list]:
    t, n = spec.steps, spec.sensors
    inputs = [
        {"name": "values", "shape": ["batch", t, n], "dtype": "float32",
         "meaning": "normalised readings, oldest row first; missing readings are 0"},
        {"name": "missing", "shape": ["batch", t, n], "dtype": "float32", "meaning": "1 where the reading is missing"},
    ]
    outputs = [
        {"name": "forecast", "shape": ["batch", n], "dtype": "float32",
         "meaning": f"forecast of the newest row (index {t - 1}) from rows 0..{t - 2}"},
        {"name": "temporal_attention", "shape": ["batch", n, t - 1], "dtype": "float32",
         "meaning": "per sensor, weight of each context row (mean over heads)"},
        {"name": "spatial_attention", "shape": ["batch", n, n], "dtype": "float32",
         "meaning": "per sensor (row), weight of every sensor (column) (mean over heads)"},
    ]
    return inputs, outputs


def save_weights(model: SpatioTemporalForecaster, path: Path) -> None:
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, str(path))


def load_model(bundle_dir: Path, manifest: dict) -> SpatioTemporalForecaster:
    spec = ModelSpec(**{k: manifest["model"][k] for k in ("sensors", "steps", "d_model", "heads", "ff_hidden")})
    model = build_model(spec)
    state = torch.load(str(bundle_dir / WEIGHTS_FILE), weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def save_rows(path: Path, z: np.ndarray, missing: np.ndarray) -> None:
    """Consecutive rows (n, N) or separate windows (n, T, N), packed: float16, NaN where missing."""
    np.save(str(path), pack_rows(z, missing), allow_pickle=False)


def load_windows(path: Path, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, T, N) values and missing (float32): every window of stored rows (n_rows, N), or the
    stored windows themselves (n, T, N)."""
    z, missing = unpack_rows(np.load(str(path), allow_pickle=False))
    if z.ndim == 3:
        if z.shape[1] != steps:
            raise ValueError(f"{path.name}: windows of {z.shape[1]} steps, expected {steps}")
        return np.ascontiguousarray(z, np.float32), np.ascontiguousarray(missing, np.float32)
    return window_arrays(z, missing, steps)


def write_tar(bundle_dir: Path, tar_path: Path) -> None:
    """The bundle as one uncompressed tar, entries sorted, owner and mtime fixed: reproducible."""
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    with tarfile.open(str(tar_path), "w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(p for p in bundle_dir.iterdir() if p.is_file()):
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{bundle_dir.name}/{path.name}")
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))


def new_manifest(model_id: str, sensors: list[str], spec: ModelSpec, tick_s: float) -> dict:
    inputs, outputs = io_description(spec)
    return {
        "format_version": FORMAT_VERSION,
        "model_id": model_id,
        "created_at": created_at(),
        "sensors": list(sensors),
        "steps": spec.steps,
        "tick_s": float(tick_s),
        "inputs": inputs,
        "outputs": outputs,
    }
