"""A restart while the window still refills — after a warm-up on a recording, or after a restart gap longer than the
window — says so at its first tick, not that the gap was longer than the window (user27: a roadside agent stopped
17 ticks after its warm-up on `warmup.replay`, started again 13 s later: `first tick …: the gap since the
checkpoint's last tick was longer than the window; the window refills for 14 more tick(s)` after a gap of one tick).

A real `agent run` on stdin (tests/stepped_device.py's device on a 0.25-s cadence, a 16-tick window): the first life
warms up and is stopped; the second starts after a downtime longer than the window (its refill begins: the gap's
words) and is stopped (SIGTERM, as `systemctl restart`) during the refill; the third starts at once on the device's
buffered ticks — a short restart whose refill the checkpoint carried —, and its refill's end is said."""
from __future__ import annotations

import re
import time

from restart_helpers import AgentProcess
from silence_feed import TICK
from stepped_device import STEPS, Sender, warmed_up, write_config


def test_a_restart_during_the_refill_says_the_refill_was_carried_not_a_long_gap(tmp_path):
    cfg = write_config(tmp_path, clear_ticks=8)
    first = AgentProcess(tmp_path, cfg, "run1")
    try:
        warmed_up(first)
        first.wait_log(r"warm-up done")
        assert first.terminate() == 0
    finally:
        if first.proc.poll() is None:
            first.kill()
    # A device that did not buffer, silent past the window: its next tick STEPS + 4 ticks after the stop's.
    device = Sender(int(time.time() / TICK) + STEPS + 4)
    second = AgentProcess(tmp_path, cfg, "run2")
    try:
        assert "resumed from checkpoint" in second.ready()
        device.send(second, 12)                 # (ticks close 8 ticks late: lateness_ticks; the rest at the stop)
        said = second.wait_log(r"first tick \S+: (.*?); the window refills for (\d+) more").group(1)
        assert "was longer than the window" in said, said
        assert second.terminate() == 0
    finally:
        if second.proc.poll() is None:
            second.kill()
    third = AgentProcess(tmp_path, cfg, "run3")
    try:
        assert "resumed from checkpoint" in third.ready()
        device.send(third, STEPS + 4)           # the ticks it owes first (buffered: no gap), then on its cadence
        found = third.wait_log(r"first tick \S+: (.*?); the window refills for (\d+) more")
        assert third.finish() == 0
    finally:
        if third.proc.poll() is None:
            third.kill()
    assert found.group(1).startswith("the window was still refilling when the last run stopped ("), \
        (found.group(0), third.stderr()[-2000:])
    assert "longer than the window" not in found.group(1)
    # the refill's end is said: the journal said nothing between "refills for N more" and the next event
    assert re.search(r"tick \S+: the window is refilled; scoring with tier numpy \(score [\d.]+, threshold [\d.]+\)",
                     third.stderr()), third.stderr()[-2000:]
