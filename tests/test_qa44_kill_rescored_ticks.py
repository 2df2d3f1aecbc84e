"""What a subscriber sees when a restart scores again ticks the killed run had scored after its checkpoint (qa42's
finding; qa44 measured it).

qa42's path: the sender stalls as a checkpoint falls due and the checkpoint is written in the stall (alive, every
record taken, the sender silent) or as the record back arrives (held for confirmation). The restore closes that
stall and the checkpoint's open ticks, and the restart scores them before the first new data
(`Agent._step_restored`): ticks the killed run had scored. Here an alert opens on a step before the stall (the
checkpoint holds it open), the step goes on after it; then:
- `ended`: the step ends and the alert with it (`end`, cleared) before the kill -9 — after the checkpoint, so the
  alert journal is newer than it and the restart restores the ended alert. The restored ticks, the step on in the
  first of them, judged from that state would open a second alert under a new id for the step the killed run had
  paged; they are scored and learned from, not judged (resume.py `_judged_until`): nothing sent for them.
- `open`: the kill with the alert still open; the restore judges those ticks from the checkpoint's state (nothing
  newer journaled), as the killed run had, and sends nothing for them; the alert goes on under its id and ends
  (the step gone: `no_data` here, its driver silent in the restored stall for the window's length).
A subscriber gets each alert event once, one `new` per incident, seqs consecutive. So no defect a subscriber sees
on this path on main (qa44's measurement, with real processes too: its note); here so that it stays so — with
`_judged_until` made a no-op the `ended` case pages a second alert (checked by hand in qa44's round).

A real agent on a real state_dir driven turn by turn (tests/agent_turns.py; the kill -9 is a second agent on the
state_dir the first was abandoned on), the stalls as tests/test_qa42_refill_after_restored.py makes them.
"""
from __future__ import annotations

import os

import pytest

from agent import config
from agent.alerts import iso
from agent.service import Agent
from agent_turns import HOST as T0, alert_events as alerts, close as killed, host_clock, record as stepped, turn

STEP = range(52, 64)            # `a` + 8: the alert opens at its second tick, goes on through the stall
SILENCE = range(56, 62)         # the sender silent; the checkpoint written in it, at 61.5
HELD = range(56, 60)            # or silent 4 s and the checkpoint written as row 60 comes back, held
KILLED = {"ended": 90, "open": 63}   # the last row of the first life: the alert ended (row ~80) or open
BACK = 110                      # the first new data: the restart gap longer than the window


def agent_config(tmp_path):
    return config.from_dict({
        "sensors": ["a", "b"], "tick_s": 1.0, "topology": "group",
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
        "window": {"steps": 16, "carry_forward_s": 2, "lateness_ticks": 1},
        "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]},
        "threshold": {"min_threshold": 10.0},       # over every normal tick's score, under the step's
        # no `missing` / `source` fault for the 6-s stall: one open at the kill masks the sensors on the ticks the
        # restart scores again (their score 0: no alert could open there, the case would test nothing)
        "faults": {"missing_s": 10},
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 4, "cooldown_ticks": 2, "update_interval_s": 3600},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state"), "checkpoint_s": 3600}, base_dir=str(tmp_path))


def row(agent: Agent, i: int) -> None:
    """Row i, stamped on this host's clock by the sender, received 50 ms on; `a` + 8 in STEP."""
    turn(agent, stepped(i, T0, step=8.0 if i in STEP else 0.0))


def first_life(tmp_path, stall: str, last: int) -> None:
    first = Agent(agent_config(tmp_path), clock=host_clock(T0))
    silent = SILENCE if stall == "silent" else HELD
    for i in range(last + 1):
        if i in silent:
            if stall == "silent" and i == silent[-1]:
                first.clock.now = T0 + i + 0.5
                assert first.save_checkpoint() is not None      # alive, every record taken, the sender silent
            continue
        row(first, i)
        if stall == "held" and i == silent[-1] + 1:
            assert [c.lo for c in first.aligner.held] == [int(T0) + i]
            assert first.save_checkpoint() is not None
    first._touch_alive()                # (alive.json's time of change, on the test's clock: up until the kill)
    os.utime(first._alive_path, (first.clock.now, first.clock.now))
    killed(first)


@pytest.mark.parametrize("stall", ["silent", "held"])
@pytest.mark.parametrize("at_kill", ["ended", "open"])
def test_ticks_the_restore_scores_again_send_nothing_the_killed_run_sent(tmp_path, caplog, stall, at_kill):
    first_life(tmp_path, stall, KILLED[at_kill])
    told = alerts(tmp_path)
    assert [e["event"] for e in told] == (["new", "end"] if at_kill == "ended" else ["new"]), told
    assert told[0]["ts"] < iso(T0 + SILENCE.start)                  # (opened before the stall: in the checkpoint)
    caplog.set_level("INFO", logger="stad")
    again = Agent(agent_config(tmp_path), clock=host_clock(T0 + BACK))
    try:
        assert again.checkpoint_start["state"] == "resumed"
        for i in range(BACK, BACK + 40):
            row(again, i)
    finally:
        killed(again)
    said = [r.getMessage() for r in caplog.records]
    # The restart scored ticks of the step again, before its first new data (the step on, the score over 10).
    first_tick = next(m for m in said if m.startswith("first tick "))
    assert first_tick.startswith(f"first tick {iso(T0 + STEP.start + 2)}: scored by numpy (score "), first_tick
    assert float(first_tick.split("(score ")[1].split(",")[0]) > 10.0, first_tick
    sent = alerts(tmp_path)
    assert sent[:len(told)] == told
    after = [(e["alert_id"], e["seq"], e["event"]) for e in sent[len(told):]]
    assert after == ([] if at_kill == "ended" else [(told[0]["alert_id"], 1, "end")]), after
