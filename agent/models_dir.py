"""What `scoring.models_dir` holds, for the hot swap (agent/hotswap.py) and the restart on the
bundle a swap made active (agent/active_bundle.py): its bundle directories with their
fingerprints, and a candidate's model tiers loaded from one.

A fingerprint is the newest mtime of a directory and its files: it changes when a copy into the
directory completes, so a bundle still being copied is told from one that is still, and a bundle
already decided on from one written to since — without reading every file at every poll.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .bundle import MANIFEST_NAME, Expectation
from .scorers import load_tiers

if TYPE_CHECKING:
    from .config import AgentConfig


def fingerprint(path: Path) -> int:
    """The newest mtime (ns) of a directory and the files in it: changes when a copy completes."""
    stamps = [path.stat().st_mtime_ns]
    for p in path.iterdir():
        try:
            stamps.append(p.stat().st_mtime_ns)
        except OSError:
            continue
    return max(stamps)


def bundle_dirs(models_dir: Path) -> dict[Path, int]:
    """Subdirectories holding a manifest.json, with their fingerprints. Hidden ones (`.name`) are
    skipped: a bundle is copied in under a dot name and renamed into place when complete. Empty
    while models_dir does not exist (it may be made when the first bundle is delivered); OSError
    when it cannot be listed (a file in its place, its permissions, an I/O error)."""
    out: dict[Path, int] = {}
    try:
        entries = list(models_dir.iterdir())
    except FileNotFoundError:
        return out
    for d in entries:
        try:
            if not d.name.startswith(".") and d.is_dir() and (d / MANIFEST_NAME).is_file():
                out[d] = fingerprint(d)
        except OSError:
            continue
    return out


def build_candidate(cfg: AgentConfig, path: Path) -> tuple[list, list[str]]:
    """The chain's model tiers from `path` (verified), those below the top one on standby as at start (a swap
    or a restart onto a swapped-in bundle loads no runtime the agent did not start with: swap3), and why any
    tier refused it."""
    return load_tiers(cfg.scoring, str(path), Expectation.from_config(cfg), cfg.alerts.top_k, cfg.base_dir,
                      standby=True)


__all__ = ["build_candidate", "bundle_dirs", "fingerprint"]
