"""What the hot swap decided of each release, kept across restarts in active-bundle.json (swap8).

Before this a restart knew which models_dir bundles had been decided on (`seen`: their fingerprints) but not
what was decided: when the active bundle no longer loaded it started on the newest other one that did — even a
release the shadow had refused — while the running agent, rolling back, re-judged that release in shadow. The
two parted ways. Now each decision is kept:

- `refused by the shadow` — it faulted, ran over the latency budget, disagreed, correlated below the floor or
  read off scale in its shadow;
- `refused by the check` — the start's check or a tier of the running chain refused it (agent/hotswap.py
  `_start_shadow`);
- `swapped in`;
- `withdrawn` — it was active and its directory went from models_dir (an operator's rollback, swap7).

A rollback (running or at a restart) never takes a release refused by the shadow or the check, and says why it
skipped each (`refusal`). A verdict is keyed by the release's manifest digest (the sha256 of its manifest.json,
which lists every file's sha256): a release changed on disk since — another manifest — has no verdict and is
judged again; the same release renamed, or moved out and put back, keeps its verdict. A withdrawn release put
back into models_dir is a delivery: judged in shadow again, and its verdict replaced by the new one.

Bounded by what can still matter (`bound`, at every write of the record; swap10), not by a count: every verdict of a
release still on disk (its manifest digest that of a bundle in models_dir now, or of `scoring.bundle`) is kept
whatever its age — a refusal is what keeps a rollback off that release, however many releases were refused since
(until swap10 the newest 32 were kept: a gateway that refused 32 more could roll back to an old refused release still
in models_dir). Of the releases gone, the newest `GONE_MOST` are kept: they decide nothing (one put back is a
delivery, judged again) but say `withdrawn … and is back` and show in health. A hard cap, `CAP_BYTES` of verdicts,
drops the oldest past it — gone ones first, then those of releases on disk (not refused, then refused) — and is said
(the releases whose verdict went, a rollback may take, judged on their own health). Each reason is cut at
`WHY_LONGEST` characters. A verdict's age is its place in the record (`record` puts it last), never its `at`, a wall
clock's that ties within a millisecond and goes back when the host's clock is stepped (review47); `at` must be a time
(1970–2100) to be read back. A record written before swap8 has no `verdicts`: read as none kept (nothing refused is
known, as before); one of swap8's or swap9's (the newest 32) loads as it is; an agent before swap8 reading a newer
record ignores the key.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from .alert_events import iso
from .bundle import MANIFEST_NAME
from .journaled import is_time
from .manifest import file_sha256

REFUSED_SHADOW = "refused by the shadow"
REFUSED_CHECK = "refused by the check"
SWAPPED_IN = "swapped in"
WITHDRAWN = "withdrawn"
KINDS = (REFUSED_SHADOW, REFUSED_CHECK, SWAPPED_IN, WITHDRAWN)
REFUSED = (REFUSED_SHADOW, REFUSED_CHECK)

GONE_MOST = 32          # verdicts kept of releases no longer on disk, the newest (swap8 kept 32 in all)
CAP_BYTES = 256_000     # the verdicts' JSON at most (~550 at the longest reasons); past it the oldest dropped, said
WHY_LONGEST = 240       # characters of a reason kept


def manifest_digest(bundle: Path) -> str | None:
    """The sha256 of the bundle's manifest.json (the key of its verdict); None when it cannot be read."""
    try:
        return file_sha256(Path(bundle) / MANIFEST_NAME)
    except OSError:
        return None


