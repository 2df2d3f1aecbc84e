"""A quiet gateway whose read-only state dir mends: the events acknowledged meanwhile leave the outbox (qa48).

review42's degraded start reads the outbox's waiting events from the read-only file and sends them from memory; the
file was opened again (and the acknowledged rows deleted) only by the next alert or fault event. A gateway with
nothing to report after the disk mended stopped with every one of them still in the file — the next start sent them
all again, as replays the control room had already had — and its health said the outbox read-only until then. Now
the file is opened by the next health snapshot after the directory is writable, and at the stop.

All real: an agent process, Mosquitto, a subscriber, and the kernel's EROFS from a read-only bind mount in a user
and mount namespace of our own (`unshare -rm`, as tests/test_review42_read_only_state_dir.py; skipped where this host
allows none). The second life reads an idle UDP socket: no new event comes.
"""
from __future__ import annotations

import os
import signal

import yaml

from conftest import REPO, pump_agent_config, wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture
from read_only_mount import (ReadOnlyRun, healths, published, ro_capable,  # noqa: F401 — ro_capable: a pytest fixture
                             first_life_waiting, stop_in_namespace, waiting_rows)




def test_a_quiet_agent_deletes_the_events_acknowledged_while_read_only_once_writable(tmp_path, ro_capable,
                                                                                      make_broker):
    broker = make_broker(start=False)          # nothing listening yet: the first life's events wait in the outbox
    sinks = [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port}, "health_interval_s": 1}]
    cfg = pump_agent_config(tmp_path, sinks)
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    waiting = first_life_waiting(tmp_path, cfg, env)
    assert len(waiting) >= 5

    quiet = yaml.safe_load(cfg.read_text())
    quiet["sources"] = [{"type": "udp", "bind": "127.0.0.1", "port": 0}]        # nobody sends: no new event
    cfg.write_text(yaml.safe_dump(quiet, sort_keys=False))
    broker.start()
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()
    run = ReadOnlyRun(tmp_path, state, cfg, env)
    proc, flag, pid_file, err_file = run.proc, run.flag, run.pid_file, run.err_file
    try:
        wait_for(lambda: waiting <= published(sub, replayed=True), "the waiting events, sent from the read-only file",
                 300, proc)
        wait_for(lambda: any(h.get("state_dir_problem") and h["outbox"]["held"] == 0 for h in healths(sub)),
                 "a read-only health with every event acknowledged (none held)", 120, proc)
        assert waiting_rows(state / "mqtt-outbox.sqlite") == waiting       # the file untouched meanwhile
        flag.touch()                            # the disk is writable again; still no event comes
        wait_for(lambda: "is writable again" in err_file.read_text(), "the recovery said", 120, proc)
        seen = len(healths(sub))
        wait_for(lambda: any(h.get("state_dir_problem") is None for h in healths(sub)[seen:]),
                 "a health without state_dir_problem", 120, proc)
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, err_file.read_text()[-3000:]
    finally:
        stop_in_namespace(proc, pid_file)
        sub.close()
    # On review42's code: every acknowledged event still in the file (the next start sends them all again).
    assert waiting_rows(state / "mqtt-outbox.sqlite") == set(), err_file.read_text()[-2000:]
    assert healths(sub)[-1]["outbox"]["problem"] is None
