"""A restart whose first ticks are the last run's data the restore closed still says why its window refills (qa42).

test_qa41_kill_gap_words failed once in a full-suite run: the resumed agent's `first tick` line named a tick 14 s
before the restart, `scored by numpy`, and the refill's reason (`the restart gap (…) was longer than the window; the
window refills …`) was never logged. The cause: the first life's sender stalled a second or more as a checkpoint fell
due, and the checkpoint was written in the stall (`alive_at`: alive, every record taken, its sources silent — what a
real-process run with such a stall showed, qa42's note) or as the record back arrived, held for confirmation
(tests/test_restart_gap_held.py). At the restore that silence (Aligner.silent_until), or that record and the ticks
before it, are the last run's (Aligner.restored_rows), stepped before the first new record — scored, the window not
yet refilling — so the first tick's line said so; the first new data then found the restart gap longer than the
window and the refill began with no line. Now the refill's reason is logged at the tick it starts, whichever tick the
first-tick line named.

A real agent on a real state_dir driven turn by turn (Agent._intake, the run loop's body) on a clock the test sets;
the kill -9 is a second agent started on the state_dir the first was abandoned on (no stop, no final checkpoint).
"""
from __future__ import annotations

import logging
import os
import re
import time

import pytest

from agent import config
from agent.alerts import iso
from agent.records import Record
from agent.service import Agent

T0 = float(int(time.time()) - 1000)
STEPS = 16
CHECKPOINT = 60                 # the checkpoint written at row 60
STALL = range(56, 60)           # the sender silent 4 s before it: row 60 back on time, held for confirmation
SILENCE = range(56, 62)         # or silent 6 s, the checkpoint written in it (a silence longer than a short step)
KILLED = 72                     # the last row of the first life
BACK = 100                      # the first new data: 40 s of ticks since the checkpoint, longer than the window
REFILL = re.compile(r"the restart gap \(\d+ s of ticks since the checkpoint's last tick: the agent down \d+ s, about "
                    r"\d+ s scored after the checkpoint and lost with the stop\) was longer than the window; the "
                    r"window refills")


def agent_config(tmp_path):
    return config.from_dict({
        "sensors": ["a", "b"], "tick_s": 1.0, "topology": "group",
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
        "window": {"steps": STEPS, "carry_forward_s": 2, "lateness_ticks": 1},
        "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]},
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 60, "cooldown_ticks": 2, "update_interval_s": 5},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state"), "checkpoint_s": 3600}, base_dir=str(tmp_path))


def record(i: int) -> Record:
    """Row i, stamped by the sender, received 50 ms later."""
    return Record(ts=T0 + i, values={"a": 10 + (i * 7919 % 13) / 13, "b": 5 + (i * 104729 % 17) / 17},
                  origin="udp", received=T0 + i + 0.05)


class Clock:
    """This host's clock as the test sets it (`Agent(clock=)`)."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def turn(agent: Agent, i: int) -> None:
    agent.clock.now = T0 + i + 0.05
    agent._intake(record(i), None)      # as the run loop passes it (window.idle_flush_s 0)


def killed(agent: Agent) -> None:
    for src in agent.sources:
        src.close()
    agent.state_lock.release()          # the kernel's part of a kill -9: the next start may lock state_dir


def first_life(tmp_path, stall: str | None) -> None:
    """Rows 0-72, a checkpoint at row 60 (`stall` None), or with the sender silent at rows 56-59 and the checkpoint
    written as row 60 comes back, held for confirmation ("held"), or silent at rows 56-61 and the checkpoint written
    in the silence, at 61.5 ("silent")."""
    first = Agent(agent_config(tmp_path), clock=Clock(T0))
    for i in range(KILLED + 1):
        if (stall == "held" and i in STALL) or (stall == "silent" and i in SILENCE):
            if stall == "silent" and i == SILENCE[-1]:
                first.clock.now = T0 + i + 0.5
                assert first.save_checkpoint() is not None      # alive, every record taken, the sender silent
            continue
        turn(first, i)
        if i == CHECKPOINT and stall != "silent":
            assert [c.lo for c in first.aligner.held] == ([int(T0) + CHECKPOINT] if stall else [])
            assert first.save_checkpoint() is not None
    # alive.json's time of change, moved every ALIVE_S while live data flows (agent/alive.py `_touch_alive`), on the
    # test's clock: the last run was up until row 72, 12 s scored past its checkpoint and lost with the kill
    first._touch_alive()
    os.utime(first._alive_path, (first.clock.now, first.clock.now))
    killed(first)


def resumed_lines(tmp_path, caplog) -> tuple[list[str], Agent]:
    caplog.set_level(logging.INFO, logger="stad")
    again = Agent(agent_config(tmp_path), clock=Clock(T0 + BACK))
    try:
        assert again.checkpoint_start["state"] == "resumed"
        for i in range(BACK, BACK + 8):
            turn(again, i)
    finally:
        killed(again)
    return [r.getMessage() for r in caplog.records if r.name.startswith("stad")], again


# (the refill's first row, the refill's ticks still to go after it, this start's ticks scored before it): "held",
# row 59, closed with the new data as 60 is (in the window, not counted: 16 to go); "silent", the first new data
# (the restore closed every tick up to it; it counts: 15 to go)
@pytest.mark.parametrize("stall, refill_row, more, scored", [("held", CHECKPOINT - 1, 16, 5), ("silent", BACK, 15, 7)])
def test_the_refill_is_said_at_its_first_tick_after_the_restored_ticks_were_scored(tmp_path, caplog, stall,
                                                                                  refill_row, more, scored):
    first_life(tmp_path, stall)
    said, again = resumed_lines(tmp_path, caplog)
    # this start's first tick is the last run's: row 54, open at the checkpoint (lateness 1: 54 and 55 open, 56-59
    # the sender's silence) — the restore takes row 60, held, as that run's data back and closes 54-58 before it
    # ("held"), or closes 54-60, the silence the checkpoint said it was alive through up to 61.5 ("silent"), stepped
    # (scored) before the first new record
    first = [m for m in said if m.startswith("first tick ")]
    assert len(first) == 1 and first[0].startswith(f"first tick {iso(T0 + STALL.start - 2)}: scored by numpy"), first
    assert again.aligner.restart_gaps == 1 and again._gap_refill
    # then the window refills for the restart's gap, and says why at its first tick — before, no line said it
    refill = [m for m in said if REFILL.search(m)]
    assert len(refill) == 1, said
    assert refill[0].startswith(f"tick {iso(T0 + refill_row)}: the restart gap "), refill
    assert f"the window refills from this tick for {more} more tick(s) before the first score (this start's first " \
           f"{scored} tick(s), the last run's ticks its restore closed, were scored before it)" in refill[0], refill
    assert said.index(refill[0]) > said.index(first[0])


def test_a_restart_whose_first_tick_starts_the_refill_says_it_once_there(tmp_path, caplog):
    """No stall: the checkpoint's open ticks close with the first new data, the refill's first tick is this
    start's first: its line says the reason, and no second line does."""
    first_life(tmp_path, stall=None)
    said, again = resumed_lines(tmp_path, caplog)
    refill = [m for m in said if REFILL.search(m)]
    assert len(refill) == 1 and refill[0].startswith(f"first tick {iso(T0 + CHECKPOINT - 1)}: the restart gap "), said
