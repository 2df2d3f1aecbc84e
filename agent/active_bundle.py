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

The record keeps the release that ran, too (`manifest_sha256`: the sha256 of the active bundle's manifest.json as it
was swapped in or started on, the key its verdict has; absent before swap9). An operator who deploys by rewriting the
active bundle's own directory while the agent is down (rsync or scp of a new export over the same folder name, `cp -r`
over it) leaves another manifest there: a restart says so (`rewritten`), does not start on it unjudged — the running
agent judges a changed release in shadow, a restart does the same — but on the release before it (`_release_before`:
the newest other release judged and unchanged that loads, else `scoring.bundle`, else numpy), and the changed one is
judged at the first poll as any delivery (agent/hotswap.py `resume`). One that does not verify (half copied: manifest
new, a model file old or missing) is said as such, and judged once a poll finds its copy complete. The manifest
digest, not the directory's fingerprint: a `touch`, or an rsync of the same release, changes the fingerprint and not
the release (the manifest lists every file's sha256); and a copy that keeps the files' times can leave the fingerprint
as it was. A record written before swap9 has no digest: the release that ran is told by its verdict (a release
refused is not it; one swapped in is) and, without one, by the directory's fingerprint in `seen` (unchanged: it).

Since swap10 `manifest_sha256` is kept when the configured bundle (`scoring.bundle`) is what runs, too — at the first
start, after a rollback to it, and at a start after `scoring.bundle` was changed (the record is written then). A new
export copied over the operator's named bundle while the agent was down (`configured_rewritten`: another manifest
there) is the operator's choice, so it is not refused; but it is a changed release, and a changed release is judged in
shadow before it scores. So the restart starts on the last release judged on this gateway that loads (verdict `swapped
in`, still in models_dir and unchanged), says so with both digests, and judges the configured bundle at the first poll
as any delivery (agent/hotswap.py `resume`: one in models_dir is forgotten from `seen`, one outside it is loaded once);
with no release judged here it starts on it, said with both digests (`_instead_of_configured`). One the shadow refused
before is not judged again until it changes (to run it all the same: copy it to a new folder and name that in
`scoring.bundle`: a changed `scoring.bundle` is the operator's new choice, started on). A half copy never gets here:
the start's check refuses a `scoring.bundle` that does not verify and `run` starts nothing. A record written before
swap10 keeps no digest of the configured bundle: it is started on, as before. A builtin `scoring.bundle` changed by
a package upgrade is said as such (agent/bundle.py `how_changed`; swap11). The record keeps `scoring.bundle`'s release
as this gateway last knew it (CONFIGURED_KNOWN), carried while a swapped-in bundle runs: a restart that must fall back
on `scoring.bundle` (the swapped-in release gone, nothing judged here loading) says so when it holds another release
(`configured_also_rewritten`; swap11).

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
own fingerprint check (manifest sha256) still refuses it if that bundle changed on disk since. That bundle
rewritten since (or no longer loading) is not started on, and is judged at the first poll as a delivery even when it
is not the newest bundle there (`Unreadable.judge`; swap10: qa23's rule took it for decided, never judged). A bundle
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import json_read
from .checkpoint import CHECKPOINT_FILE, CheckpointRefused, atomic_write, read_meta
from .bundle import BundleError, Expectation, how_changed, resolve_path
from .models_dir import Fingerprint, build_candidate, bundle_dirs, fingerprint, releases_before
from .pipeline_state import bundle_identity
from .release_verdicts import REFUSED, REFUSED_SHADOW, SWAPPED_IN, Verdicts, manifest_digest
from .scorers.model_scorer import load_fitting

if TYPE_CHECKING:
    from .config import AgentConfig

log = logging.getLogger("stad.hotswap")

ACTIVE_FILE = "active-bundle.json"
RAN = "manifest_sha256"         # the key of the release that ran at `path` (its manifest's sha256; swap9)
#: The key of `scoring.bundle`'s release as this gateway last knew it — its manifest.json's sha256 when it last ran, or
#: at the start that took it — kept while a swapped-in bundle runs (swap11; absent before: nothing told, as before).
CONFIGURED_KNOWN = "config_manifest_sha256"


MISSING = "missing, though the checkpoint was taken with models_dir configured (deleted, or not written: see the last run's log)"


@dataclass(frozen=True)
class Unreadable:
    """active-bundle.json is there but cannot be used, and why; or (`missing`) lost, the checkpoint shows."""
    path: Path
    why: str
    missing: bool = False
    judge: Path | None = None   # the checkpoint's models_dir bundle, rewritten since: judged at the first poll (swap10)

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
    for key in ("path", "model_id", "config_bundle", RAN, CONFIGURED_KNOWN):
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
    if isinstance(record, Unreadable) and meta is not None and _model_chain(cfg):
        tiers, path, judge = _checkpoint_tiers(cfg, record, meta)
        return (replace(record, judge=judge) if judge is not None else record), tiers, path
    tiers, path = active_tiers(cfg, record, meta)
    return record, tiers, path


def _model_chain(cfg: AgentConfig) -> bool:
    """Whether the chain has a model tier on top (else no bundle is started on, swapped in or not)."""
    return bool(cfg.scoring.chain) and cfg.scoring.chain[0] != "numpy"


def active_tiers(cfg: AgentConfig, record: dict | Unreadable | None,
                 meta: dict | None = None) -> tuple[list | None, Path | None]:
    """The model tiers of the bundle a hot swap made active before the last stop, and its path;
    (None, None) when the agent should start on its configured bundle. Without a usable record, the
    bundle the checkpoint (its header's `meta`) was taken with, when a hot swap ran it (see the docstring)."""
    if not _model_chain(cfg):
        return None, None
    if not isinstance(record, dict):
        return _checkpoint_tiers(cfg, record, meta)[:2] if record is not None and meta is not None else (None, None)
    if record.get("config_bundle") != cfg.scoring.bundle:
        if record.get("path"):
            log.info("scoring.bundle changed since %s was swapped in; starting on the configured bundle",
                     record["path"])
        return None, None
    verdicts = Verdicts.from_json(record.get("verdicts"))     # (read_record checked it)
    path = Path(record["path"]) if record.get("path") else None
    configured = configured_rewritten(cfg, record)
    if configured is not None:
        return _instead_of_configured(cfg, record, configured, verdicts)
    if path is None:
        return None, None
    lost = _rewritten_said(cfg, record, path, verdicts)
    tiers, why = _verified(cfg, path) if lost is None else ([], "")
    if not tiers:
        lost = lost or f"the bundle swapped in before the last stop, {path}, no longer loads ({why})"
        tiers, before = _release_before(cfg, path, record["seen"], verdicts)
        if tiers:
            log.warning("%s; starting on the newest other bundle of models_dir that loads: %s (%s)", lost,
                        before, tiers[0].describe().get("model_id"))
            return tiers, before
        also = configured_also_rewritten(cfg, record)
        log.warning("%s; no other bundle of models_dir loads; starting on %s%s", lost, cfg.scoring.bundle or "numpy",
                    f"; {also}" if also else "")
        return None, None
    log.info("starting on the bundle swapped in before the last stop: %s (%s)",
             record.get("model_id"), path)
    return tiers, path


def configured_path(cfg: AgentConfig) -> Path | None:
    """`scoring.bundle`'s directory (None: none configured, or a builtin name that is not one)."""
    try:
        return resolve_path(cfg.scoring.bundle, cfg.base_dir) if cfg.scoring.bundle else None
    except BundleError:
        return None


def configured_rewritten(cfg: AgentConfig, record: dict) -> Path | None:
    """`scoring.bundle`'s directory when it was the release that ran before the last stop (the record names no
    swapped-in bundle, or names it) and another manifest is there now (its sha256 not the record's `RAN`): a new export
    copied over the operator's named bundle while the agent was down (swap10). None otherwise — also with a record
    written before swap10, which keeps no digest of the configured bundle (it is started on, as before)."""
    configured, ran = configured_path(cfg), record.get(RAN)
    if configured is None or ran is None or record.get("config_bundle") != cfg.scoring.bundle \
            or record.get("path") not in (None, str(configured)):
        return None
    now = manifest_digest(configured)
    return configured if now is not None and now != ran else None


def configured_also_rewritten(cfg: AgentConfig, record: dict) -> str | None:
    """Words for a restart that falls back on `scoring.bundle` (the swapped-in release that ran gone, or no longer
    loading, and nothing judged here loads) when its folder holds another release than the one this gateway last knew
    (CONFIGURED_KNOWN): rewritten too, started on unjudged — said with both digests (before swap11 not told: the record
    kept only the swapped-in release's digest). None when it is the one known, none is known, or the config names
    another scoring.bundle (the operator's new choice)."""
    configured, known = configured_path(cfg), record.get(CONFIGURED_KNOWN)
    if configured is None or known is None or record.get("config_bundle") != cfg.scoring.bundle:
        return None
    now = manifest_digest(configured)
    if now is None or now == known:
        return None
    return (f"scoring.bundle, {configured}, was {how_changed(configured)} too: another release is there (its "
            f"manifest.json sha256 {now[:12]}…, the release known here {known[:12]}…): started on unjudged, no release "
            "judged here loading to start on instead")


def configured_refusal(verdicts: Verdicts, configured: Path) -> str | None:
    """Why `scoring.bundle`'s release, rewritten while down, is not judged again (its shadow refused it: 'refused by
    the shadow at …: why'); None otherwise — a refusal by the check was of a copy since completed, since the start's
    check passed it (agent/preflight.py)."""
    kept = verdicts.of(manifest_digest(configured))
    return verdicts.refusal(configured) if kept is not None and kept["verdict"] == REFUSED_SHADOW else None


def _instead_of_configured(cfg: AgentConfig, record: dict, configured: Path, verdicts: Verdicts
                           ) -> tuple[list | None, Path | None]:
    """`scoring.bundle` rewritten while the agent was down (`configured_rewritten`): the operator named it, so it is
    not refused — but a changed release is judged in shadow before it scores, as any delivery is. So the restart
    starts on the last release judged on this gateway that loads (verdict `swapped in`, still in models_dir,
    unchanged, not the configured bundle; newest first by releases_before's order), and the configured bundle is
    judged at the first poll (agent/hotswap.py `resume`); with none, on the configured bundle, said with both
    digests. A half copy of it never gets here: the start's check (agent/preflight.py) refuses `scoring.bundle`
    that does not verify, and `run` starts nothing."""
    now, ran = manifest_digest(configured), record[RAN]
    said = (f"scoring.bundle, {configured}, was {how_changed(configured)}: another release is there (its "
            f"manifest.json sha256 {now[:12]}…, the release that ran {ran[:12]}…)")
    refused = configured_refusal(verdicts, configured)
    if refused is not None:
        said += f"; it holds a release {refused}"
    models_dir = Path(cfg.resolve(cfg.scoring.models_dir)) if cfg.scoring.models_dir else None
    try:
        dirs = bundle_dirs(models_dir) if models_dir is not None else {}
    except OSError:
        dirs = {}
    seen = {Path(p): Fingerprint.from_json(fp) for p, fp in record["seen"].items()}
    judged = [d for d in releases_before(dirs, seen, configured, verdicts)[0]
              if (verdicts.of(manifest_digest(d)) or {}).get("verdict") == SWAPPED_IN]
    for d in judged:
        tiers, why = _verified(cfg, d)
        if tiers:
            log.warning("%s: never started on unjudged while a release judged here loads; %s; starting on the last "
                        "release judged on this gateway that loads: %s (%s)", said,
                        "not judged again until it changes (to run it all the same, copy it to a new folder and name "
                        "that in scoring.bundle)" if refused else
                        "judged in shadow at the first poll as any delivery, swapped in if it passes", d,
                        tiers[0].describe().get("model_id"))
            return tiers, d
        log.warning("%s, a release judged here, does not load (%s)", d, why)
    log.warning("%s; no release judged on this gateway to start on instead (one swapped in here, still in models_dir "
                "and unchanged): starting on it %s, as the configured bundle (the operator's choice)", said,
                "all the same" if refused else "unjudged")
    return None, None


def rewritten(record: dict, path: Path, models_dir: Path | None, verdicts: Verdicts | None = None) -> str | None:
    """How the recorded active bundle's directory (`path`) no longer holds the release that ran there (see the
    docstring); None when it holds it, or when `path` is not a models_dir bundle (the configured one: the operator's
    choice, its checkpoint's fingerprint tells a change) or cannot be read (then it does not load: said as such).
    `verdicts`: the record's, when the caller has read them already."""
    now = manifest_digest(path)
    if models_dir is None or path.parent != models_dir or now is None:
        return None
    ran = record.get(RAN)
    if ran is not None:
        return None if now == ran else f"its manifest.json is another: sha256 {now[:12]}…, the release that ran {ran[:12]}…"
    if verdicts is None:
        verdicts = Verdicts.from_json(record.get("verdicts"))
    verdict = verdicts.of(now)     # a record before swap9: its verdict, or `seen`
    if verdict is not None:
        return (f"it holds a release {verdict['verdict']} (a record before swap9, no manifest digest kept)"
                if verdict["verdict"] in REFUSED else None)
    kept = record["seen"].get(str(path))
    try:
        same = kept is not None and Fingerprint.from_json(kept).matches(fingerprint(path))
    except OSError:
        same = False
    return None if same else ("its directory was written to since (a record before swap9 keeps no manifest digest to "
                              "tell the release by)")


def _rewritten_said(cfg: AgentConfig, record: dict, path: Path, verdicts: Verdicts) -> str | None:
    """What a restart says of the recorded active bundle rewritten in place (`rewritten`), and whether what is there
    now verifies (half copied, it does not); None when it holds the release that ran."""
    models_dir = Path(cfg.resolve(cfg.scoring.models_dir)) if cfg.scoring.models_dir else None
    why = rewritten(record, path, models_dir, verdicts)
    if why is None:
        return None
    said = f"the bundle swapped in before the last stop, {path}, was rewritten in place: another release is there ({why})"
    refused = verdicts.refusal(path)
    if refused is not None:
        return f"{said}; it holds a release {refused}: never started on"
    unverified = _check_refusal(cfg, path)
    if unverified is not None:
        return (f"{said}, and it does not verify ({unverified}): half copied? never started on; judged as a delivery "
                "once a poll finds it complete")
    return (f"{said}: a changed release is judged in shadow before it scores, never started on unjudged; judged at "
            "the first poll as any delivery")


def _verified(cfg: AgentConfig, path: Path) -> tuple[list, str]:
    """The chain's model tiers from `path` when the start's check passes it (agent/scorers/model_scorer.py
    `load_fitting`: every listed file's sha256, as a delivery's load checks it), else ([], why). Not the tiers alone:
    each verifies its own artifact only, and a bundle whose top tier's file was changed (a half copy) was started on
    by the tier below it (swap9)."""
    refused = _check_refusal(cfg, path)
    if refused is not None:
        return [], refused
    tiers, refusals = build_candidate(cfg, path)
    return tiers, "; ".join(refusals) or "no tier"


def _check_refusal(cfg: AgentConfig, path: Path) -> str | None:
    """Why the start's check refuses the bundle in `path` (`load_fitting`, every listed file's sha256); None when it
    passes."""
    try:
        load_fitting(str(path), cfg.base_dir, Expectation.from_config(cfg))
    except BundleError as exc:
        return str(exc)
    return None


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
        tiers, why = _verified(cfg, d)
        if tiers:
            return tiers, d
        log.warning("%s, the next release in models_dir, does not load either (%s)", d, why)
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


def _checkpoint_tiers(cfg: AgentConfig, record: Unreadable, meta: dict
                      ) -> tuple[list | None, Path | None, Path | None]:
    """The tiers of the models_dir bundle the checkpoint was taken with, when active-bundle.json is lost
    and the config's `scoring.bundle` is the one the checkpoint was taken under; and that bundle's directory when it
    is not started on because it was rewritten since, or no longer loads: judged at the first poll as a delivery,
    whether or not it is the newest bundle there (qa23's lost-record rule judges the newest alone and takes the others
    for decided; this one was not decided on as it is now — swap9 left it, swap10)."""
    try:
        bundle = meta["config"]["bundle"]
        path = Path(bundle["path"]) if bundle else None
    except (KeyError, TypeError) as exc:
        log.debug("active bundle from the checkpoint: not readable (%s)", exc)
        return None, None, None             # resume refuses it and says why
    models_dir = Path(cfg.resolve(cfg.scoring.models_dir))
    configured = Path(cfg.resolve(cfg.scoring.bundle)) if cfg.scoring.bundle else None
    if path is None or path == configured or path.parent != models_dir:
        return None, None, None
    lost = f"{record.path} {record.said()}"
    then = _configured(meta)
    if "bundle" in then and then["bundle"] != cfg.scoring.bundle:
        log.warning("%s and scoring.bundle changed since the checkpoint was taken (%s then, %s now): starting on the "
                    "configured bundle, %s, not on the bundle the checkpoint was taken with, %s (%s, swapped in from "
                    "models_dir); the checkpoint resumes but for the model tier, prepared again", lost,
                    then["bundle"] or "none", cfg.scoring.bundle or "none", cfg.scoring.bundle or "numpy",
                    bundle.get("model_id"), path)
        return None, None, None
    tiers, why = _verified(cfg, path)
    if tiers and bundle.get("sha256") not in (None, bundle_identity(tiers)["sha256"]):
        tiers, why = [], ("rewritten in place since: its manifest is another; judged at the first poll as a delivery, "
                          "never started on unjudged (swap9, swap10)")
    if not tiers:
        log.warning("%s and the bundle the checkpoint was taken with, %s, no longer loads (%s): starting on %s; "
                    "the checkpoint resumes but for the model tier, prepared again", lost, path, why,
                    cfg.scoring.bundle or "numpy")
        return None, None, (path if path.is_dir() else None)
    log.warning("%s: starting on the bundle the checkpoint was taken with, %s (%s, swapped in from models_dir), "
                "so that the checkpoint resumes; which models_dir bundles the last run had decided on is lost",
                lost, bundle.get("model_id"), path)
    return tiers, path, None


__all__ = ["ACTIVE_FILE", "MISSING", "RAN", "Unreadable", "active_tiers", "at_start", "configured_path",
           "configured_refusal", "configured_rewritten", "read_record", "restarts_on", "rewritten", "write_record"]
