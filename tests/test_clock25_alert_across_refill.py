"""An alert open across a kill -9 a few minutes after the last checkpoint is judged after the window refills,
not ended at once (user14's two pages for 5 s down; clock25).

A real agent on a real state_dir driven turn by turn (tests/agent_turns.py: live UDP records on this host's
clock), the kill -9 a second agent started on the state_dir the first was abandoned on. The first life opens an
alert (a step on `a`), writes its checkpoint, runs on more than the window's 16 ticks with the step still on
(nothing journaled: no update is due) and dies; the restart's gap — the ticks after the checkpoint's last one
and the downtime — is longer than the window and skipped (live data back). On the code before, the alert ended
`restart` at the first new data and the step, still on, opened a second alert once the window refilled."""
from __future__ import annotations

from agent.service import Agent
from agent_turns import HOST, STEPS, agent_config, alert_events, close, events, host_clock, one_alert_in_order, record, turn
from silence_feed import seconds

ALERTS = {"update_interval_s": 3600,     # no update after the checkpoint: the restored alert state is its
          "clear_ticks": 5}              # (an end after the refill takes these calm ticks: clock27)


def _first_life(tmp_path, base: float) -> str:
    """Rows 0–79 (the step on `a` from 70: an alert opens), the checkpoint, rows 80–99 (lost), the kill -9."""
    first = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(first, record(i, base, 8.0 if i >= 70 else 0.0))
        alert_id = first.pipeline.alerts.open.alert_id
        assert first.save_checkpoint() is not None
        for i in range(80, 100):            # scored, not checkpointed: more than the window after it
            turn(first, record(i, base, 8.0))
        assert first.pipeline.alerts.open.alert_id == alert_id
    finally:
        close(first)
    return alert_id


def _life(tmp_path, rows: range, step: float, checkpoint_after: int | None = None) -> Agent:
    again = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST + rows.start))
    try:
        assert again.checkpoint_start["state"] == "resumed"
        for i in rows:
            turn(again, record(i, HOST, step))
            if i == checkpoint_after:
                assert again.pipeline.refill > 0        # still refilling: the alert not judged yet
                assert again.save_checkpoint() is not None
    finally:
        close(again)
    return again




def test_an_alert_still_above_after_the_refill_is_continued(tmp_path):
    alert_id = _first_life(tmp_path, HOST)
    before = len(alert_events(tmp_path))
    again = _life(tmp_path, range(104, 140), 8.0)       # the step still on
    assert again.aligner.last_restart_gap["skipped_s"] == 24.0, again.aligner.last_restart_gap
    evs = alert_events(tmp_path)
    one_alert_in_order(evs, alert_id)
    after = evs[before:]
    assert [e["event"] for e in after] == ["update"], [(e["event"], e.get("reason")) for e in after]
    # Its first event after the restart says the gap, at the first score after the refill: the window's ticks
    # from the first new data (row 104) pushed — not the restored open ticks closed before it (rows 78–79).
    # (the gap from the checkpoint's last closed tick, a tick or two before row 79 with lateness_ticks 1)
    assert 24.0 <= after[0]["gap_s"] <= 27.0 and seconds(after[0]["ts"]) == HOST + 104 + STEPS, after[0]
    assert again.pipeline.alerts.open.alert_id == alert_id


def test_an_alert_calm_after_the_refill_ends_restart_once(tmp_path):
    alert_id = _first_life(tmp_path, HOST)
    before = len(alert_events(tmp_path))
    again = _life(tmp_path, range(104, 140), 0.0)       # the step gone while the agent was down
    evs = alert_events(tmp_path)
    one_alert_in_order(evs, alert_id)
    after = evs[before:]
    assert [(e["event"], e["reason"]) for e in after] == [("end", "restart")], after
    end = after[0]
    # Judged from the first score after the refill, ended by the live rule's clear_ticks calm ticks (clock27); at
    # the last tick known above the threshold (the checkpoint's row 79: the ticks after it were lost with the kill).
    assert 24.0 <= end["gap_s"] <= 27.0 and seconds(end["ts"]) == HOST + 104 + STEPS + ALERTS["clear_ticks"] - 1, end
    assert HOST + 70 <= seconds(end["end"]) <= HOST + 79, end
    assert again.pipeline.alerts.open is None


def test_a_second_kill_during_the_refill_keeps_the_judgment_pending(tmp_path):
    alert_id = _first_life(tmp_path, HOST)
    before = len(alert_events(tmp_path))
    # Up again at row 104, a checkpoint written while the window refills (row 110), a second kill -9 there.
    _life(tmp_path, range(104, 111), 8.0, checkpoint_after=110)
    assert len(alert_events(tmp_path)) == before        # neither ended nor continued yet
    third = _life(tmp_path, range(140, 176), 8.0)
    evs = alert_events(tmp_path)
    one_alert_in_order(evs, alert_id)
    after = evs[before:]
    assert [e["event"] for e in after] == ["update"], [(e["event"], e.get("reason")) for e in after]
    # Both gaps went unseen: rows 80–103 (24 s) and 111–139 (29 s).
    assert 53.0 <= after[0]["gap_s"] <= 58.0 and seconds(after[0]["ts"]) == HOST + 140 + STEPS, after[0]
    assert third.pipeline.alerts.open.alert_id == alert_id
