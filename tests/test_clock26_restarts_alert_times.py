"""What an alert open across kill -9s says of its time (clock26): the `end` of one the restart ends `restart`, and
the `gap_s` of one continued across two restarts before its next event.

A real agent on a real state_dir driven turn by turn (tests/agent_turns.py: live UDP records on this host's
clock), each kill -9 a new agent started on the state_dir the last was abandoned on.

1. `end`: the first life opens an alert (a step on `a`), writes its checkpoint at row 79 and scores 20 more rows
   above the threshold; its sign of life (`_alive_due`, every ALIVE_S while data flows) keeps the last tick
   above. Down longer than the window, back with the step gone: one `end` `restart`, its `end` that tick — the
   code before gave the checkpoint's (row 79: `checkpoint_s` early; 300 s on a gateway's default). Kept across a
   start killed before its first new data; not taken when it names another alert, lies at or past the first new
   data, or is no time.
2. `gap_s`: an alert clearing slowly (under the threshold, `clear_ticks` not reached: no event) continued across
   a short restart, checkpointed, killed again, continued again: its next event says both restarts' unseen ticks.
   The code before said only the second's (clock25 summed them only while a judgment after a refill was pending).
"""
from __future__ import annotations

import json
import time

from agent.alive import ALIVE_FILE
from agent.checkpoint import decode
from agent.service import Agent
from agent_turns import HOST, STEPS, agent_config, alert_events, close, host_clock, one_alert_in_order, record, turn
from silence_feed import seconds

ALERTS = {"update_interval_s": 3600,     # no update after the checkpoint: the restored alert state is its
          "clear_ticks": 5}              # (an end after the refill takes these calm ticks: clock27)




def _killed_above_after_the_checkpoint(tmp_path, sign_of_life: bool) -> tuple[str, float]:
    """Rows 0–79 (the step on `a` from 70: an alert opens), the checkpoint, rows 80–99 above the threshold, with
    or without the sign of life's turn after them, the kill -9: (the alert's id, its last tick above)."""
    first = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(first, record(i, HOST, 8.0 if i >= 70 else 0.0))
        opened = first.pipeline.alerts.open
        assert first.save_checkpoint() is not None and opened.last_above <= HOST + 79
        for i in range(80, 100):
            turn(first, record(i, HOST, 8.0))
        assert first.pipeline.alerts.open is opened and opened.last_above >= HOST + 97, opened.last_above
        if sign_of_life:
            first._alive_due(time.monotonic())      # the run loop's, between turns: due at its first call
    finally:
        close(first)
    return opened.alert_id, opened.last_above


def _step_gone_after_the_downtime(tmp_path) -> list[dict]:
    """Up again at row 104 (the window's 16 ticks and more unseen), the step gone: the alert's events after."""
    before = len(alert_events(tmp_path))
    again = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST + 104))
    try:
        for i in range(104, 140):
            turn(again, record(i, HOST, 0.0))
    finally:
        close(again)
    assert again.pipeline.alerts.open is None
    return alert_events(tmp_path)[before:]


def test_an_alert_ended_restart_ends_at_the_last_tick_its_sign_of_life_kept(tmp_path):
    alert_id, last_above = _killed_above_after_the_checkpoint(tmp_path, sign_of_life=True)
    kept = json.loads((tmp_path / "state" / ALIVE_FILE).read_text())["alert"]
    assert kept == {"alert_id": alert_id, "last_above": last_above}, kept
    after = _step_gone_after_the_downtime(tmp_path)
    one_alert_in_order(alert_events(tmp_path), alert_id)
    assert [(e["event"], e["reason"]) for e in after] == [("end", "restart")], after
    # Judged from the first score after the refill by the live end rule (clear_ticks calm ticks: clock27), ended
    # at the last tick known above the threshold: the sign of life's, 18 ticks after the checkpoint's (the code
    # before: row 79 or earlier).
    assert seconds(after[0]["ts"]) == HOST + 104 + STEPS + ALERTS["clear_ticks"] - 1, after[0]
    assert seconds(after[0]["end"]) == last_above, after[0]


def test_a_start_killed_before_its_first_new_data_leaves_the_mark_to_the_next(tmp_path):
    """A second start, its sign of life's turn before any new data (a restart pending: nothing scored), killed:
    the third start still has the first life's last tick above."""
    alert_id, last_above = _killed_above_after_the_checkpoint(tmp_path, sign_of_life=True)
    second = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST + 102))
    try:
        assert second.aligner.restart_pending and second.pipeline.alerts.open.alert_id == alert_id
        second._alive_due(time.monotonic())
    finally:
        close(second)
    after = _step_gone_after_the_downtime(tmp_path)
    assert [(e["event"], e["reason"]) for e in after] == [("end", "restart")], after
    assert seconds(after[0]["end"]) == last_above, after[0]


