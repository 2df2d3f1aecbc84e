"""Model bundles: a directory holding manifest.json and the files it lists, each with its sha256.

`load(ref)` reads and checks a bundle before any runtime touches its files:
- `ref` is a directory, or `builtin:NAME` for `agent/models/NAME/` shipped inside the package;
- manifest.json must parse into a typed `Manifest` (agent/manifest.py: format_version 1, every
  required key with the right type, every problem named with its key path);
- every listed file must exist with the listed size and sha256;
- with `expect=` (sensors, steps, tick_s from the agent's config), the bundle must match it, and
  an artifact whose recorded parity failed is not run (`stad-convert verify --record`, and
  `train`, which writes the bundle even when verify fails and exits 1): an int8 artifact that
  does not decide alerts as PyTorch does is left out (`Bundle.refused`), so a tier runs the
  bundle's fp32 artifact instead; a bundle with nothing else left is refused as a tampered file
  is — at start (run and check-config exit 2) and by a hot swap (rejected, the old model scoring
  on) — with the groups that failed. A bundle whose parity was never recorded (`stad-convert
  export` alone) is taken. `parity_note` says either, and check-config, the start (its notes)
  and a hot swap (its log) print it;
- with trusted keys in `expect.keys` (`scoring.bundle_keys`), manifest.sig must be a valid
  Ed25519 signature of the manifest's exact bytes by one of them (agent/signing.py) — checked on
  the bytes that are then parsed, before anything else is read.
Any failure raises BundleError with a message naming what differs. numpy only: no torch here.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import json_read
from .digest import sha256
from .manifest import (ARTIFACT_KINDS, FORMAT_VERSION, MANIFEST_NAME, Artifact, FileEntry, Manifest, ManifestError,
                       Normalisation, file_sha256, parse)
from .paths import resolve_against

if TYPE_CHECKING:
    from .config import AgentConfig

BUILTIN_PREFIX = "builtin:"
BUILTIN_DIR = Path(__file__).resolve().parent / "models"
#: Manifest keys no model tier's learned state depends on (`Bundle.model_digest`): when it was made and how it was
#: trained, its recorded parity (which artifacts it leaves runnable counts, through `artifact_kinds`), and the files
#: the agent never runs (the PyTorch weights, held-out data). Any other key — one a later converter adds, too — counts.
NOT_SCORED = ("created_at", "training", "parity", "files")


class BundleError(Exception):
    """A bundle cannot be used: unreadable, malformed, tampered with, or built for another config."""


@dataclass(frozen=True)
class Expectation:
    """What the running agent needs a bundle to match."""
    sensors: list[str]
    steps: int
    tick_s: float
    keys: tuple[Path, ...] = ()     # trusted public keys: when given, the bundle must be signed by one
    topology: str | None = None     # the neighbour rule the model's spatial prior must have been trained with

    @classmethod
    def from_config(cls, cfg: AgentConfig) -> Expectation:
        return cls(sensors=cfg.sensor_names(), steps=cfg.window.steps, tick_s=cfg.tick_s,
                   keys=tuple(cfg.resolve(k) for k in cfg.scoring.bundle_keys), topology=cfg.topology)


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: Manifest
    refused: tuple[tuple[str, str], ...] = ()   # (artifact kind, why): failed its recorded parity, not run
    manifest_sha256: str | None = None          # the sha256 of manifest.json's bytes as read at the load (swap11)

    @property
    def model_id(self) -> str:
        return self.manifest.model_id

    @property
    def sensors(self) -> list[str]:
        return list(self.manifest.sensors)

    @property
    def steps(self) -> int:
        return self.manifest.steps

    @property
    def tick_s(self) -> float:
        return self.manifest.tick_s

    @property
    def threshold(self) -> dict:
        return self.manifest.threshold

    @property
    def normalisation(self) -> Normalisation:
        return self.manifest.normalisation

    def residual_std(self) -> np.ndarray:
        """(N,) per-sensor forecast-error scale, in the manifest's sensor order."""
        return np.array([self.manifest.residual_std[s] for s in self.sensors], np.float64)

    def profile_wander(self) -> np.ndarray | None:
        """(N,) per-sensor wander of the training plants (manifest `profile_wander`, ≥ 1), in the
        manifest's sensor order; None for a bundle without it (older converters)."""
        wander = self.manifest.profile_wander
        return None if wander is None else np.array([wander.sensors[s] for s in self.sensors], np.float64)

    @cached_property
    def parsed_digest(self) -> str:
        """The sha256 of the manifest as parsed (sorted keys): what a checkpoint is matched on (agent/pipeline_state.py
        `bundle_identity`). Made once: a bundle's manifest does not change once loaded, and making it at every
        checkpoint cost 1–7 ms at the demo's manifest (swap11: load 2.5–7)."""
        return sha256(json.dumps(self.manifest.to_dict(), sort_keys=True).encode()).hexdigest()

    @cached_property
    def model_digest(self) -> str:
        """The sha256 of what a model tier's learned state (its profile, threshold, the alerts' score scale) is
        fitted for: the manifest less NOT_SCORED, its artifacts those the agent may run. Two releases with the same
        one score alike, so a checkpoint's model state carries from one to the other (agent/checkpoint.py
        `mismatch`): a manifest rewritten by `stad-convert verify --record` or with another `created_at` keeps it;
        another export (other weights, normalisation, residual scale, threshold, training rows) does not."""
        doc = {k: v for k, v in self.manifest.to_dict().items() if k not in NOT_SCORED}
        kinds = self.artifact_kinds()
        doc["artifacts"] = {k: v for k, v in doc["artifacts"].items() if k in kinds}
        return sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def artifact_kinds(self) -> list[str]:
        """The artifacts the agent may run: the manifest's, less those refused."""
        refused = dict(self.refused)
        return [k for k in self.manifest.artifact_kinds() if k not in refused]

    def artifact(self, kind: str) -> Artifact:
        refused = dict(self.refused)
        if kind in refused:
            raise BundleError(f"{self.path}: its {kind} artifact failed its parity check when the bundle was made "
                              f"({refused[kind]}); not run")
        try:
            return self.manifest.artifacts[kind]
        except KeyError:
            have = ", ".join(self.artifact_kinds()) or "none"
            raise BundleError(f"{self.path}: bundle has no {kind} artifact (it has: {have})") from None

    def artifact_path(self, kind: str) -> Path:
        return self.path / self.artifact(kind).file

    def file_path(self, name: str) -> Path:
        """A supporting file listed under `files` (PyTorch weights, held-out data)."""
        if name not in self.manifest.files:
            raise BundleError(f"{self.path}: bundle lists no file {name!r}")
        return self.path / name


