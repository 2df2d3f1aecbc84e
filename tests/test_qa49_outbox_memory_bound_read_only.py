"""The outbox's memory bound on a read-only state dir: what its file keeps is left there, not dropped (qa49).

review42's degraded start reads the outbox's waiting events from the read-only file and holds them in memory with the
new ones, at most `outbox.max_events`. Past the bound the oldest held went, whatever they were: the file's own events
first — counted as dropped (`max_events`), unsaid in the log, and deleted from the file once it opened (as if the
broker had them), so a broker back after the disk never got them, though the file had kept them all along (and at a
stop still read-only, the next start sent the events counted as dropped after all). Now the file's events are left
to it (said once, and in health's outbox depth) and go out once it opens; only the events held in memory alone are
dropped — ended alerts' and fault events first, as the stored outbox's bound — counted and said, naming them.

All real: an agent process, Mosquitto on a free port, a subscriber, and the kernel's EROFS from a read-only bind mount
in a user and mount namespace of our own (`unshare -rm`; skipped where this host allows none).
"""
from __future__ import annotations

import os
import signal

from conftest import REPO, pump_agent_config, wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture
from read_only_mount import (ReadOnlyRun, healths, published, ro_capable,  # noqa: F401 — ro_capable: a pytest fixture
                             first_life_waiting, stop_in_namespace, waiting_rows)

WAITING = 10            # the events the first life leaves in the file (its max_events, the least it takes)
MAX_EVENTS = 20         # the second life's




def test_a_full_memory_leaves_the_read_only_files_events_to_it_and_drops_only_its_own_said(tmp_path, ro_capable,
                                                                                          make_broker):
    broker = make_broker(start=False)          # nothing listening: the events wait, first in the file, then in memory
    sinks = [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port}, "health_interval_s": 1,
              "outbox": {"max_events": WAITING}}]
    cfg = pump_agent_config(tmp_path, sinks, speed=50.0)
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    waiting = first_life_waiting(tmp_path, cfg, env)
    assert len(waiting) == WAITING
    # The second life holds twice as many in memory: once the broker has the new ones, the file's fit beside them.
    cfg.write_text(cfg.read_text().replace(f"max_events: {WAITING}", f"max_events: {MAX_EVENTS}"))

    run = ReadOnlyRun(tmp_path, state, cfg, env)
    proc, flag, pid_file, err_file = run.proc, run.flag, run.pid_file, run.err_file
    sub = None

    def log() -> str:
        return err_file.read_text() if err_file.exists() else ""

    try:
        # read-only, the broker away: the new events fill memory past the bound
        wait_for(lambda: "are left in it (not dropped" in log(), "the file's events left to it, said",
                 300, proc)
        wait_for(lambda: "held in memory alone" in log(), "a drop of events held in memory, said",
                 300, proc)
        said = next(line for line in err_file.read_text().splitlines() if "held in memory alone" in line)
        assert f"outbox max_events {MAX_EVENTS} reached: dropped" in said and "#" in said, said      # which events
        broker.start()
        sub = Collector(broker.port, ["stad/#"])
        sub.wait_subscribed()
        # the broker back, the disk still read-only: memory's events go out; the file's wait in it, counted in depth
        read_only = wait_for(lambda: [h for h in healths(sub) if h.get("state_dir_problem") and h["outbox"]["held"] < 3
                                      and h["outbox"]["dropped"].get("max_events")],
                             "a read-only health with the drops counted, memory's events sent", 300, proc)
        assert read_only[-1]["outbox"]["depth"] >= WAITING, read_only[-1]["outbox"]
        flag.touch()                            # the disk is writable again
        wait_for(lambda: "is writable again" in log(), "the recovery said", 120, proc)
        # On ad79f86d: the file's events dropped from memory were deleted from it at the recovery — never sent.
        wait_for(lambda: waiting <= published(sub), "every event the read-only file held, sent after the recovery",
                 180, proc)
        wait_for(lambda: not (waiting & waiting_rows(state / "mqtt-outbox.sqlite")),
                 "the file's events acknowledged and deleted", 120, proc)
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, err_file.read_text()[-3000:]
    finally:
        stop_in_namespace(proc, pid_file)
        if sub is not None:
            sub.close()
    err = err_file.read_text()
    assert "events dropped this run: mqtt:" in err and "max_events" in err.split("summary:")[-1], err[-2000:]
