"""A restart during a sender's silence: the silence is the source's, the restart gap the agent's
downtime (clock17; clock16's tests/test_restart_gap_held.py and test_restart_gap_kill.py cover a
record back from the silence held at the kill).

A real agent on stdin (stamps from this host's clock, a tick of 0.25 s, no wall-clock flush:
`window.idle_flush_s` 0, its default) sees data, an alert opens, then the sender falls silent
while the agent runs. No tick closes in a silence, so no checkpoint was written in it: the old
code resumed from the last tick before the silence and took the silence and the downtime together
as the restart gap — no sensor missing for the silence, and the open alert's `gap_s` (and the
restart gap on health and in the log) the silence plus the downtime. Now the agent leaves a sign
of life while silent (`alive.json`, on the checkpoint's cadence; the checkpoint's own time at a
clean stop): the next start closes the silence as missing ticks, as the running agent would have
on the sender's return, and the restart gap is the downtime after it.

The warm-up's rows come at once, stamped in the last half minute (a sender's backlog at connect),
so the test does not wait a warm-up out; the silence and the downtime are real seconds (the
agent's clock is this host's), waited as the input, and the kill comes once the agent has said
it was alive late in the silence (the file read, not a fixed wait)."""
from __future__ import annotations

import threading
import time

import pytest

from conftest import wait_for
from restart_helpers import AgentProcess, resumed_run
from silence_feed import TICK, alert_then_silence, alive_at, events, seconds, send, write_config

SILENCE_S = 6.0

@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_a_restart_during_a_silence_skips_the_downtime_and_reports_the_silence(tmp_path, stop):
    cfg = write_config(tmp_path, "gw-s", 1)
    first = AgentProcess(tmp_path, cfg, "run1")
    try:
        first.ready()
        last = alert_then_silence(first, tmp_path)
        threading.Event().wait(SILENCE_S)       # the sender silent: the input
        if stop == "SIGTERM":
            down = time.time()
            assert first.terminate() == 0
        else:
            wait_for(lambda: alive_at(tmp_path) >= last + SILENCE_S - 1.0,
                     "a sign of life written late in the silence", 30, first.proc)
            down = time.time()
            first.kill()
        gone = time.time()              # the stop's end (a SIGTERM's stop takes a moment)
    finally:
        if first.proc.poll() is None:
            first.kill()
    [alert] = [e for e in events(tmp_path) if e["kind"] == "alert" and e["event"] == "new"]
    before = len(events(tmp_path))
    first_new, err, said = resumed_run(tmp_path, cfg,
                                       lambda second: (send(second, 12, step=8.0)[0], send(second, 8))[0])
    gap_from, gap_to = (seconds(s) for s in said)
    # The gap starts where the last run was last known alive (old code: the last record before the
    # silence, SILENCE_S earlier) and ends at the first new data: the downtime, within a tick and
    # (after a kill) the checkpoint's cadence of the sign of life.
    slack = 3 * TICK + (1.0 if stop == "SIGKILL" else 0.0)
    assert down - slack <= gap_from <= gone + TICK, (gap_from - last, down - last, gone - last, err[-3000:])
    assert abs(gap_to - first_new) <= 2 * TICK, (gap_to, first_new)
    after = events(tmp_path)[before:]
    # The silence is the source's: its sensors missing in it, told as one `source` fault (old code:
    # nothing missing, skipped).
    raised = [e for e in after if e["kind"] == "source" and e["event"] == "fault"]
    assert [sorted(e["sensors"]) for e in raised] == [["a", "b"]], after
    assert all(last < seconds(e["ts"]) < last + SILENCE_S for e in raised), (raised, last)
    # The alert goes on under its id; its first event after the restart says the downtime (old code:
    # the silence and the downtime).
    ours = [e for e in after if e["kind"] == "alert"]
    assert {e["alert_id"] for e in ours} == {alert["alert_id"]}, ours
    resumed = [e for e in ours if e["gap_s"] is not None]
    assert resumed and resumed[0]["reason"] != "restart", ours
    assert resumed[0]["gap_s"] <= first_new - down + slack + TICK, (resumed[0]["gap_s"], first_new - down)
    assert "time base moved" not in err, err[-3000:]
