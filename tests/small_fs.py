"""A full disk, for real: a small tmpfs mounted at tmp_path/state, filled with a file and freed.

    def test_x(small_fs):     # small_fs.path: the mount; small_fs.fill() / small_fs.free()

Mounting needs root (CAP_SYS_ADMIN): elsewhere the tests using it are skipped, saying why.
"""
from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest

FS_SIZE = "2m"


class SmallFs:
    def __init__(self, path: Path):
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write until the file system refuses one more byte."""
        with open(self.filler, "ab", buffering=0) as f:
            for block in (1 << 16, 4096, 1):
                while True:
                    try:
                        f.write(b"\0" * block)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC, exc
                        break

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs at tmp_path/state (where the agent's configs in the tests keep their state)."""
    mount = tmp_path / "state"
    mount.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE},mode=0755", "tmpfs", str(mount)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {res.stderr.strip()}")
    try:
        yield SmallFs(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
