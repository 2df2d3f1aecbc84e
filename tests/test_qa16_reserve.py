"""The files the agent reserves in state_dir at its start (the MQTT outbox's held file, the
journals' spares: agent/held_file.py) so that a full disk later loses no alert event without a
count. A disk already full before they could be made: check-config (and run) says so — before, it
said "ok" and a kill -9 on that disk lost the events held in memory without a count. Once the
first start made them, a full disk is no cause for the note any more.

A real 2 MiB tmpfs for state_dir (tests/small_fs.py), `check-config` and `run` as real processes.
"""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO
from restart_helpers import AgentProcess, finished, full_disk_config
from small_fs import small_fs  # noqa: F401 — a pytest fixture

from agent.checkpoint import SPARE_BYTES
from agent.held_file import HELD_FILE_BYTES

RESERVES = {"mqtt-outbox.sqlite.held": HELD_FILE_BYTES, "alert-journal.json.spare": SPARE_BYTES,
            "fault-journal.json.spare": SPARE_BYTES}


def check_config(cfg) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(cfg)], capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def test_check_config_says_when_the_state_disk_has_no_room_for_the_reserves(tmp_path, small_fs):
    # On the old code check-config said ok on the full disk, with no note.
    cfg = full_disk_config(tmp_path, 1)             # an MQTT sink: its outbox's held file is reserved too
    small_fs.fill()
    res = check_config(cfg)
    assert res.returncode == 0, res.stderr
    assert "KiB free; the agent reserves 160 KiB there at its start (alert-journal.json.spare 16 KiB, " \
           "fault-journal.json.spare 16 KiB, mqtt-outbox.sqlite.held 128 KiB)" in res.stderr, res.stderr

    small_fs.free()
    assert "the agent reserves" not in check_config(cfg).stderr
    agent = AgentProcess(tmp_path, cfg, "first")            # the first start makes them
    agent.ready()
    finished(agent)
    assert {name: (small_fs.path / name).stat().st_size for name in RESERVES} == RESERVES
    small_fs.fill()
    res = check_config(cfg)
    assert res.returncode == 0 and "the agent reserves" not in res.stderr, res.stderr