class Verdicts:
    """The verdicts kept, by manifest digest: {"release": path, "verdict": one of KINDS, "why": str|None, "at": epoch s}."""

    def __init__(self, entries: dict[str, dict] | None = None):
        self.entries: dict[str, dict] = dict(entries or {})

    def record(self, digest: str | None, release: Path, verdict: str, why: str | None = None) -> None:
        """Keep `verdict` for the release whose manifest digest is `digest` (nothing when it is None: its
        manifest could not be read, so nothing could find the verdict again). Bounded at the record's write (`bound`)."""
        if digest is None:
            return
        if why is not None and len(why) > WHY_LONGEST:
            why = why[:WHY_LONGEST - 1] + "…"
        self.entries.pop(digest, None)
        self.entries[digest] = {"release": str(release), "verdict": verdict, "why": why, "at": round(time.time(), 3)}

    def bound(self, on_disk: set[str] | None | Callable[[], set[str] | None]) -> str | None:
        """Keep what can still matter (the module's docstring): every verdict whose manifest digest is in `on_disk`
        (the releases on disk now; None: not known — models_dir could not be listed, or is empty, a mount away —
        every verdict taken as on disk), and of the others the newest GONE_MOST; then, past CAP_BYTES of JSON, the
        oldest dropped, gone ones first, then those on disk not refused, then refused ones. What was dropped past
        the cap, said (None when the cap was not reached). `on_disk` may be a function giving it, called only when
        something could be dropped (more than GONE_MOST verdicts, or past the cap): listing it hashes every
        release's manifest, at every write of the record (21 ms at 30 releases, bench/record_verdicts.py)."""
        size = {k: len(json.dumps({k: v})) for k, v in self.entries.items()}
        if len(self.entries) <= GONE_MOST and sum(size.values()) <= CAP_BYTES:
            return None         # (nothing to drop, whatever is on disk)
        if callable(on_disk):
            on_disk = on_disk()

        def here(k: str) -> bool:
            return on_disk is None or k in on_disk

        # (the entries' order is their age, the newest last: `record` puts a verdict last; a record keeps the order.
        # Not `at`, a wall clock's: verdicts within one millisecond tie on it, and a clock stepped back reorders them)
        gone = [k for k in reversed(self.entries) if not here(k)]
        for k in gone[GONE_MOST:]:
            del self.entries[k]
            del size[k]
        total = sum(size.values())
        if total <= CAP_BYTES:
            return None
        dropped = []
        age = {k: i for i, k in enumerate(self.entries)}
        for k in sorted(self.entries, key=lambda k: (here(k), self.entries[k]["verdict"] in REFUSED, age[k])):
            if total <= CAP_BYTES:
                break
            total -= size[k]
            dropped.append((here(k), self.entries.pop(k)))
        kept_off = [d["release"] for on, d in dropped if on and d["verdict"] in REFUSED]    # (gone ones decide nothing)
        return (f"the verdicts kept reached {CAP_BYTES} bytes: the oldest {len(dropped)} dropped"
                + (f", refusals of releases still on disk among them ({', '.join(kept_off[:5])}"
                   f"{' …' if len(kept_off) > 5 else ''}): a rollback may take those releases again, judged on their "
                   "own health" if kept_off else ""))

    def withdraw(self, release: Path, why: str) -> None:
        """The release in `release`, gone from models_dir, withdrawn: its newest verdict there (it was swapped in)
        becomes `withdrawn` — found by its path, its manifest being gone with it; nothing when none is kept (the
        configured bundle, never swapped in; a release started on by a record written before swap8)."""
        mine = [k for k, v in self.entries.items() if v["release"] == str(release)]
        if mine:
            self.record(mine[-1], release, WITHDRAWN, why)     # (the newest: the last, `bound`'s age)

    def of(self, digest: str | None) -> dict | None:
        return self.entries.get(digest) if digest is not None else None

    def refusal(self, bundle: Path) -> str | None:
        """Why the release in `bundle` (its manifest as it is now) must not be rolled back or restarted onto:
        'refused by the shadow at …: why'; None when it was not refused."""
        kept = self.of(manifest_digest(bundle))
        if kept is None or kept["verdict"] not in REFUSED:
            return None
        return f"{kept['verdict']} at {iso(kept['at'])}" + (f": {kept['why']}" if kept["why"] else "")

    def newest_first(self) -> list[dict]:
        """For health: each verdict with its manifest digest, the newest first (by place, as `bound`)."""
        return [{"manifest_sha256": k, **v} for k, v in reversed(self.entries.items())]

    def to_json(self) -> dict:
        return {k: dict(v) for k, v in self.entries.items()}

    @classmethod
    def from_json(cls, value) -> Verdicts:
        """What `to_json` wrote; None (a record written before swap8) is none kept; ValueError when malformed — `at`
        no time on 1970–2100 too (review47: a NaN or 1e300 was kept, and the refusal's words then raised out of a
        rollback: `iso` cannot date it)."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise ValueError(f"expected an object of manifest digests and verdicts, got {type(value).__name__}")
        for digest, v in value.items():
            if not isinstance(v, dict) or v.get("verdict") not in KINDS or not isinstance(v.get("release"), str) \
                    or not isinstance(v.get("why"), (str, type(None))) or not is_time(v.get("at")):
                raise ValueError(f"{digest!r}: expected {{release, verdict (one of {', '.join(KINDS)}), why, at}}, "
                                 f"got {v!r}")
        return cls(value)


__all__ = ["CAP_BYTES", "GONE_MOST", "KINDS", "REFUSED", "REFUSED_CHECK", "REFUSED_SHADOW", "SWAPPED_IN", "Verdicts", "WHY_LONGEST",
           "WITHDRAWN", "manifest_digest"]
