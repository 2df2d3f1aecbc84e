"""A restart that restores live data held back after a silence judges the downtime, not the silence
(clock16, found by review14).

A sender silent for 30 s comes back on time; its first record back is held until more confirm it
(agent/timebase.py: live data back after a silence is no move, but one record is not yet proof).
A checkpoint written then keeps it (review14), and a kill -9 before the confirmation restored it
as a candidate the new data joined: the restart gap was skipped from the checkpoint's last tick up
to that record — the silence the last run lived through counted as the agent's downtime — and the
real downtime, between that record and the first new data, closed as missing ticks: every sensor a
`missing` fault raised after the restart for ticks the agent never ran, and an alert open across it
ended `restart` with `gap_s: 44.0` (silence + downtime, longer than the window) and opened again
under a new id, where 12 s of downtime (shorter than the window) continues it. Now that record is
taken at the restore as the last run's own data: the silence closes as missing ticks, as it would
have, and the restart gap is the downtime after it.

A real agent on a real state_dir driven turn by turn (Agent._intake, the run loop's body) on a
clock the test sets (`Agent(clock=)`: the checkpoint says when on it the agent was last alive);
the kill -9 is a second agent started on the state_dir the first was abandoned on (no stop, no
final checkpoint)."""
from __future__ import annotations

import json
import logging
import time

import pytest

from agent import config
from agent.alerts import iso
from agent.records import Record, Rejects
from agent.resume import ALIVE_FILE
from agent.service import Agent
from agent.window import Aligner
from conftest import through_file

T0 = float(int(time.time()) - 1000)
STEPS = 16
SILENT = range(80, 110)         # the sender silent 30 s; back on time at 110
BACK = 110


