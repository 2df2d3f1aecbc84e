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

import yaml

from agent.resume import ALIVE_S
from conftest import wait_for
from restart_helpers import AgentProcess, resumed_run
from silence_feed import STEPS, TICK, WARMUP, alive_at, events, line, seconds, send

CHECKPOINT_S = 20.0
AFTER_CHECKPOINT_S = 10.0


def test_a_kill_in_a_silence_counts_at_most_alive_s_of_it_as_downtime(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "node": {"id": "gw-k", "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": ["a", "b"],
        "sources": [{"type": "stdin"}],
        "window": {"steps": STEPS, "carry_forward_s": 2 * TICK, "lateness_ticks": 1},
        "warmup": {"ticks": WARMUP}, "scoring": {"chain": ["numpy"]},
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 400, "cooldown_ticks": 2, "update_interval_s": 1},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": CHECKPOINT_S}))
    checkpoint = tmp_path / "state" / "checkpoint.bin"
    first = AgentProcess(tmp_path, cfg, "run1")
    try:
        first.ready()
        start = time.time() - (WARMUP + 10) * TICK
        first.feed([line(start + i * TICK) for i in range(WARMUP + 10)])      # the backlog, at once
        send(first, 12)
        last = send(first, 16, step=8.0)[-1]        # then the sender falls silent
        wait_for(lambda: [e for e in events(tmp_path) if e["kind"] == "alert" and e["event"] == "new"],
                 "the alert opened by the step", 60, first.proc)
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
