"""A state directory not yet made on a read-only parent: once writable, the agent locks it (qa48).

review42's degraded start runs when state_dir is on a read-only file system, also when the directory does not
exist yet (its parent read-only: a first boot on an SD card remounted read-only on errors). Its lock (flock on
the directory: agent/statelock.py) could not be taken then — "not guarded against a second agent" — and the
recovery made the directory and only wrote `agent.lock`'s pid when a lock was held: none was, so a second agent
started on the same state_dir ran beside the first (each overwriting the other's checkpoint and journals,
sending the other's outbox). Now the recovery takes the lock, and the second agent is refused naming the first.
The journals' spares, which a later full disk needs, were not reserved either (they are made at the start): now
they are made at the recovery too.

All real: two agent processes, and the kernel's EROFS from a read-only bind mount of the parent in a user and
mount namespace of our own (`unshare -rm`, as tests/test_review42_read_only_state_dir.py; skipped where this host
allows none). The agents read an idle UDP socket and print to the terminal sink.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import yaml

from conftest import REPO, wait_for
from read_only_mount import ReadOnlyRun, ro_capable  # noqa: F401 — a pytest fixture


def test_the_state_dir_made_at_recovery_is_locked_and_a_second_agent_refused(tmp_path, ro_capable):
    parent = tmp_path / "parent"
    parent.mkdir()
    state = parent / "state"                    # not there: the read-only parent cannot have it made
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "node": {"id": "gw-test", "site": "lab"}, "tick_s": 1, "topology": "group",
        "sensors": [{"name": f"s{i}", "group": "skid"} for i in range(3)],
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
        "window": {"steps": 8}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "terminal"}], "state_dir": str(state), "log_level": "info"}, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = ReadOnlyRun(tmp_path, parent, cfg, env, stdout="/dev/null")
    first, flag, pid_file, err_file = run.proc, run.flag, run.pid_file, run.err_file
    second = None
    try:
        # (the two lines come one after the other: waited on together, not read between them — ci77 under load)
        wait_for(lambda: err_file.exists() and "running degraded" in (said := err_file.read_text())
                 and "not guarded against a second agent" in said, "the degraded start and the lock's line", 120, first)
        assert not state.exists()
        flag.touch()                            # the parent is writable again
        wait_for(lambda: "is writable again" in err_file.read_text(), "the recovery said", 120, first)
        wait_for(state.is_dir, "the state dir made", 60, first)
        pid = int(pid_file.read_text())
        wait_for(lambda: (state / "agent.lock").exists() and (state / "agent.lock").read_text().strip() == str(pid),
                 "agent.lock naming the first agent", 60, first)
        # the journals' spares reserved now, while the disk has room (on review42's code: never, this life)
        wait_for(lambda: (state / "alert-journal.json.spare").is_file() and (state / "fault-journal.json.spare").is_file(),
                 "both journals' spares reserved", 60, first)
        second = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=tmp_path,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, env=env)
        # On review42's code agent.lock was never written (no lock held) and the second agent ran beside the first.
        out = second.communicate(timeout=120)[1]
        assert second.returncode == 1 and f"in use by another stad-agent (pid {pid})" in out, out[-2000:]
        os.kill(pid, signal.SIGTERM)
        assert first.wait(timeout=120) == 0, err_file.read_text()[-3000:]
    finally:
        for proc in (second, first):
            if proc is not None and proc.poll() is None and proc is first and pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)      # the agent itself, not only its shell
                except (ProcessLookupError, ValueError):
                    pass
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
