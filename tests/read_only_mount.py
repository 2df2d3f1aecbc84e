"""A real read-only file system for tests: a read-only bind mount in a user and mount namespace of our own
(`unshare -rm`), so the kernel answers EROFS as on a gateway whose SD card was remounted read-only; `ro_capable`
skips, saying why, where this host allows no such namespace (review41, review42)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def userns_ro_bind_works(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    (tmp / "probe").mkdir()
    res = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind probe probe && mount -o remount,bind,ro probe "
                          "&& ! touch probe/x"], cwd=tmp, capture_output=True, timeout=60)
    return res.returncode == 0


@pytest.fixture
def ro_capable(tmp_path):
    if not userns_ro_bind_works(tmp_path):
        pytest.skip("no unprivileged user+mount namespace here: no real read-only bind mount to test on")