def resolve_path(ref: str | Path, base_dir: str | Path = ".") -> Path:
    """A bundle directory from a config reference: `builtin:NAME`, an absolute or a relative path."""
    ref = str(ref)
    if ref.startswith(BUILTIN_PREFIX):
        name = ref[len(BUILTIN_PREFIX):]
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise BundleError(f"{ref}: a builtin bundle name is one plain directory name")
        return BUILTIN_DIR / name
    return resolve_against(ref, base_dir)


def how_changed(bundle_dir: Path) -> str:
    """How a bundle directory came to hold another release while the agent was down, in words after its name: a
    builtin bundle (`builtin:NAME`, shipped in the package) changed with an upgrade of the package; any other was
    rewritten (a new export copied over it). A restart's lines say it (agent/checkpoint.py, agent/active_bundle.py,
    agent/hotswap.py); before swap11 an upgrade's new builtin was worded as a folder rewritten by hand."""
    bundle_dir = Path(bundle_dir)
    if bundle_dir.parent == BUILTIN_DIR:
        return (f"changed with the package (an upgrade of stad-edge brought another release of "
                f"{BUILTIN_PREFIX}{bundle_dir.name})")
    return "rewritten while the agent was down"


def read_manifest(bundle_dir: Path, keys: tuple[Path, ...] = ()) -> Manifest:
    """The parsed, checked manifest; with `keys`, only when its signature verifies."""
    return read_manifest_digest(bundle_dir, keys)[0]