def test_without_a_sign_of_life_since_the_checkpoint_the_end_is_the_checkpoints(tmp_path):
    """Killed within ALIVE_S of the checkpoint (no sign of life written after it): what the checkpoint holds."""
    alert_id, _ = _killed_above_after_the_checkpoint(tmp_path, sign_of_life=False)
    after = _step_gone_after_the_downtime(tmp_path)
    assert [(e["event"], e["reason"]) for e in after] == [("end", "restart")], after
    assert HOST + 70 <= seconds(after[0]["end"]) <= HOST + 79, after[0]


def test_a_sign_of_life_of_another_alert_or_past_the_first_new_data_is_not_taken(tmp_path):
    """Its alert's id and a tick before the first new data, or the checkpoint's stands (a stale or damaged file)."""
    alert_id, last_above = _killed_above_after_the_checkpoint(tmp_path, sign_of_life=True)
    path = tmp_path / "state" / ALIVE_FILE
    doc = json.loads(path.read_text())
    for bad in ({"alert_id": alert_id + "x", "last_above": last_above},
                {"alert_id": alert_id, "last_above": HOST + 104}, {"alert_id": alert_id, "last_above": "soon"},
                {"alert_id": alert_id, "last_above": 10**400}):    # past a float's range: not a traceback at start
        path.write_text(json.dumps({**doc, "alert": bad}))
        again = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST + 104))
        try:
            turn(again, record(104, HOST, 0.0))
            assert again.pipeline.alerts.open.last_above <= HOST + 79, (bad, again.pipeline.alerts.open.last_above)
        finally:
            close(again)


def test_a_damaged_wait_mark_does_not_cost_the_checkpoint(tmp_path):
    """A number past a float's range in alive.json's wait mark (`waiting.since`): the mark is not usable, the
    checkpoint still is — the agent resumes from it instead of warming up again blind."""
    _killed_above_after_the_checkpoint(tmp_path, sign_of_life=True)
    meta, _ = decode((tmp_path / "state" / "checkpoint.bin").read_bytes())
    path = tmp_path / "state" / ALIVE_FILE
    doc = {k: v for k, v in json.loads(path.read_text()).items() if k != "alert"}
    path.write_text(json.dumps({**doc, "waiting": {"checkpoint": meta["created"], "since": 10**400, "starts": 1,
                                                   "up_s": 3.0}}))
    again = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST + 104))
    try:
        assert again.checkpoint_start["state"] == "resumed", again.checkpoint_start
    finally:
        close(again)


def _life(tmp_path, rows: range, stepped: range) -> Agent:
    """A life on the state_dir: `rows` turned (the step on `a` at `stepped`), its checkpoint written, killed."""
    life = Agent(agent_config(tmp_path, alerts={**ALERTS, "clear_ticks": 200}), clock=host_clock(HOST + rows.start))
    try:
        for i in rows:
            turn(life, record(i, HOST, 8.0 if i in stepped else 0.0))
        assert life.save_checkpoint() is not None
    finally:
        close(life)
    return life


def test_two_restarts_before_the_alerts_next_event_add_their_gaps(tmp_path):
    # The step on `a` at rows 70–85: an alert opens; from row ~100 it is under the threshold, clearing slowly
    # (clear_ticks 200): open, no event. The checkpoint at row 129's turn (last closed tick 127), the kill.
    first = _life(tmp_path, range(0, 130), stepped=range(70, 86))
    alert_id = first.pipeline.alerts.open.alert_id
    before = len(alert_events(tmp_path))
    # Up at row 130 (ticks 128–129 unseen: 2 s), the data calm: continued, the gap still to be said; the
    # checkpoint at row 149's turn (last closed tick 147), the kill.
    second = _life(tmp_path, range(130, 150), stepped=range(0))
    assert second.checkpoint_start["state"] == "resumed"
    assert second.pipeline.alerts.open.alert_id == alert_id and second.pipeline.alerts.open.gap_s == 2.0
    assert len(alert_events(tmp_path)) == before            # no event: nothing said the gap
    # Up at row 154 (ticks 148–153 unseen: 6 s), the step back: its first event says both gaps (the ticks the
    # second life saw, 130–147, are in neither). The code before: 6.0.
    _life(tmp_path, range(154, 160), stepped=range(154, 160))
    evs = alert_events(tmp_path)
    one_alert_in_order(evs, alert_id)
    after = evs[before:]
    assert [e["event"] for e in after] == ["update"], after
    assert after[0]["gap_s"] == 8.0, after[0]
