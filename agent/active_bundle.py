"""`<state_dir>/active-bundle.json`: the bundle a hot swap made active, and the fingerprints of the
models_dir bundles already decided on (swapped in or rejected), across restarts (agent/models_dir.py
`Fingerprint`: [newest mtime, listing]; a record of an agent before 6 Dec 2026 holds the mtime alone, read as it is).

Written by the hot swap (agent/hotswap.py) at every decision and at the first start (with the
bundles there then, so that one dropped before any decision is not taken, after a restart, for
one that was there at start-up); read once at start. A restarted agent starts on the bundle it
names (`active_tiers`, unless the config's `scoring.bundle` changed since or it no longer loads: then on
the newest other models_dir bundle the last run had decided on that loads, the release before it — swap7).
It keeps each release's verdict too (`verdicts`, agent/release_verdicts.py: refused by the shadow or the check,
swapped in, withdrawn; absent in a record written before swap8): a restart that cannot start on the recorded bundle
never starts on a release refused instead. The recorded bundle itself, when it loads, is started on even if a
SIGHUP's shadow refused it since: the running agent kept scoring it, and a restart goes on with what ran.

A record that is there but cannot be used — cut short by a power cut, corrupt, of another form,
a directory in its place — is `Unreadable` (the file and why), never taken for a first start: the
hot swap then says it, starts on the configured bundle and judges the newest bundle of models_dir,
so that one delivered while the agent was down is not dropped without a word.

A record missing while models_dir is configured, holds a bundle, and a checkpoint taken with models_dir
configured exists was lost (deleted, or never written: the last run said so) — the hot swap writes one at its
first start with a models_dir. It is an `Unreadable` too (`missing`): said, counted in the same health key
(`state_reads.active_bundle`) and handled the same way, the newest models_dir bundle judged, so that
a bundle delivered while the agent was down is not taken for one decided on (qa23). Without models_dir
a missing record is the rule (none is written), and so it is over a checkpoint taken without one.

A record lost (missing or unreadable) while a checkpoint exists: the checkpoint's header names the
bundle it was taken with. When that bundle lies in models_dir (only a hot swap runs one from there
rather than `scoring.bundle`) and still loads, the agent starts on it, so the checkpoint resumes
instead of being refused for "the model differs" and the agent warming up blind (qa22); the checkpoint's
own fingerprint check (manifest sha256) still refuses it if that bundle changed on disk since. A bundle
outside models_dir is not taken: the config's `scoring.bundle` was changed, and it wins. So it does
when the header's `configured` (the config's `scoring.bundle` and `models_dir` as written when it was
taken: agent/resume.py) names another `scoring.bundle` than the config now: the operator changed it
while the agent was down, so the new choice wins over the swapped-in bundle — as it does with the
record kept — the checkpoint is refused ("the model differs") and the agent warms up on the configured
bundle (qa23). A checkpoint older than that key is taken as of the same `scoring.bundle`.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import json_read
from .checkpoint import CHECKPOINT_FILE, CheckpointRefused, atomic_write, read_meta
from .models_dir import Fingerprint, build_candidate, bundle_dirs, releases_before
from .release_verdicts import Verdicts

if TYPE_CHECKING:
    from .config import AgentConfig

log = logging.getLogger("stad.hotswap")

ACTIVE_FILE = "active-bundle.json"


MISSING = "missing, though the checkpoint was taken with models_dir configured (deleted, or not written: see the last run's log)"


@dataclass(frozen=True)
class Unreadable:
    """active-bundle.json is there but cannot be used, and why; or (`missing`) lost, the checkpoint shows."""
    path: Path
    why: str
    missing: bool = False

    def said(self) -> str:
        """'is missing' or 'is unreadable (why)': what a log line says of the record."""
        return "is missing" if self.missing else f"is unreadable ({self.why})"


def read_record(state_dir: Path) -> dict | Unreadable | None:
    """active-bundle.json; None when there is none (a first start), Unreadable when it cannot be used."""
    path = Path(state_dir) / ACTIVE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return Unreadable(path, getattr(exc, "strerror", None) or str(exc))
    if not text.strip():
        return Unreadable(path, "empty (cut short by a power cut?)")
    try:
        record = json_read.loads(text)
    except ValueError as exc:
        return Unreadable(path, f"not JSON: {exc} (cut short by a power cut?)")
    why = _malformed(record)
    return Unreadable(path, why) if why else record


def _malformed(record) -> str | None:
    """What is wrong with a parsed active-bundle.json; None when it is in the form _save_record writes."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    if record.get("version") != 1:
        return f"version {record.get('version')!r}, expected 1"
    for key in ("path", "model_id", "config_bundle"):
        if not isinstance(record.get(key), (str, type(None))):
            return f"{key}: expected a string or null, got {type(record[key]).__name__}"
    seen = record.get("seen")
    if not isinstance(seen, dict):
        return "seen: expected an object of bundle directories and their fingerprints"
    for path, fp in seen.items():
        try:
            Fingerprint.from_json(fp)
        except ValueError as exc:
            return f"seen[{path!r}]: {exc}"
    try:
        Verdicts.from_json(record.get("verdicts"))      # (absent in a record written before swap8: none kept)
    except ValueError as exc:
        return f"verdicts: {exc}"
    return None