def read_manifest_digest(bundle_dir: Path, keys: tuple[Path, ...] = ()) -> tuple[Manifest, str]:
    """read_manifest's manifest, and the sha256 of the bytes it was parsed from (what `sha256sum manifest.json`
    prints; a restart's lines name a release by it: agent/checkpoint.py, agent/active_bundle.py)."""
    path = bundle_dir / MANIFEST_NAME
    if not bundle_dir.is_dir():
        raise BundleError(f"{bundle_dir}: not a bundle directory (it does not exist or is a file)")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{bundle_dir}: no {MANIFEST_NAME}") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the manifest: {exc}") from None
    if keys:
        from .signing import SigningError, verify_manifest
        try:
            verify_manifest(bundle_dir, data, keys)
        except SigningError as exc:
            raise BundleError(str(exc)) from None
    try:
        doc = json_read.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{path}: cannot read the manifest: {exc}") from None
    try:
        return parse(doc), sha256(data).hexdigest()
    except ManifestError as exc:
        raise BundleError(f"{path}: invalid manifest: {exc}") from None


def name_diff(expected, actual) -> tuple[list, list]:
    """(names of `expected` not in `actual`, names of `actual` not in `expected`), each in its own order."""
    return [n for n in expected if n not in actual], [n for n in actual if n not in expected]


def verify_files(bundle_dir: Path, manifest: Manifest) -> None:
    for name, entry in manifest.listed_files().items():
        path = bundle_dir / name
        if not path.is_file():
            raise BundleError(f"{path}: listed in the manifest but missing")
        size = path.stat().st_size
        if size != entry.bytes:
            raise BundleError(f"{path}: size {size} bytes, the manifest says {entry.bytes}")
        digest = file_sha256(path)
        if digest != entry.sha256:
            raise BundleError(f"{path}: sha256 mismatch (file {digest[:12]}…, manifest {entry.sha256[:12]}…): "
                              "the file was changed after the bundle was built")


def read_verified(path: Path, entry: Artifact | FileEntry) -> bytes:
    """A listed file's bytes, checked against its manifest entry (size and sha256).

    Runtimes load models from these bytes, not from the path: what runs is exactly what was
    verified, and a file changed in place afterwards (truncated, copied over) cannot reach the
    running model — a memory-mapped model would die with SIGBUS when its file shrinks.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) != entry.bytes:
        raise BundleError(f"{path}: size {len(data)} bytes, the manifest says {entry.bytes}")
    digest = sha256(data).hexdigest()
    if digest != entry.sha256:
        raise BundleError(f"{path}: sha256 mismatch (file {digest[:12]}…, manifest {entry.sha256[:12]}…): "
                          "the file was changed after the bundle was built")
    return data


def _retrain_hint(manifest: Manifest, expect: Expectation) -> str:
    """What to do about a bundle made for another config: an integrator who trained on the README's
    example (window 32) and runs configs/industrial.yaml (window 64) was told what differs, not how
    to mend it."""
    steps = f" `--steps {expect.steps}`" if manifest.steps != int(expect.steps) else ""
    return f"train it again with this config's values (stad-convert train{steps}) or set them to the bundle's"


def check_expectation(manifest: Manifest, expect: Expectation, where: str = "bundle") -> None:
    """Raise BundleError naming every way the bundle differs from what the agent's config needs."""
    diffs = []
    sensors = list(manifest.sensors)
    if sensors != list(expect.sensors):
        if len(sensors) != len(expect.sensors):
            diffs.append(f"{len(sensors)} sensors in the bundle, {len(expect.sensors)} in the config")
        only_config, only_bundle = name_diff(expect.sensors, sensors)
        if only_bundle:
            diffs.append(f"sensors only in the bundle: {', '.join(only_bundle)}")
        if only_config:
            diffs.append(f"sensors only in the config: {', '.join(only_config)}")
        if not only_bundle and not only_config:
            diffs.append("the same sensors in a different order "
                         f"(first difference at position {next(i for i, (a, b) in enumerate(zip(sensors, expect.sensors)) if a != b)})")
    if manifest.steps != int(expect.steps):
        diffs.append(f"window steps: bundle {manifest.steps}, config window.steps {expect.steps}")
    if not math.isclose(manifest.tick_s, float(expect.tick_s), rel_tol=1e-9):
        diffs.append(f"tick: bundle {manifest.tick_s} s, config tick_s {expect.tick_s} s")
    # The model's spatial attention carries a prior from its training config's neighbours: under
    # another rule it would weigh the wrong sensors while the fallback's fusion used the right ones.
    # A manifest without the field (none written by convert/ lacks it) is not judged.
    trained = (manifest.model or {}).get("topology")
    if expect.topology is not None and trained is not None and trained != expect.topology:
        diffs.append(f"topology: bundle {trained!r} (its spatial prior's neighbours), config topology "
                     f"{expect.topology!r}")
    if diffs:
        raise BundleError(f"{where}: built for a different configuration: " + "; ".join(diffs)
                          + " — " + _retrain_hint(manifest, expect))
    failed = parity_failures(manifest)
    if failed and set(manifest.artifact_kinds()) <= set(failed):
        raise BundleError(f"{where}: every artifact failed its parity check when the bundle was made "
                          f"({'; '.join(failed.values())}); {PARITY_CURE}")