def agent_config(tmp_path, idle_flush_s: float = 0.0, window: dict | None = None, **more):
    return config.from_dict({**more,
        "sensors": ["a", "b"], "tick_s": 1.0, "topology": "group",
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
        "window": {"steps": STEPS, "carry_forward_s": 2, "lateness_ticks": 1, "idle_flush_s": idle_flush_s,
                   **(window or {})},
        "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]},
        # (the alert open across the 30-s silence: neither its calm nor its silence, longer than the window, ends it)
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 60, "cooldown_ticks": 2, "update_interval_s": 5,
                   "no_data_ticks": 120},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state"), "checkpoint_s": 3600}, base_dir=str(tmp_path))


def record(i: int, step: float = 0.0) -> Record:
    """Row i, stamped by the sender, received 50 ms later; a step of +8 on `a` when `step`."""
    values = {"a": 10 + (i * 7919 % 13) / 13 + step, "b": 5 + (i * 104729 % 17) / 17}
    return Record(ts=T0 + i, values=values, origin="udp", received=T0 + i + 0.05)


class Clock:
    """This host's clock as the test sets it, given to the agent (`Agent(clock=)`): each turn's `now`."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def turn(agent: Agent, rec: Record | None, now: float) -> None:
    agent.clock.now = now
    agent._intake(rec, now if agent.cfg.window.idle_flush_s > 0 else None)     # as the run loop passes it


def close(agent: Agent) -> None:
    for src in agent.sources:
        src.close()
    agent.state_lock.release()          # the kernel's part of a kill -9: the next start may lock state_dir


def first_life(tmp_path, then: range = range(0), **more) -> Agent:
    """Rows 0–79 (a step on `a` from 70: an alert opens), 30 s of silence, row 110 back on time and
    held; the checkpoint written at that turn (checkpoint_s fell due there) holds it; rows `then`
    (the step going on, `b` wild) before the kill."""
    first = Agent(agent_config(tmp_path, **more), clock=Clock(T0))
    for i in range(BACK - len(SILENT)):
        turn(first, record(i, 8.0 if i >= 70 else 0.0), T0 + i + 0.05)
        if i == 75:
            first.save_checkpoint()     # the last one before the silence: ticks close after it
    turn(first, record(BACK, 8.0), T0 + BACK + 0.05)
    assert [c.lo for c in first.aligner.held] == [int(T0) + BACK]
    assert first.save_checkpoint() is not None
    for i in then:
        rec = record(i, 8.0)
        rec.values["b"] += 60.0 if i % 2 else 0.0       # `b` wild too: the alert's top sensors change, updated
        turn(first, rec, T0 + i + 0.05)
    close(first)                        # kill -9: no stop, no final checkpoint
    return first


def events(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]


def test_the_restart_gap_is_the_downtime_after_the_held_record_not_the_silence_before_it(tmp_path, caplog):
    first_life(tmp_path)
    before = len(events(tmp_path))
    [alert] = [e for e in events(tmp_path) if e["kind"] == "alert" and e["event"] == "new"]
    caplog.set_level(logging.INFO, logger="stad")
    again = Agent(agent_config(tmp_path), clock=Clock(T0 + BACK + 12))      # up again 12 s after row 110
    try:
        assert again.checkpoint_start["state"] == "resumed"
        for i in range(BACK + 12, BACK + 160):      # (judged on readings again from row 202: 60 calm ticks end it)
            turn(again, record(i, 8.0 if i < BACK + 30 else 0.0), T0 + i + 0.05)
    finally:
        close(again)
    # The restart gap: from row 110 to the first new data, 11 ticks not run (old code: from row 79
    # to row 110, the silence, 30 ticks).
    gap = again.aligner.last_restart_gap
    assert again.aligner.restart_gaps == 1 and gap["skipped_s"] == 11.0, gap
    assert (gap["from"], gap["to"]) == (iso(T0 + BACK), iso(T0 + BACK + 12)), gap
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("restart gap: ")]
    assert len(said) == 1 and said[0].startswith("restart gap: +12 s "), said
    assert not again.aligner.moves
    after = events(tmp_path)[before:]
    # The silence is missing, as it would have been had the agent run on; the downtime is not (old
    # code: the faults raised at row 113, in the downtime). Every sensor of the feed silent together:
    # one `source` fault naming them (agent/faults/source.py), no `missing` per sensor.
    raised = [e for e in after if e["kind"] == "source" and e["event"] == "fault"]
    assert [sorted(e["sensors"]) for e in raised] == [["a", "b"]], after
    assert not [e for e in after if e["kind"] == "missing"], after
    assert all(iso(T0 + SILENT.start) < e["ts"] < iso(T0 + BACK) for e in raised), raised
    # The alert goes on under its id: its first event after the restart says 13 s unseen (ticks 109,
    # 110 were open, 111–121 not run); old code: `end`, reason restart, gap_s 44.0, then a new alert.
    ours = [e for e in after if e["kind"] == "alert"]
    assert {e["alert_id"] for e in ours} == {alert["alert_id"]}, ours
    resumed = [e for e in ours if e["gap_s"] is not None]
    assert resumed and resumed[0]["gap_s"] == 13.0 and resumed[0]["reason"] != "restart", ours


def test_a_journal_newer_than_the_held_record_keeps_the_restarts_resume_point(tmp_path):
    """The held record confirmed after the checkpoint and the alert updated at row 126 (its journal:
    ticks the last run judged) before a kill -9 with no checkpoint since: the restore's rows end at
    row 110, the journal's ticks after them. The resume point stays at the journal's (clock16-guard):
    the alert goes on, its next event to say the 9 s since its last one. Old
    code moved the resume point back to row 110: `gap_s` 25.0, longer than the window, ended the
    alert (`restart`) and opened another for the same incident. The window refills all the same:
    what the state holds is from before those 25 ticks."""
    quick = {"faults": {"clear_s": 1}}      # the sensors back from the silence are scored again at once
    first_life(tmp_path, then=range(BACK + 1, BACK + 20), **quick)
    [alert] = [e for e in events(tmp_path) if e["kind"] == "alert" and e["event"] == "new"]
    last = [e for e in events(tmp_path) if e["kind"] == "alert"][-1]
    assert last["event"] == "update" and last["ts"] == iso(T0 + BACK + 16), last      # journaled there
    before = len(events(tmp_path))
    again = Agent(agent_config(tmp_path, **quick), clock=Clock(T0 + BACK + 26))
    try:
        assert again.checkpoint_start["state"] == "resumed"
        for i in range(BACK + 26, BACK + 30):
            turn(again, record(i, 8.0), T0 + i + 0.05)
    finally:
        close(again)
    # Its next event (at the first tick above the threshold again) says the 9 s; no `restart` end.
    # Nor the silence's `missing` faults told again: the fault journal told them after the checkpoint.
    assert not [e for e in events(tmp_path)[before:] if e["kind"] in ("alert", "missing")], events(tmp_path)[before:]
    still = again.pipeline.alerts.open
    assert still is not None and still.alert_id == alert["alert_id"] and still.gap_s == 9.0, still
    # The state itself last saw row 110: 25 ticks skipped, longer than the window, which refills
    # before the next score (before: not refilled, row 110 scored as adjacent to row 136).
    assert again.aligner.last_restart_gap["skipped_s"] == 25.0 and again._gap_refill, again.aligner.last_restart_gap
    # 136–137 refilled it so far (138–139 still open); the restored open ticks closed before them (from before the
    # downtime) go in but do not count (clock25: before, they did, and the first scored window held them).
    assert again.pipeline.refill == STEPS - 2, again.pipeline.refill


def test_a_restart_during_a_silence_with_nothing_held_skips_only_the_downtime(tmp_path, caplog):
    """clock17: the sender silent from row 80, no record back; the agent lives through 30 s of it
    (nothing new to checkpoint: its sign of life instead, on the checkpoint's cadence), then a
    kill -9 and 12 s down. The silence closes as missing ticks at the restore; the restart gap is
    the downtime. Old code: the gap from row 79 to the first new data (the silence and the
    downtime, 42 ticks skipped, no sensor missing), the alert ended `restart` (`gap_s` 44.0, longer
    than the window) and another opened. (tests/test_restart_in_silence.py: a real process.)"""
    first = Agent(agent_config(tmp_path), clock=Clock(T0))
    for i in range(80):
        turn(first, record(i, 8.0 if i >= 70 else 0.0), T0 + i + 0.05)
    assert first.save_checkpoint() is not None
    first.clock.now = T0 + 110.0                    # 30 s of silence, the agent up
    assert first.save_checkpoint() is None and (tmp_path / "state" / ALIVE_FILE).exists()
    close(first)
    [alert] = [e for e in events(tmp_path) if e["kind"] == "alert" and e["event"] == "new"]
    before = len(events(tmp_path))
    caplog.set_level(logging.INFO, logger="stad")
    again = Agent(agent_config(tmp_path), clock=Clock(T0 + 122))      # up again 12 s later
    try:
        for i in range(122, 126):
            turn(again, record(i, 8.0), T0 + i + 0.05)
    finally:
        close(again)
    # Ticks up to 108 ended while the agent was up (109 had not, at 109.95 on the data's clock):
    # the gap from there to the first new data, the downtime within a tick.
    gap = again.aligner.last_restart_gap
    assert again.aligner.restart_gaps == 1 and gap["skipped_s"] == 13.0, gap
    assert (gap["from"], gap["to"]) == (iso(T0 + 108), iso(T0 + 122)), gap
    said = [r.getMessage() for r in caplog.records if "close as missing" in r.getMessage()]
    assert len(said) == 1 and "silent for the last 29 tick(s)" in said[0], said      # 80–108
    after = events(tmp_path)[before:]
    raised = [e for e in after if e["kind"] == "source" and e["event"] == "fault"]    # the feed's silence
    assert [sorted(e["sensors"]) for e in raised] == [["a", "b"]], after
    assert all(iso(T0 + 80) < e["ts"] < iso(T0 + 110) for e in raised), raised
    # The alert goes on, its next event to say the 13 s (ticks 109–121) since the restored state.
    assert not [e for e in after if e["kind"] == "alert" and e["event"] != "update"], after
    still = again.pipeline.alerts.open
    assert still is not None and still.alert_id == alert["alert_id"] and still.gap_s == 13.0, still


def test_a_silence_the_last_run_judged_after_its_sign_of_life_is_not_told_again(tmp_path):
    """The agent alive through 30 s of silence (its sign of life written), the sender back and the
    silence judged — one `source` fault for the feed's two sensors, raised and ended — then a kill -9
    before the next checkpoint. The restart closes the silence again from the checkpoint and its sign of life, but
    the fault journal says the last run told those faults already: they are not raised again under
    new ids (without the journal's bound: a second `fault` and `fault_end` for the one silence)."""
    quick = {"faults": {"clear_s": 1}}
    first = Agent(agent_config(tmp_path, **quick), clock=Clock(T0))
    for i in range(80):
        turn(first, record(i), T0 + i + 0.05)
    assert first.save_checkpoint() is not None
    first.clock.now = T0 + 110.0                    # 30 s of silence, the agent up
    assert first.save_checkpoint() is None
    for i in range(110, 125):                       # the sender back; no checkpoint before the kill
        turn(first, record(i), T0 + i + 0.05)
    close(first)
    told = [e for e in events(tmp_path) if e["kind"] in ("missing", "source")]
    assert [(e["event"], e["kind"], sorted(e["sensors"])) for e in told] == \
        [("fault", "source", ["a", "b"]), ("fault_end", "source", ["a", "b"])], told
    before = len(events(tmp_path))
    again = Agent(agent_config(tmp_path, **quick), clock=Clock(T0 + 135))
    try:
        for i in range(135, 150):
            turn(again, record(i), T0 + i + 0.05)
    finally:
        close(again)
    assert not [e for e in events(tmp_path)[before:] if e["kind"] in ("missing", "source")], events(tmp_path)[before:]
    assert not again.pipeline.health.open_faults()


def test_after_a_clock_stepped_back_the_new_time_bases_faults_are_told(tmp_path):
    """The host's clock two hours fast in the last run (its checkpoint and fault journal ahead of the
    clock now), a sensor's fault told after the checkpoint, a kill -9: the restart starts the time
    base again (the checkpoint's last tick ahead of this host's clock). A fault of the new time base
    lies before the journal's tick but was never told: it is told (the journal's bound is for ticks
    the last run judged, not for a new base's)."""
    fast = T0 + 7200.0
    quick = {"faults": {"clear_s": 1}}
    first = Agent(agent_config(tmp_path, **quick), clock=Clock(fast))
    for i in range(60):
        turn(first, Record(ts=fast + i, values=record(i).values, origin="udp", received=fast + i + 0.05),
             fast + i + 0.05)
    assert first.save_checkpoint() is not None
    for i in range(60, 70):                         # `b` silent: a fault told after the checkpoint
        turn(first, Record(ts=fast + i, values={"a": record(i).values["a"]}, origin="udp", received=fast + i + 0.05),
             fast + i + 0.05)
    close(first)
    assert [e["sensor"] for e in events(tmp_path) if e["kind"] == "missing" and e["event"] == "fault"] == ["b"]
    before = len(events(tmp_path))
    again = Agent(agent_config(tmp_path, **quick), clock=Clock(T0))      # the clock set right: 2 h back
    try:
        assert again._rebased
        for i in range(0, 60):                      # `a` silent from row 40: a fault of the new base
            values = record(i).values if i < 40 else {"b": record(i).values["b"]}
            turn(again, Record(ts=T0 + i, values=values, origin="udp", received=T0 + i + 0.05), T0 + i + 0.05)
    finally:
        close(again)
    raised = [e for e in events(tmp_path)[before:] if e["kind"] == "missing" and e["event"] == "fault"]
    assert [e["sensor"] for e in raised] == ["a"], events(tmp_path)[before:]


def test_a_recording_piped_in_at_its_own_pace_keeps_its_time_across_a_pause_and_a_restart(tmp_path):
    """A live source carrying a recording an hour old at ten times its pace (window.max_clock_skew_s
    0: its stamps are not checked against this host's clock), paused 30 s, the agent restarted: the
    wall clock's pause is not the data's silence. The recording goes on where it stopped — none of
    its records late, no tick missing. (Without the skew bound on the sign of life, the pause closed
    the recording's next ticks as missing at the restore, and its next records were a step back of
    the time base: `time base moved back`.)"""
    host = T0 + 3600.0

    def piped(i: int, at: float) -> Record:
        return Record(ts=T0 + i, values=record(i).values, origin="udp", received=at)

    skew = {"max_clock_skew_s": 0}
    first = Agent(agent_config(tmp_path, window=skew), clock=Clock(host))
    for i in range(80):
        turn(first, piped(i, host + i / 10), host + i / 10)
    assert first.save_checkpoint() is not None
    first.clock.now = host + 8 + 30                 # paused 30 s on this host's clock
    assert first.save_checkpoint() is None and (tmp_path / "state" / ALIVE_FILE).exists()
    close(first)
    before = len(events(tmp_path))
    again = Agent(agent_config(tmp_path, window=skew), clock=Clock(host + 40))
    try:
        for i in range(80, 100):
            turn(again, piped(i, host + 40 + (i - 80) / 10), host + 40 + (i - 80) / 10)
    finally:
        close(again)
    assert again.rejects.total == 0 and not again.aligner.moves, (dict(again.rejects.counts), again.aligner.moves)
    assert again.aligner.next_k == int(T0) + 98, again.aligner.next_k - int(T0)        # 80–97 closed, in step
    assert not [e for e in events(tmp_path)[before:] if e["kind"] == "missing"], events(tmp_path)[before:]


def restored(before: Aligner, rejects: Rejects | None = None) -> Aligner:
    after = aligner(rejects or Rejects())
    after.restore(through_file({"aligner": before.state_dict()})["aligner"])
    return after


def aligner(rejects: Rejects) -> Aligner:
    return Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=rejects, max_gap_ticks=STEPS + 1)


def held_at_the_kill() -> Aligner:
    """The aligner of the first life above at its checkpoint: row 110 held after 30 s of silence."""
    before = aligner(Rejects())
    for i in range(80):
        before.push(record(i))
    before.push(record(BACK))
    assert [c.lo for c in before.held] == [int(T0) + BACK]
    return before


def ticks(rows) -> list[int]:
    return [int(round(r.ts - T0)) for r in rows]


@pytest.mark.parametrize("down_s", [12, 60])     # the new data within the held record's reach, and beyond it
def test_the_silence_closes_missing_and_the_downtime_is_skipped_whatever_the_new_data_joins(down_s):
    rejects = Rejects()
    after = restored(held_at_the_kill(), rejects)
    rows = []
    for i in range(BACK + down_s, BACK + down_s + 10):
        rows += after.push(record(i))
    rows += after.flush_all()
    got = ticks(rows)
    # 78–109: the silence (carried two ticks, then missing: an outage longer than the window has its
    # first STEPS + 1 ticks emitted, the rest skipped), 110 its data, then the new data: nothing between.
    silent = [r for r in rows if BACK - len(SILENT) + 2 <= r.ts - T0 < BACK]
    assert silent and all(r.missing.all() for r in silent), got
    assert BACK in got and not [k for k in got if BACK < k < BACK + down_s], got
    assert not any(r.missing.any() for r in rows if r.ts - T0 >= BACK)
    assert after.restart_gaps == 1 and after.last_restart_gap["skipped_s"] == down_s - 1.0, after.last_restart_gap
    assert not after.moves and rejects.total == 0


def test_no_data_after_the_restart_the_held_record_is_still_the_last_runs_and_the_rest_an_outage():
    after = restored(held_at_the_kill())
    start = T0 + BACK + 20                      # up again 20 s after row 110; its sensors send nothing
    rows = after.flush_until(start)             # the restore's rows first: the silence, then 110
    assert ticks(rows)[-1] < BACK and after.next_k == int(T0) + BACK - 1 and after.restart_gaps == 0, ticks(rows)
    rows += after.flush_until(start + after.reach_ticks + 1)       # the wait for data is over: an outage
    got = ticks(rows)
    assert BACK in got and rows[-1].missing.all() and after.restart_gaps == 0, got


def test_a_second_restart_before_any_new_data_still_skips_only_the_downtime():
    second = restored(held_at_the_kill())
    rows = second.restored_rows()               # stepped by the agent (its next checkpoint holds them)
    assert ticks(rows)[-1] < BACK and second.next_k == int(T0) + BACK - 1
    third = restored(second)                    # killed again before any new data
    assert third.restored_rows() == [] and third.held == []
    for i in range(BACK + 30, BACK + 40):
        rows += third.push(record(i))
    assert third.restart_gaps == 1 and third.last_restart_gap["skipped_s"] == 29.0, third.last_restart_gap
    assert not third.moves and ticks(rows).count(BACK) == 1


def flowing_then(held: Record) -> Aligner:
    """Rows 0–59 on time, then `held` (out of pace with them: the sender's stamp moved away from its
    arrival) held when the checkpoint is written; the kill -9 comes before anything confirms it."""
    before = aligner(Rejects())
    for i in range(60):
        before.push(record(i))
    before.push(held)
    assert len(before.held) == 1
    return before


def test_a_stray_stamp_held_at_the_kill_costs_only_itself():
    """Old code: the new data joined the stray (+20 s, within the skew bound) and confirmed it: the
    restart gap was skipped up to the stray (20 ticks), the new data was then a `time base moved: the
    data jumped +10 s` WARNING and the real downtime missing ticks. With the stray uncontradicted and
    no record in its pace after it, the first version of this fix took it as the last run's data
    all the same (the ticks before it missing, a restart gap of 9): the restart counts against it."""
    rejects = Rejects()
    stray = Record(ts=T0 + 80, values={"a": 1.0, "b": 2.0}, origin="udp", received=T0 + 60.05)
    after = restored(flowing_then(stray), rejects)
    rows = []
    for i in range(90, 110):                    # up again 30 s later, the sender on time
        rows += after.push(record(i))
    rows += after.flush_all()
    assert not after.moves and after.restart_gaps == 1, (after.moves, after.restart_gaps)
    assert after.last_restart_gap["skipped_s"] == 30.0, after.last_restart_gap       # 60–89 not run
    assert dict(rejects.counts) == {"timestamp jump": 1}, dict(rejects.counts)
    assert not any(r.missing.any() for r in rows)


def test_a_jump_of_the_senders_clock_held_at_the_kill_is_a_move_and_the_downtime_after_it_a_restart_gap():
    """Old code: the jump (+200 s) was skipped as the restart gap — no move said — and the real
    downtime after it closed as missing ticks."""
    def jumped(i: int) -> Record:               # the sender's clock 200 s ahead from row 60 on
        return Record(ts=T0 + 200 + i, values={"a": 1.0, "b": 2.0}, origin="udp", received=T0 + i + 0.05)
    after = restored(flowing_then(jumped(60)))
    rows = []
    for i in range(90, 110):                    # up again 30 s later
        rows += after.push(jumped(i))
    rows += after.flush_all()
    assert after.moves == {"forward": 1} and after.last_move["step_s"] == 201.0, after.last_move
    assert after.restart_gaps == 1 and after.last_restart_gap["skipped_s"] == 29.0, after.last_restart_gap
    got = ticks(rows)
    assert 260 in got and not [k for k in got if 260 < k < 290], got
    assert not any(r.missing.any() for r in rows if r.ts - T0 >= 260)