def write_record(state_dir: Path, record: dict) -> None:
    """Write `record` atomically (temporary file, fsync, rename); OSError when it cannot be."""
    path = Path(state_dir) / ACTIVE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=1).encode())


def restarts_on(state_dir: Path, config_bundle: str | None) -> str | None:
    """The bundle a restart would start on by the record as it is on disk (None: the configured one)."""
    kept = read_record(state_dir)
    if isinstance(kept, dict) and kept.get("config_bundle") == config_bundle:
        return kept.get("path")
    return None


def at_start(cfg: AgentConfig, state_dir: Path) -> tuple[dict | Unreadable | None, list | None, Path | None]:
    """What a start takes from active-bundle.json: the record the hot swap resumes from (one lost, by
    the checkpoint, an `Unreadable`: see the docstring), and the model tiers to start on and their
    bundle's path ((None, None): the configured bundle)."""
    record = read_record(state_dir)
    meta = None
    if not isinstance(record, dict) and cfg.scoring.models_dir:
        meta = _checkpoint_meta(Path(state_dir))
        if (record is None and meta is not None and _configured(meta).get("models_dir", True)
                and _holds_bundles(Path(cfg.resolve(cfg.scoring.models_dir)))):
            record = Unreadable(Path(state_dir) / ACTIVE_FILE, MISSING, missing=True)
    tiers, path = active_tiers(cfg, record, meta)
    return record, tiers, path


def active_tiers(cfg: AgentConfig, record: dict | Unreadable | None,
                 meta: dict | None = None) -> tuple[list | None, Path | None]:
    """The model tiers of the bundle a hot swap made active before the last stop, and its path;
    (None, None) when the agent should start on its configured bundle. Without a usable record, the
    bundle the checkpoint (its header's `meta`) was taken with, when a hot swap ran it (see the docstring)."""
    if not cfg.scoring.chain or cfg.scoring.chain[0] == "numpy":
        return None, None
    if not isinstance(record, dict):
        return _checkpoint_tiers(cfg, record, meta) if record is not None and meta is not None else (None, None)
    if not record.get("path"):
        return None, None
    if record.get("config_bundle") != cfg.scoring.bundle:
        log.info("scoring.bundle changed since %s was swapped in; starting on the configured bundle",
                 record["path"])
        return None, None
    path = Path(record["path"])
    tiers, refusals = build_candidate(cfg, path)
    if not tiers:
        lost = f"the bundle swapped in before the last stop, {path}, no longer loads ({'; '.join(refusals) or 'no tier'})"
        tiers, before = _release_before(cfg, path, record["seen"], Verdicts.from_json(record.get("verdicts")))
        if tiers:
            log.warning("%s; starting on the newest other bundle of models_dir that loads: %s (%s)", lost,
                        before, tiers[0].describe().get("model_id"))
            return tiers, before
        log.warning("%s; no other bundle of models_dir loads; starting on %s", lost, cfg.scoring.bundle or "numpy")
        return None, None
    log.info("starting on the bundle swapped in before the last stop: %s (%s)",
             record.get("model_id"), path)
    return tiers, path


