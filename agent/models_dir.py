"""What `scoring.models_dir` holds, for the hot swap (agent/hotswap.py) and the restart on the
bundle a swap made active (agent/active_bundle.py): its bundle directories with their
fingerprints, and a candidate's model tiers loaded from one.

A fingerprint is the newest mtime of a directory and its files: it changes when a copy into the
directory completes, so a bundle still being copied is told from one that is still, and a bundle
already decided on from one written to since — without reading every file at every poll.

A fingerprint alone cannot tell a directory replaced in place (`rm -r h`, then a copy renamed to `h`) from the one
it replaced when the copy kept its files' times (cp -a, rsync -a, shutil.copytree) and the old one's last change
fell on the same timestamp: a poll that caught the old directory half deleted took that timestamp, the load read the
half-deleted files and was refused, and the new release — same fingerprint — was never judged (qa40: 1 of 33 runs of
tests/test_hotswap_live.py at load ~25; the kernel's multigrain timestamps hand out the last fine-grained stamp as
the floor of the coarse ones, so the old directory's unlink and the new release's signature, a few ms apart, read
the same ns). `identity` (the directory's inode, ctime and names: a rename, a new directory or a file gone changes
it, and no copy can set it) tells them apart: a poll takes a directory whose identity moved for a candidate, and a
load that read one whose identity moved meanwhile is not judged.
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


def identity(path: Path) -> tuple:
    """The directory itself: its inode, its ctime (ns) and the names in it. Changes when the directory is replaced
    by another (a new inode, a rename's ctime) whatever the times its files were given, and when files go from it
    within one timestamp (a rm -r's unlinks a few ms apart can all be stamped alike: its mtime and ctime stay)."""
    st = path.stat()
    return st.st_ino, st.st_ctime_ns, tuple(sorted(p.name for p in path.iterdir()))


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


__all__ = ["build_candidate", "bundle_dirs", "fingerprint", "identity"]
