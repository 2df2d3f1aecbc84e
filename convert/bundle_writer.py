"""Writing bundles: files, manifest.json with the sha256 and size of every file, an optional .tar.

The manifest is the agent's typed `Manifest` (agent/manifest.py), built here and written with
`agent.manifest.write`; the reading side (and every check the agent makes) is agent/bundle.py.
Set SOURCE_DATE_EPOCH to pin `created_at` (and the tar's mtimes) for byte-identical rebuilds.
"""
from __future__ import annotations

import io
import os
import tarfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from agent.bundle import BundleError
from agent.manifest import FORMAT_VERSION, MANIFEST_NAME, FileEntry, Manifest, TensorSpec
from agent.model_size import WEIGHTS_FILE, state_numbers

from .data import pack_rows, unpack_rows, window_arrays
from .model import ModelSpec, build_model

from .bundle_files import ARTIFACT_FILES, CALIBRATION_FILE, HOLDOUT_FILE, HOLDOUT_WINDOWS  # noqa: F401 (bw.X)
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


def io_description(spec: ModelSpec) -> tuple[list[TensorSpec], list[TensorSpec]]:
    t, n = spec.steps, spec.sensors
    inputs = [
        TensorSpec(name="values", shape=["batch", t, n],
                   meaning="normalised readings, oldest row first; missing readings are 0"),
        TensorSpec(name="missing", shape=["batch", t, n], meaning="1 where the reading is missing"),
    ]
    outputs = [
        TensorSpec(name="forecast", shape=["batch", n],
                   meaning=f"forecast of the newest row (index {t - 1}) from rows 0..{t - 2}"),
        TensorSpec(name="temporal_attention", shape=["batch", n, t - 1],
                   meaning="per sensor, weight of each context row (mean over heads)"),
        TensorSpec(name="spatial_attention", shape=["batch", n, n],
                   meaning="per sensor (row), weight of every sensor (column) (mean over heads)"),
    ]
    return inputs, outputs


def save_weights(model: torch.nn.Module, path: Path) -> None:
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, str(path))


def load_model(bundle_dir: Path, manifest: Manifest) -> torch.nn.Module:
    """The bundle's PyTorch model; BundleError naming the file and why when the manifest's `model` section builds
    no model (a size missing, not a whole number, heads that do not divide d_model), model.pt is no weights file
    torch reads, or its weights are another model's. The files' hashes only say they are what the manifest lists:
    a bundle made by another tool or by hand reached these as tracebacks from export and verify (qa37).

    The weights are read first and counted against the section's sizes before any model is built: a section
    whose model is far bigger than model.pt (`d_model: 100000`) built it first, gigabytes and minutes before
    "does not match" (qa38; the manifest's own check, agent/model_size.py, refuses most such sections sooner)."""
    model_section = manifest.model or {}
    weights = bundle_dir / WEIGHTS_FILE
    try:
        state = torch.load(str(weights), weights_only=True)
    except Exception as exc:    # torch.load's errors are of many types (UnpicklingError, EOFError, RuntimeError, …)
        raise BundleError(f"{weights}: not a weights file torch reads ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    held = sum(v.numel() for v in state.values() if isinstance(v, torch.Tensor)) if isinstance(state, dict) else None
    wanted = state_numbers(model_section)
    if held is not None and wanted is not None and held != wanted:
        raise BundleError(f"{weights}: holds {held} numbers, the manifest's model section makes a model of "
                          f"{wanted}: another model's weights, or the section is not theirs")
    try:
        spec = ModelSpec(**{k: model_section[k] for k in ("sensors", "steps", "d_model", "heads", "ff_hidden")},
                         members=int(model_section.get("members", 1)))
        model = build_model(spec)
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError, ZeroDivisionError) as exc:
        raise BundleError(f"{bundle_dir / MANIFEST_NAME}: model: builds no model this converter makes "
                          f"({type(exc).__name__}: {str(exc)[:200]})") from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise BundleError(f"{weights}: does not match the manifest's model: {str(exc)[:300]}") from None
    return model.eval()


def load_rows(path: Path) -> np.ndarray:
    """A stored array of packed rows or windows (holdout.npy, calibration.npy): 2 or 3 dimensions of floats;
    BundleError naming the file for anything else (random bytes, an object array numpy will not unpickle)."""
    try:
        rows = np.load(str(path), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise BundleError(f"{path}: not a .npy of rows this converter writes ({str(exc)[:200]})") from None
    if rows.ndim not in (2, 3) or rows.dtype.kind != "f":
        raise BundleError(f"{path}: not rows this converter writes (an array of {rows.ndim} dimension(s) of "
                          f"{rows.dtype}, not float16 rows or windows)")
    return rows


def save_rows(path: Path, z: np.ndarray, missing: np.ndarray) -> None:
    """Consecutive rows (n, N) or separate windows (n, T, N), packed: float16, NaN where missing."""
    np.save(str(path), pack_rows(z, missing), allow_pickle=False)


def load_windows(path: Path, steps: int, sensors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n, T, N) values and missing (float32): every window of stored rows (n_rows, N), or the
    stored windows themselves (n, T, N). BundleError naming the file when they make no window of `steps` steps
    (and, given, `sensors` sensors): rows of another width or fewer than a window, windows of another shape or
    none reached export's int8 calibration and verify as a ValueError or torch's RuntimeError, a traceback
    (review31; load_rows says what is no rows at all)."""
    z, missing = unpack_rows(load_rows(path))
    width = z.shape[-1]
    if sensors is not None and width != sensors:
        raise BundleError(f"{path}: rows of {width} sensor(s), but the bundle has {sensors}")
    if z.ndim == 3:
        if z.shape[1] != steps or not len(z):
            raise BundleError(f"{path}: {len(z)} window(s) of {z.shape[1]} steps, expected windows of {steps}")
        return np.ascontiguousarray(z, np.float32), np.ascontiguousarray(missing, np.float32)
    if len(z) < steps:
        raise BundleError(f"{path}: {len(z)} row(s), fewer than a window of {steps} steps")
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


def new_manifest(bundle_dir: Path, model_id: str, sensors: list[str], spec: ModelSpec, tick_s: float,
                 files: list[str], **rest) -> Manifest:
    """A bundle's manifest with no artifacts yet: `files` (names in bundle_dir) hashed as they are;
    `rest`: the other Manifest fields (normalisation, residual_std, threshold, model, ...)."""
    inputs, outputs = io_description(spec)
    return Manifest(format_version=FORMAT_VERSION, model_id=model_id, created_at=created_at(), sensors=list(sensors),
                    steps=spec.steps, tick_s=float(tick_s), inputs=inputs, outputs=outputs, artifacts={},
                    files={name: FileEntry.of(bundle_dir / name) for name in files}, **rest)
