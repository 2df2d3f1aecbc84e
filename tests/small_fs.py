"""A full disk, for real: a small tmpfs mounted at tmp_path/state, filled with a file and freed.

    def test_x(small_fs):     # small_fs.path: the mount; small_fs.fill() / small_fs.free()

bench/chaos.py mounts and fills one the same way (mount_small_fs).

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

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


def mount_small_fs(mount: Path) -> SmallFs:
    """A FS_SIZE tmpfs mounted at `mount` (made if missing); OSError saying why when it cannot be."""
    mount.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE},mode=0755", "tmpfs", str(mount)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise OSError(f"cannot mount a small tmpfs here (needs root): {res.stderr.strip()}")
    return SmallFs(mount)


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs at tmp_path/state (where the agent's configs in the tests keep their state)."""
    try:
        fs = mount_small_fs(tmp_path / "state")
    except OSError as exc:
        pytest.skip(str(exc))
    try:
        yield fs
    finally:
        fs.unmount()