PARITY_CURE = "retrain or re-export it, or accept its figures: stad-convert verify --record --min-agreement X"


def parity_failures(manifest: Manifest) -> dict[str, str]:
    """The artifacts whose recorded parity failed (`passed: false`), each with what failed: the
    alert agreement per group under the bound it was verified with; {} when it passed or was never
    recorded. A failed parity that names no group under the bound refuses every int8 artifact."""
    parity = manifest.parity
    if not isinstance(parity, dict) or parity.get("passed") is not False:
        return {}
    bound = parity.get("min_int8_agreement")
    out: dict[str, list[str]] = {}     # kind -> "0.9612 on perturbed" per group under the bound
    for kind in manifest.artifact_kinds():
        figures = parity.get(kind)
        groups = figures.get("groups") if isinstance(figures, dict) else None
        if not kind.endswith("_int8") or not isinstance(groups, dict) or not isinstance(bound, (int, float)):
            continue
        for group, f in groups.items():
            agreement = f.get("alert_agreement") if isinstance(f, dict) else None
            if isinstance(agreement, (int, float)) and agreement < bound:
                out.setdefault(kind, []).append(f"{agreement:.4f} on {group}")
    if not out:
        return {k: f"{k} recorded as not passed" for k in manifest.artifact_kinds() if k.endswith("_int8")}
    return {k: f"{k} alert agreement {', '.join(v)} windows, under {bound:g}" for k, v in out.items()}


def parity_note(bundle: Bundle, runs: list[str] | None = None) -> str | None:
    """What a person deploying `bundle` must hear about its parity: artifacts left out for a
    failed one, or none ever recorded; None when it passed. `runs`: the artifacts this gateway's tiers run (its
    installed runtimes'; None: every one left) — user36's ONNX-only gateway was told it ran the tflite ones."""
    where = str(bundle.path)
    if bundle.refused:
        # What runs and the cure before the figures: check-config cuts a line at 300 characters, and two
        # int8 artifacts failing in three groups pushed both out of it (user10).
        left = bundle.artifact_kinds() if runs is None else [k for k in bundle.artifact_kinds() if k in runs]
        return (f"{where}: parity failed when it was made: {', '.join(k for k, _ in bundle.refused)} not run, "
                + (f"the tiers run {', '.join(left)} instead; " if left else
                   "and no runtime installed here runs the others; ")
                + f"{PARITY_CURE} "
                f"({'; '.join(why for _, why in bundle.refused)})")
    parity = bundle.manifest.parity
    if isinstance(parity, dict) and "passed" in parity:
        return None
    return (f"{where}: no parity recorded in its manifest: its artifacts were never verified against the trained "
            f"model (`stad-convert verify --record {where}` does it)")


def load(ref: str | Path, base_dir: str | Path = ".", expect: Expectation | None = None,
         verify_hashes: bool = True) -> Bundle:
    path = resolve_path(ref, base_dir)
    manifest, digest = read_manifest_digest(path, keys=expect.keys if expect is not None else ())
    if verify_hashes:
        verify_files(path, manifest)
    if expect is None:
        return Bundle(path=path, manifest=manifest, manifest_sha256=digest)
    check_expectation(manifest, expect, where=str(path))
    return Bundle(path=path, manifest=manifest, refused=tuple(parity_failures(manifest).items()), manifest_sha256=digest)


__all__ = ["Bundle", "BundleError", "Expectation", "Manifest", "FORMAT_VERSION", "MANIFEST_NAME", "ARTIFACT_KINDS",
           "how_changed", "load", "resolve_path", "file_sha256", "read_manifest", "read_manifest_digest", "verify_files",
           "read_verified", "check_expectation",
           "name_diff", "parity_failures", "parity_note"]
