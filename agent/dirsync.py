"""fsync of a directory: what makes a file's new name (a rename, a file made) survive a power cut.

A rename or a new file changes the directory, not the file: the file's own fsync makes its data durable, and
until the directory is synced too a power cut may leave the old name (or none). Every state write that makes or
renames a file ends with this (agent/checkpoint.py atomic_write_by, agent/held_file.py ReservedFile.reserve,
agent/refused_file.py's rotation); tests/test_chaos9_power_loss_order.py checks the order on the real write paths.
"""
from __future__ import annotations

import os
from pathlib import Path


def sync_directory(path: Path) -> bool:
    """fsync `path` (a directory); False when it cannot be opened or synced (a file system that refuses a
    directory's fsync: the caller's write itself worked, so this is no failure to report)."""
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.fsync(dfd)
        return True
    except OSError:
        return False
    finally:
        os.close(dfd)


__all__ = ["sync_directory"]
