"""A state directory on a read-only file system at start: a distinct exit code the unit restarts (review41).

An SD card's ext4 remounted read-only on errors (errors=remount-ro) made `run` exit 2, and the unit's
RestartPreventExitStatus=2 left the gateway down until someone came. Now that problem alone exits 4
(EXIT_STATE_READ_ONLY), which the unit restarts; a real config mistake stays exit 2. The read-only file system
is a real one: a read-only bind mount in a user and mount namespace of our own (`unshare -rm`), so the kernel
answers EROFS as on the gateway; the test is skipped where this host allows no such namespace.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import EXIT_CONFIG, EXIT_STATE_READ_ONLY

REPO = Path(__file__).resolve().parents[1]


def _userns_ro_bind_works(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    (tmp / "probe").mkdir()
    res = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind probe probe && mount -o remount,bind,ro probe "
                          "&& ! touch probe/x"], cwd=tmp, capture_output=True, timeout=60)
    return res.returncode == 0


def write_config(tmp: Path, state_dir: Path, jsonl: Path) -> Path:
    cfg = tmp / "agent.yaml"
    cfg.write_text(f"""
node: {{id: gw-ro, site: plant-a}}
sensors: [pressure, flow]
sources: [{{type: stdin}}]
state_dir: {state_dir}
sinks: [{{type: jsonl, path: {jsonl}}}]
""")
    return cfg


def run_read_only(tmp: Path, cfg: Path, ro_dir: Path) -> subprocess.CompletedProcess:
    """`stad-agent run` with `ro_dir` bound read-only over itself in a namespace of its own."""
    script = (f'mount --bind "{ro_dir}" "{ro_dir}" && mount -o remount,bind,ro "{ro_dir}" && '
              f'exec "{sys.executable}" -m agent run -c "{cfg}" --max-ticks 1')
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=tmp, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


@pytest.fixture
def ro_capable(tmp_path):
    if not _userns_ro_bind_works(tmp_path):
        pytest.skip("no unprivileged user+mount namespace here: no real read-only bind mount to test on")


def test_a_state_dir_remounted_read_only_exits_4_naming_it(tmp_path, ro_capable):
    state = tmp_path / "state"
    state.mkdir()
    (state / "alerts.jsonl").write_text("")          # a gateway that ran before: its files are there
    res = run_read_only(tmp_path, write_config(tmp_path, state, state / "alerts.jsonl"), state)
    assert res.returncode == EXIT_STATE_READ_ONLY, res.stderr
    assert f"state_dir: {state} is on a read-only file system" in res.stderr
    assert f"{state / 'alerts.jsonl'} is on a read-only file system" in res.stderr
    assert "nothing started" in res.stderr


def test_a_config_mistake_beside_it_stays_exit_2(tmp_path, ro_capable):
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "a-file").write_text("")
    res = run_read_only(tmp_path, write_config(tmp_path, state, tmp_path / "a-file" / "alerts.jsonl"), state)
    assert res.returncode == EXIT_CONFIG, res.stderr
    assert "is on a read-only file system" in res.stderr      # said all the same
    under_a_file = run_read_only(tmp_path, write_config(tmp_path, tmp_path / "a-file" / "state",
                                                        tmp_path / "alerts.jsonl"), state)
    assert under_a_file.returncode == EXIT_CONFIG, under_a_file.stderr
    assert "cannot be a directory" in under_a_file.stderr
