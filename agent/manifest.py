"""A bundle's manifest.json as one typed object, the contract between the converter and the agent.

convert/ builds a `Manifest` and writes it with `write` (every listed file hashed as it is now);
the agent reads it with `parse`, which checks it the way the agent's config is checked
(agent/typed.py): every problem at once, each with its key path (`artifacts.onnx_int8.sha256:
...`), unknown keys refused. What the agent relies on is typed (sensors, window, normalisation,
score scale, threshold, artifacts and files with their sha256 and size, input/output shapes);
what only people and `stad-convert verify` read (training, data, parity, quantization figures)
is kept as the plain JSON it was written as. Here, not in convert/: the dependency goes one way,
convert → agent, and a gateway without torch must be able to read (and tests to derive) bundles.

`parse(data).to_dict()` gives back the parsed JSON exactly, for every manifest this converter
writes: the checkpoint identifies its bundle by a hash of it (agent/pipeline_state.py, bundle_identity).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .digest import sha256
from .json_read import finite_number as _number
from .model_size import size_problems
from .typed import ConfigError, build, rng

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
ARTIFACT_KINDS = ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8")
_HEX = frozenset("0123456789abcdef")


def sha256_problem(sha: object) -> list[tuple[str, str]]:
    if isinstance(sha, str) and len(sha) == 64 and set(sha) <= _HEX:
        return []
    return [("sha256", "expected 64 lowercase hex digits")]


#: The longest file name Linux file systems take, in bytes (NAME_MAX): a longer one is ENAMETOOLONG at the first stat.
NAME_MAX = 255


def plain_name_problem(name: object) -> list[tuple[str, str]]:
    """A name the bundle's files can have: plain (no directory, not hidden), no NUL byte, at most NAME_MAX bytes
    (a longer name or a NUL raised OSError / ValueError from the path instead of a manifest problem; qa37)."""
    if (isinstance(name, str) and name and "/" not in name and "\\" not in name and not name.startswith(".")
            and "\0" not in name and len(name.encode("utf-8", "surrogatepass")) <= NAME_MAX):
        return []
    shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:60] + f"… ({len(name)} characters)"
    too_long = isinstance(name, str) and len(name.encode("utf-8", "surrogatepass")) > NAME_MAX
    return [("file", f"expected a plain file name inside the bundle, got {shown}"
                     + (f" (longer than {NAME_MAX} bytes)" if too_long else ""))]


def file_sha256(path: str | Path) -> str:
    h = sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(kw_only=True)
class FileEntry:
    """A supporting file (PyTorch weights, held-out and calibration rows), keyed by its name under `files`."""
    sha256: str
    bytes: int = rng(lo=0)

    def validate(self) -> list[tuple[str, str]]:
        return sha256_problem(self.sha256)

    @classmethod
    def of(cls, path: Path) -> FileEntry:
        return cls(sha256=file_sha256(path), bytes=path.stat().st_size)


@dataclass(kw_only=True)
class Artifact:
    """A model file one runtime loads (`artifacts.<kind>`), with how it was quantised."""
    file: str
    quantization: dict[str, Any] | None = None
    sha256: str
    bytes: int = rng(lo=0)

    def validate(self) -> list[tuple[str, str]]:
        return plain_name_problem(self.file) + sha256_problem(self.sha256)

    @classmethod
    def of(cls, path: Path, quantization: dict | None = None) -> Artifact:
        return cls(file=path.name, quantization=quantization, sha256=file_sha256(path), bytes=path.stat().st_size)

    def entry(self) -> FileEntry:
        return FileEntry(sha256=self.sha256, bytes=self.bytes)


@dataclass(kw_only=True)
class TensorSpec:
    """One model input or output: its name and shape (`batch` or -1 for a free dimension)."""
    name: str
    shape: list[int | str]
    dtype: str = "float32"
    meaning: str | None = None


@dataclass(kw_only=True)
class Normalisation:
    """Per-sensor mean and std the model was trained on (z = (x − mean) / std)."""
    mean: dict[str, float]
    std: dict[str, float]


#: The `profile_wander` layout this agent reads (the field has its own version: a bundle without it
#: is read as before, one with another version is refused naming the key).
PROFILE_WANDER_VERSION = 1


@dataclass(kw_only=True)
class ProfileWander:
    """Per sensor, how far the normal profile's level wanders past a warm-up-sized fit on the training
    plants' normal data (convert/wander.py); with `scoring.profile.trained_wander` the agent divides each
    sensor's profile distance by it. Measured in the converter because a live warm-up cannot show a wander
    slower than itself (issue 10, twenty-third round)."""
    version: int
    sensors: dict[str, float]               # ≥ 1 each: 1 = stays inside its warm-up range
    fit_ticks: int = rng(lo=1)              # the warm-up-sized fit
    held_ticks: int = rng(lo=1)             # the ticks after it that are measured
    chunks: int = rng(lo=1)                 # fits measured (the value is their median)
    half_life_ticks: float                  # the profile level's half-life it was measured with
    statistic: str | None = None            # in words

    def validate(self) -> list[tuple[str, str]]:
        out = []
        if self.version != PROFILE_WANDER_VERSION or isinstance(self.version, bool):
            out.append(("version", f"this agent reads version {PROFILE_WANDER_VERSION}, the bundle has "
                                   f"{self.version!r}"))
        out += [(f"sensors.{s}", f"expected a finite number ≥ 1, got {v!r}")
                for s, v in self.sensors.items() if isinstance(v, (int, float)) and not (math.isfinite(v) and v >= 1)]
        return out


@dataclass(kw_only=True)
class Manifest:
    format_version: int
    model_id: str
    created_at: str | None = None
    sensors: list[str]
    steps: int = rng(lo=2)
    tick_s: float
    inputs: list[TensorSpec] | None = None
    outputs: list[TensorSpec] | None = None
    normalisation: Normalisation
    residual_std: dict[str, float]          # per-sensor forecast-error scale (the score's unit)
    score: str | None = None                # how the score is computed, in words
    threshold: dict[str, Any]               # calibration (agent/threshold.py); `value` is the threshold
    model: dict[str, Any] | None = None     # architecture (convert reads it to rebuild the PyTorch model)
    training: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    artifacts: dict[str, Artifact]
    files: dict[str, FileEntry] = field(default_factory=dict)
    parity: dict[str, Any] | None = None    # `stad-convert verify --record`'s figures
    profile_wander: ProfileWander | None = None   # per-sensor wander of the training plants (optional)

    def validate(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if not self.model_id:
            out.append(("model_id", "expected a non-empty string"))
        sensors = self.sensors if isinstance(self.sensors, list) else []
        if not sensors:
            out.append(("sensors", "expected a non-empty list of names"))
        elif len(set(sensors)) != len(sensors):
            out.append(("sensors", "duplicate names"))
        if isinstance(self.tick_s, float) and not self.tick_s > 0:
            out.append(("tick_s", "expected a positive number"))
        if isinstance(self.normalisation, Normalisation):
            out += _per_sensor("normalisation.mean", self.normalisation.mean, sensors, positive=False)
            out += _per_sensor("normalisation.std", self.normalisation.std, sensors, positive=True)
        out += _per_sensor("residual_std", self.residual_std, sensors, positive=True)
        out += _threshold_problems(self.threshold)
        if isinstance(self.profile_wander, ProfileWander) and isinstance(self.profile_wander.sensors, dict):
            out += _per_sensor("profile_wander.sensors", self.profile_wander.sensors, sensors, positive=False)
        for kind in self.artifacts:
            if kind not in ARTIFACT_KINDS:
                out.append((f"artifacts.{kind}", f"unknown kind (known: {', '.join(ARTIFACT_KINDS)})"))
        for name in self.files:
            out += [(f"files.{name}.{key}", msg) for key, msg in plain_name_problem(name)]
        if isinstance(self.model, dict):
            out += size_problems(self.model, {name: e.bytes for name, e in self.listed_files().items()
                                              if isinstance(e.bytes, int)})
        return out

    # -- what the agent reads -------------------------------------------------------------------

    def artifact_kinds(self) -> list[str]:
        return [k for k in ARTIFACT_KINDS if k in self.artifacts]

    def listed_files(self) -> dict[str, FileEntry]:
        """file name → entry for every file the manifest lists (artifacts and supporting files)."""
        out = dict(self.files)
        for a in self.artifacts.values():
            out[a.file] = a.entry()
        return out

    # -- JSON -----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The JSON document: fields in order, optional ones that are not set left out."""
        return _plain(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def rehashed(self, bundle_dir: Path) -> Manifest:
        """This manifest with the sha256 and size of every listed file as the files are now."""
        return dataclasses.replace(
            self,
            artifacts={k: dataclasses.replace(a, **dataclasses.asdict(FileEntry.of(bundle_dir / a.file)))
                       for k, a in self.artifacts.items()},
            files={name: FileEntry.of(bundle_dir / name) for name in self.files})


def _per_sensor(key: str, table: dict, sensors: list[str], positive: bool) -> list[tuple[str, str]]:
    if not isinstance(table, dict):
        return []
    out = []
    missing = [s for s in sensors if s not in table]
    extra = [s for s in table if s not in sensors]
    if missing:
        out.append((key, f"no value for {', '.join(missing)}"))
    if extra:
        out.append((key, f"values for sensors not in the bundle: {', '.join(extra)}"))
    if positive:
        out += [(f"{key}.{s}", f"expected a positive number, got {v!r}")
                for s, v in table.items() if isinstance(v, float) and not v > 0]
    return out



def _threshold_problems(t: dict) -> list[tuple[str, str]]:
    """The calibration the live threshold starts from (agent/threshold.py's AdaptiveThreshold reads
    it as it is): a bundle whose numbers cannot be a threshold is refused here, naming the key, not
    loaded to alarm on every tick (a value or start ≤ 0) or to fail at the first refit."""
    out = []
    value, init = t.get("value"), t.get("init_threshold")
    if not (_number(value) and value > 0):
        out.append(("threshold.value", f"expected a positive finite number, got {value!r}"))
    if not (_number(init) and init >= 0):
        out.append(("threshold.init_threshold", f"expected a finite number ≥ 0, got {init!r}"))
    for key, required in (("n", True), ("n_peaks", False)):
        v = t.get(key)
        # present as null is no default (threshold.py reads `get(key, default)`: int(None) ended `run`, chaos3)
        if (key in t or required) and not (isinstance(v, int) and not isinstance(v, bool)
                                                and v >= (1 if required else 0)):
            out.append((f"threshold.{key}", f"expected a whole number ≥ {1 if required else 0}, got {v!r}"))
    if "sigma" in t and not (_number(t["sigma"]) and t["sigma"] >= 0):
        out.append(("threshold.sigma", f"expected a finite number ≥ 0, got {t['sigma']!r}"))
    if "gamma" in t and not _number(t["gamma"]):
        out.append(("threshold.gamma", f"expected a finite number, got {t['gamma']!r}"))
    for key in ("peaks", "recent", "window"):
        if key in t and not (isinstance(t[key], list) and all(_number(x) for x in t[key])):
            out.append((f"threshold.{key}", "expected a list of finite numbers"))
    return out


def _plain(x: Any) -> Any:
    if dataclasses.is_dataclass(x):
        return {f.name: _plain(getattr(x, f.name)) for f in dataclasses.fields(x)
                if getattr(x, f.name) is not None}
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


class ManifestError(ValueError):
    """A manifest that cannot be used; `problems` lists each as 'key.path: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def parse(data: object) -> Manifest:
    """The typed manifest from parsed JSON; ManifestError listing every problem with its key path.
    A format_version other than this agent's is the only problem reported (the rest may differ)."""
    if not isinstance(data, dict):
        raise ManifestError(["<top>: expected a JSON object"])
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ManifestError([f"format_version: this agent reads version {FORMAT_VERSION}, the bundle has {version!r}"])
    try:
        return build(Manifest, data, MANIFEST_NAME)
    except ConfigError as exc:
        raise ManifestError(exc.problems) from None


def write(bundle_dir: Path, manifest: Manifest) -> Manifest:
    """Hash every listed file as it is now, then write manifest.json (atomically); returns what was
    written. A signature over the old manifest cannot match the new one: manifest.sig is removed,
    the bundle must be signed again (agent/signing.py)."""
    from .signing import SIGNATURE_NAME

    manifest = manifest.rehashed(bundle_dir)
    tmp = bundle_dir / (MANIFEST_NAME + ".tmp")
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    tmp.replace(bundle_dir / MANIFEST_NAME)
    (bundle_dir / SIGNATURE_NAME).unlink(missing_ok=True)
    return manifest


__all__ = ["Manifest", "ProfileWander", "PROFILE_WANDER_VERSION", "Artifact", "FileEntry", "TensorSpec", "Normalisation", "ManifestError", "parse", "write",
           "file_sha256", "FORMAT_VERSION", "MANIFEST_NAME", "ARTIFACT_KINDS"]
