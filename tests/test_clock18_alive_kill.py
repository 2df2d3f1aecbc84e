"""After a kill -9 in a sender's silence, at most ALIVE_S (agent/resume.py) of the silence's end is
taken for the agent's downtime, not up to `checkpoint_s`: the sign of life (`alive.json`) is written
every ALIVE_S while the sources are silent, and the checkpoint once when they fall silent after it.

A real agent on stdin (tests/restart_helpers.py; 0.25-s ticks stamped with this host's clock) with
`checkpoint_s` 20: data, an alert, then silence; the kill comes 10 s after the checkpoint that holds
the silence's start (the file read, then the silence goes on: the input). On the code before, the
only sign of life after that checkpoint was due 20 s later: the restart gap started at the
checkpoint, 10.4 s before the kill (measured), and those 10 s of the silence were counted as downtime;
now 4.96 s before it (alive.json written 4.49 s before the kill).
"""
from __future__ import annotations

import threading
import time

from agent.resume import ALIVE_S
from conftest import wait_for
from restart_helpers import AgentProcess, resumed_run
from silence_feed import TICK, alert_then_silence, alive_at, seconds, send, write_config

CHECKPOINT_S = 20.0
AFTER_CHECKPOINT_S = 10.0


def test_a_kill_in_a_silence_counts_at_most_alive_s_of_it_as_downtime(tmp_path):
    cfg = write_config(tmp_path, "gw-k", CHECKPOINT_S)
    checkpoint = tmp_path / "state" / "checkpoint.bin"
    first = AgentProcess(tmp_path, cfg, "run1")
    try:
        first.ready()
        last = alert_then_silence(first, tmp_path)
        # A checkpoint written in the silence holds its start (on the old code, on the 20-s cadence).
        wait_for(lambda: checkpoint.exists() and checkpoint.stat().st_mtime > last + 2 * TICK,
                 "a checkpoint written in the silence", 60, first.proc)
        written = checkpoint.stat().st_mtime
        threading.Event().wait(max(0.0, written + AFTER_CHECKPOINT_S - time.time()))   # the silence goes on
        down = time.time()
        first.kill()
        alive = alive_at(tmp_path)      # 0.0: none written
    finally:
        if first.proc.poll() is None:
            first.kill()
    first_new, err, said = resumed_run(tmp_path, cfg,
                                       lambda second: (send(second, 12, step=8.0)[0], send(second, 8))[0])
    gap_from, gap_to = (seconds(s) for s in said)
    print(f"gap starts {down - gap_from:.2f} s before the kill; alive.json {down - alive:.2f} s before it")
    slack = 3 * TICK + 1.5          # a tick's closing, and the loop's turn (0.5 s) on a loaded machine
    # Old code: gap_from ≈ the checkpoint's time, AFTER_CHECKPOINT_S before the kill.
    assert down - ALIVE_S - slack <= gap_from <= down + TICK, (down - gap_from, down - written, err[-3000:])
    assert abs(gap_to - first_new) <= 2 * TICK, (gap_to, first_new)
    assert down - ALIVE_S - slack <= alive <= down, (alive, down)
