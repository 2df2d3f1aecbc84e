"""Which build of the agent runs: its version and a digest of its code, for a fleet's view and a restart's word.

Every build of stad-edge says version 0.1.0, so across 40 gateways a dashboard reading the retained health could
not tell which gateways an upgrade reached, nor a restart that its checkpoint was written by another build (an
upgrade, or a rollback) — user39. `build()` is the first 12 hex digits of a BLAKE2b over the package's own files
(path and content, in path order; bytecode left out): two installs of one release agree, any change of code,
schema or bundled model gives another. Computed once, at the first call (196 files, 2.7 MB: 15–20 ms on this 2-core
machine under load 5).
"""
from __future__ import annotations

import os
from functools import lru_cache

from . import __version__

try:
    from _blake2 import blake2b    # CPython's own (not OpenSSL's: agent/digest.py), ~5x its builtin SHA-256 here
except ImportError:                # pragma: no cover - a build without it
    from .digest import sha256 as blake2b

PACKAGE = os.path.dirname(os.path.abspath(__file__))


@lru_cache(maxsize=1)
def build() -> str:
    """The digest's 12 hex digits; "unknown" when a file of the package cannot be read (never a failed start)."""
    try:
        return _digest()
    except OSError:
        return "unknown"


def _digest() -> str:
    files = []
    for top, dirs, names in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        files += [os.path.join(top, n) for n in names if not n.endswith(".pyc")]
    h = blake2b()
    for path in sorted(files):
        h.update(os.path.relpath(path, PACKAGE).replace(os.sep, "/").encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
        h.update(b"\0")
    return h.hexdigest()[:12]


def identity() -> dict:
    """What health's `agent_build` and a checkpoint's header (`agent_build`) carry."""
    return {"version": __version__, "build": build()}


def said(recorded: object) -> str:
    """A checkpoint's recorded release as words: `build 1a2b3c4d5e6f (0.1.0)`, or that none was recorded."""
    if isinstance(recorded, dict) and isinstance(recorded.get("build"), str):
        return f"build {recorded['build']} ({recorded.get('version')})"
    return "an earlier release (no build recorded)"


def other_build(recorded: object) -> str | None:
    """What a restart says when the checkpoint was written by another build than this one (an upgrade or a
    rollback since); None when by this one."""
    if isinstance(recorded, dict) and recorded.get("build") == build():
        return None
    return f"written by {said(recorded)}; this is build {build()} ({__version__})"