def _release_before(cfg: AgentConfig, gone: Path, seen: dict, verdicts: Verdicts) -> tuple[list | None, Path | None]:
    """The tiers of the newest bundle of models_dir other than `gone` that verifies and fits the config, and its
    path ((None, None): none does) — the release before the active one, moved away or no longer verifying, as the
    running agent rolls back to it (agent/hotswap.py `_begin_rollback`). Each refused one is said. Only bundles
    the last run had decided on, unchanged since (the record's `seen`): one delivered or rewritten while the agent
    was down is a delivery, judged in shadow at the first poll, never started on unjudged; one the shadow or the check
    refused (`verdicts`, swap8) is skipped, and said."""
    if not cfg.scoring.models_dir:
        return None, None
    try:
        dirs = bundle_dirs(Path(cfg.resolve(cfg.scoring.models_dir)))
    except OSError as exc:
        log.warning("models_dir cannot be read (%s): no release before %s to start on", exc.strerror or exc, gone)
        return None, None
    order, skipped = releases_before(dirs, {Path(p): Fingerprint.from_json(fp) for p, fp in seen.items()}, gone, verdicts)
    for line in skipped:
        log.warning("skipped %s: a restart never starts on a release the shadow or the check refused", line)
    for d in order:
        tiers, refusals = build_candidate(cfg, d)
        if tiers:
            return tiers, d
        log.warning("%s, the next release in models_dir, does not load either (%s)", d, "; ".join(refusals) or "no tier")
    return None, None


def _holds_bundles(models_dir: Path) -> bool:
    """Whether models_dir holds a bundle (True when it cannot be listed: a loss is not ruled out). With none
    there, a missing record lost nothing — no bundle to judge, none a swap could have made active — and is
    what an upgrade from an agent that wrote no record at its first start (before 3 Dec 2026) finds: taken
    for a first start (the record written), not said as an error and counted (user13)."""
    try:
        return bool(bundle_dirs(models_dir))
    except OSError:
        return True


def _checkpoint_meta(state_dir: Path) -> dict | None:
    """The checkpoint's meta from its header alone (`read_meta`: this runs on every start without a
    usable record); None when there is none or its header cannot be read (resume refuses it and says why)."""
    try:
        meta = read_meta(state_dir / CHECKPOINT_FILE)
    except FileNotFoundError:
        return None                         # a first start (or no checkpoint yet): nothing was lost
    except (OSError, CheckpointRefused) as exc:
        log.debug("active bundle from the checkpoint: not readable (%s)", exc)
        return None
    return meta if isinstance(meta, dict) else None


def _configured(meta: dict) -> dict:
    """The header's `configured` ({"bundle", "models_dir"} as the config said then); {} in an older checkpoint."""
    configured = meta.get("configured")
    return configured if isinstance(configured, dict) else {}


def _checkpoint_tiers(cfg: AgentConfig, record: Unreadable, meta: dict) -> tuple[list | None, Path | None]:
    """The tiers of the models_dir bundle the checkpoint was taken with, when active-bundle.json is lost
    and the config's `scoring.bundle` is the one the checkpoint was taken under."""
    try:
        bundle = meta["config"]["bundle"]
        path = Path(bundle["path"]) if bundle else None
    except (KeyError, TypeError) as exc:
        log.debug("active bundle from the checkpoint: not readable (%s)", exc)
        return None, None                   # resume refuses it and says why
    models_dir = Path(cfg.resolve(cfg.scoring.models_dir))
    configured = Path(cfg.resolve(cfg.scoring.bundle)) if cfg.scoring.bundle else None
    if path is None or path == configured or path.parent != models_dir:
        return None, None
    lost = f"{record.path} {record.said()}"
    then = _configured(meta)
    if "bundle" in then and then["bundle"] != cfg.scoring.bundle:
        log.warning("%s and scoring.bundle changed since the checkpoint was taken (%s then, %s now): starting on the "
                    "configured bundle, %s, not on the bundle the checkpoint was taken with, %s (%s, swapped in from "
                    "models_dir); the checkpoint resumes but for the model tier, prepared again", lost,
                    then["bundle"] or "none", cfg.scoring.bundle or "none", cfg.scoring.bundle or "numpy",
                    bundle.get("model_id"), path)
        return None, None
    tiers, refusals = build_candidate(cfg, path)
    if not tiers:
        log.warning("%s and the bundle the checkpoint was taken with, %s, no longer loads (%s): starting on %s; "
                    "the checkpoint resumes but for the model tier, prepared again", lost, path, "; ".join(refusals) or "no tier",
                    cfg.scoring.bundle or "numpy")
        return None, None
    log.warning("%s: starting on the bundle the checkpoint was taken with, %s (%s, swapped in from models_dir), "
                "so that the checkpoint resumes; which models_dir bundles the last run had decided on is lost",
                lost, bundle.get("model_id"), path)
    return tiers, path


__all__ = ["ACTIVE_FILE", "MISSING", "Unreadable", "active_tiers", "at_start", "read_record", "restarts_on", "write_record"]
