"""A state directory on a read-only file system: `run` starts degraded, publishes, and mends (review42).

Before, `run` refused it (exit 4 since review41, exit 2 before): systemd retried five times in ~30 s and the unit
ended `failed` — a gateway whose SD card ext4 remounted read-only on errors was blind until someone came. Now the
agent starts: it reads the checkpoint and the outbox's waiting events (sent, as replays), publishes new events from
memory, says the problem in the log and in health (`state_dir_problem`), and once the directory is writable again
says so and writes its state files again — the events the broker acknowledged meanwhile deleted from the outbox.

All real: an agent process, Mosquitto, a subscriber, and the kernel's EROFS from a read-only bind mount in a user
and mount namespace of our own (`unshare -rm`; skipped where this host allows none). The outbox's part on its own,
with EACCES as the stand-in where no namespace is allowed (skipped as root, whom permission bits do not stop).
"""
from __future__ import annotations

import os
import signal

import pytest

from agent.outbox import Outbox
from conftest import REPO, pump_agent_config, wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture
from read_only_mount import (ReadOnlyRun, healths, published, ro_capable,  # noqa: F401 — ro_capable: a pytest fixture
                             first_life_waiting, stop_in_namespace, waiting_rows)





def test_a_read_only_state_dir_starts_degraded_publishes_and_mends(tmp_path, ro_capable, make_broker):
    broker = make_broker(start=False)          # its port, nothing listening yet: the first run's events wait
    sinks = [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port}, "health_interval_s": 1}]
    cfg = pump_agent_config(tmp_path, sinks)
    state = tmp_path / "state"
    waiting = first_life_waiting(tmp_path, cfg, {**os.environ, "PYTHONPATH": str(REPO)})
    assert len(waiting) >= 5 and (state / "checkpoint.bin").exists()
    checkpoint_before = (state / "checkpoint.bin").stat().st_mtime_ns

    broker.start()
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()
    run = ReadOnlyRun(tmp_path, state, cfg, {**os.environ, "PYTHONPATH": str(REPO)})
    proc, flag, pid_file, err_file = run.proc, run.flag, run.pid_file, run.err_file
    try:
        # read-only: the outbox's waiting events go out (as replays), new ones too, health says why
        wait_for(lambda: waiting <= published(sub, replayed=True), "the waiting events, sent from the read-only file",
                 300, proc)
        wait_for(lambda: published(sub, replayed=False), "a new event published while read-only", 300, proc)
        said = wait_for(lambda: [h["state_dir_problem"] for h in healths(sub) if h.get("state_dir_problem")],
                        "health's state_dir_problem", 120, proc)
        assert "read-only file system" in said[-1] and str(state) in said[-1]
        assert "running degraded" in err_file.read_text()
        assert waiting_rows(state / "mqtt-outbox.sqlite") == waiting       # nothing written there meanwhile

        flag.touch()                            # the disk is writable again
        wait_for(lambda: "is writable again" in err_file.read_text(), "the recovery said", 120, proc)
        seen = len(healths(sub))
        wait_for(lambda: any(h.get("state_dir_problem") is None for h in healths(sub)[seen:]),
                 "a health without state_dir_problem", 120, proc)
        # the events acknowledged while read-only are deleted from the file once it opens: not sent a third time
        wait_for(lambda: not (waiting & waiting_rows(state / "mqtt-outbox.sqlite")),
                 "the acknowledged events deleted from the outbox", 120, proc)
        pid = int(pid_file.read_text())
        assert (state / "agent.lock").read_text().strip() == str(pid)       # named again: a second agent's refusal
        os.kill(pid, signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, err_file.read_text()[-3000:]
    finally:
        stop_in_namespace(proc, pid_file)
        sub.close()
    err = err_file.read_text()
    assert (state / "checkpoint.bin").stat().st_mtime_ns > checkpoint_before, err[-3000:]
    assert "summary:" in err


def test_an_outbox_it_cannot_open_for_writing_is_read_sent_and_settled_once_writable(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root is not stopped by permission bits: the EROFS test above stands for this one here")
    box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=86400)
    for seq in range(4):
        box.add("a", seq, "update", "{}")
    box.close()
    tmp_path.chmod(0o500)
    try:
        box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=86400)
        waiting = box.pending()
        assert [(e.seq, e.replay) for e in waiting] == [(s, True) for s in range(4)]
        box.ack(waiting[0].id, waiting[1].id)          # the broker has two of them
        assert box.add("a", 4, "update", "{}") is None and box.depth == 3
    finally:
        tmp_path.chmod(0o700)
    assert box.add("a", 5, "update", "{}") is not None          # writable: opened, settled
    assert sorted(s for _, s in waiting_rows(tmp_path / "o.sqlite")) == [2, 3, 4, 5]
    assert [e.seq for e in box.pending()] == [2, 3, 4, 5] and box.depth == 4
    box.close()
