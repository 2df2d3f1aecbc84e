"""A state directory on a read-only file system at start, beside a config mistake: still exit 2 (review41).

An SD card's ext4 remounted read-only on errors (errors=remount-ro) made `run` exit 2, and the unit's
RestartPreventExitStatus=2 left the gateway down until someone came. review41 made that problem alone exit 4,
which the unit restarts; since review42 `run` starts degraded on it (tests/test_review42_read_only_state_dir.py);
a real config mistake beside it stays exit 2. The read-only file system
is a real one: a read-only bind mount in a user and mount namespace of our own (`unshare -rm`), so the kernel
answers EROFS as on the gateway; the test is skipped where this host allows no such namespace.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.cli import EXIT_CONFIG
from read_only_mount import ro_capable, stdin_config  # noqa: F401 — ro_capable: a pytest fixture

REPO = Path(__file__).resolve().parents[1]



def run_read_only(tmp: Path, cfg: Path, ro_dir: Path) -> subprocess.CompletedProcess:
    """`stad-agent run` with `ro_dir` bound read-only over itself in a namespace of its own."""
    script = (f'mount --bind "{ro_dir}" "{ro_dir}" && mount -o remount,bind,ro "{ro_dir}" && '
              f'exec "{sys.executable}" -m agent run -c "{cfg}" --max-ticks 1')
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=tmp, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_a_config_mistake_beside_it_stays_exit_2(tmp_path, ro_capable):
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "a-file").write_text("")
    res = run_read_only(tmp_path, stdin_config(tmp_path, state, tmp_path / "a-file" / "alerts.jsonl"), state)
    assert res.returncode == EXIT_CONFIG, res.stderr
    assert "is on a read-only file system" in res.stderr      # said all the same
    under_a_file = run_read_only(tmp_path, stdin_config(tmp_path, tmp_path / "a-file" / "state",
                                                        tmp_path / "alerts.jsonl"), state)
    assert under_a_file.returncode == EXIT_CONFIG, under_a_file.stderr
    assert "cannot be a directory" in under_a_file.stderr
