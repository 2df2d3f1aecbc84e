"""What `scoring.models_dir` holds, for the hot swap (agent/hotswap.py) and the restart on the
bundle a swap made active (agent/active_bundle.py): its bundle directories with their
fingerprints, and a candidate's model tiers loaded from one.

A fingerprint is one listing of a bundle directory (`Fingerprint`), taken at every poll:

- the newest mtime of the directory and its files: it changes when a copy into the directory completes, so a
  bundle still being copied is told from one that is still, and a bundle already decided on from one written to
  since — without reading every file at every poll;
- its listing: a digest of the directory's inode and the names in it. The newest mtime alone cannot tell a
  directory replaced in place (`rm -r h`, then a copy renamed to `h`) from the one it replaced when the copy kept its
  files' times (cp -a, rsync -a, shutil.copytree) and the old one's last change fell on the same timestamp: a poll
  that caught the old directory half deleted took that timestamp, the load read the half-deleted files and was
  refused, and the new release — same mtime — was never judged (qa40: 1 of 33 runs of tests/test_hotswap_live.py
  at load ~25; the kernel's multigrain timestamps hand out the last fine-grained stamp as the floor of the coarse
  ones, so the old directory's unlink and the new release's signature, a few ms apart, read the same ns). A new
  directory, or a file gone, changes the listing, and no copy can set it.

Not the directory's ctime: a `chown -R` or `chmod -R` of models_dir (a delivery copied as root, then handed to the
agent's user) changes every directory's and delivers nothing — with qa40's `identity` (inode, ctime, names, kept
beside the fingerprint) it made every bundle there a candidate, one a poll, newest first, and the agent swapped
each older release in after the other, ending on the oldest (review35). The listing is kept with the mtime in
active-bundle.json (qa40's identity was in memory only: a restart between the half-deleted poll and the new
release took the new release's identity for the one decided on, and never judged it, review35); a record written
before it kept the mtime alone (an integer): matched on its mtime, its listing taken at the next poll.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .bundle import MANIFEST_NAME, Expectation
from .digest import sha256
from .release_verdicts import Verdicts
from .scorers import load_tiers

if TYPE_CHECKING:
    from .config import AgentConfig


class Fingerprint(NamedTuple):
    """A bundle directory as a poll lists it (the module's docstring). Ordered by `mtime_ns` first: the newest
    bundle is the one with the newest fingerprint."""
    mtime_ns: int               # the newest mtime (ns) of the directory and its files
    listing: int | None         # digest of its inode and its names; None: a record written before it was kept

    def matches(self, now: Fingerprint) -> bool:
        """Whether the directory listed `now` is the one this fingerprint was recorded of (one recorded without
        its listing: by its mtime alone)."""
        return self.mtime_ns == now.mtime_ns and (self.listing is None or self.listing == now.listing)

    def to_json(self) -> int | list[int]:
        """As active-bundle.json keeps it: [mtime_ns, listing] (without a listing, the mtime: an integer)."""
        return self.mtime_ns if self.listing is None else [self.mtime_ns, self.listing]

    @classmethod
    def from_json(cls, value) -> Fingerprint:
        """What `to_json` wrote (an integer: the mtime alone, as a record of an agent before 6 Dec 2026 holds);
        ValueError when it is neither."""
        if type(value) is int:
            return cls(value, None)
        if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
            return cls(value[0], value[1])
        raise ValueError(f"expected a fingerprint ([mtime_ns, listing] or an integer), got {value!r}")


def fingerprint(path: Path) -> Fingerprint:
    """The directory `path` as listed now: its newest mtime and its listing (OSError when it cannot be listed)."""
    st = path.stat()
    stamps = [st.st_mtime_ns]
    names = []
    for p in path.iterdir():
        names.append(p.name)
        try:
            stamps.append(p.stat().st_mtime_ns)
        except OSError:
            continue
    # SHA-256 without OpenSSL (agent/digest.py: hashlib would load libcrypto); 48 bits: exact in any JSON reader's numbers
    listing = sha256("\0".join([str(st.st_ino), *sorted(names)]).encode("utf-8", "surrogateescape")).digest()[:6]
    return Fingerprint(max(stamps), int.from_bytes(listing, "big"))


def bundle_dirs(models_dir: Path) -> dict[Path, Fingerprint]:
    """Subdirectories holding a manifest.json, with their fingerprints. Hidden ones (`.name`) are
    skipped: a bundle is copied in under a dot name and renamed into place when complete. Empty
    while models_dir does not exist (it may be made when the first bundle is delivered); OSError
    when it cannot be listed (a file in its place, its permissions, an I/O error)."""
    out: dict[Path, Fingerprint] = {}
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


def releases_before(dirs: dict[Path, Fingerprint], seen: dict[Path, Fingerprint], gone: Path | None,
                    verdicts: Verdicts) -> tuple[list[Path], list[str]]:
    """The bundles of `dirs` other than `gone` already decided on and unchanged since (`seen`), newest first: what
    a rollback tries, in turn, when the active bundle is gone or no longer verifies — the running agent
    (agent/hotswap.py `_begin_rollback`) and a restart (agent/active_bundle.py `_release_before`) alike (swap7). One
    delivered or rewritten since is a delivery, judged in shadow, never rolled back to unjudged. One the shadow or
    the check refused (`verdicts`: agent/release_verdicts.py) is left out, and said in the second list ('path
    (refused by … at …: why)'), for both alike (swap8: a restart started on it, the running agent judged it again)."""
    decided = [d for d in dirs if d != gone and d in seen and seen[d].matches(dirs[d])]
    order, skipped = [], []
    for d in sorted(decided, key=dirs.get, reverse=True):
        refused = verdicts.refusal(d)
        if refused is None:
            order.append(d)
        else:
            skipped.append(f"{d} ({refused})")
    return order, skipped


def build_candidate(cfg: AgentConfig, path: Path) -> tuple[list, list[str]]:
    """The chain's model tiers from `path` (verified), those below the top one on standby as at start (a swap
    or a restart onto a swapped-in bundle loads no runtime the agent did not start with: swap3), and why any
    tier refused it."""
    return load_tiers(cfg.scoring, str(path), Expectation.from_config(cfg), cfg.alerts.top_k, cfg.base_dir,
                      standby=True)


__all__ = ["Fingerprint", "build_candidate", "bundle_dirs", "fingerprint", "releases_before"]
