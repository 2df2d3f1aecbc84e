"""An alert open across a restart whose gap refilled the window is judged by the rules that end a live alert, not
by the first score after the refill alone (clock27).

Before, one calm tick there (under threshold × hysteresis) ended it `restart`, and the incident, still on, paged
again under a new id at its next ticks above; a tick in the hysteresis band held it, and calm ticks after that
ended it `cleared` with its `end` before the downtime. Now: it keeps its id while the evidence is mixed; a tick above
the threshold makes it a live alert again (an `update` with `gap_s`); `clear_ticks` calm ticks in a row before any
tick above end it `restart`, its `end` the last tick known above the threshold.

1. The tracker (agent/alerts.py) on scripted scores: the borderline ticks clock26 traced (2.582 against a threshold
   of 2.613), a calm dip, a band tick then calm, calm then above, the judgment's count across a checkpoint and a
   second restart.
2. A real agent on a real state_dir turn by turn (tests/agent_turns.py): the step off for the refill's ticks and the
   first score after them, on again from the next tick.
"""
from __future__ import annotations

import json

from agent.alerts import AlertTracker
from agent.config import AlertConfig
from agent.service import Agent
from agent_turns import HOST, STEPS, agent_config, alert_events, close, host_clock, one_alert_in_order, record, turn
from silence_feed import seconds

THRESHOLD = 2.613           # clock26's traced case: the first score after the refill 2.582, in the band
BAND = 2.582                # under the threshold, over threshold × hysteresis (2.09): held by the live rule
CALM = 2.0                  # under threshold × hysteresis: a tick that counts towards the end
CFG = AlertConfig(min_duration_ticks=2, clear_ticks=5, hysteresis=0.8, cooldown_ticks=2, update_interval_s=3600,
                  instant_factor=100)
GAP_S = 40.0
AFTER = 60.0                # the first score after the refill (ticks 15–59: the gap and the refill, unscored)


def _exp():
    return {"top_sensors": [{"sensor": "a", "score": 6.0, "contribution": 1.0}], "top_steps": [], "origin": None}


def _observe(tracker: AlertTracker, start: float, scores: list[float]) -> list:
    events = []
    for i, s in enumerate(scores):
        events += tracker.observe(start + i, s, THRESHOLD, "numpy", lambda: {"model_id": "m"}, _exp)
    return events


def _restarted(state: dict, refilled: bool = True, gap_s: float = GAP_S) -> AlertTracker:
    """A new life's tracker from a checkpoint's state (through JSON, as the checkpoint and the journal hold it),
    back after a gap: refilled — longer than the window and skipped (agent/pipeline_time.py after_restart)."""
    again = AlertTracker(CFG, "gw", "site", 1.0)
    again.restore(json.loads(json.dumps(state)))
    again.resumed(gap_s, refilled=refilled)
    return again


def _open_then_restarted() -> tuple[AlertTracker, str]:
    """Ticks 0–4 calm, 5–14 above the threshold (an alert opens at 6; last above at 14), the checkpoint, the kill."""
    first = AlertTracker(CFG, "gw", "site", 1.0)
    opened = _observe(first, 0.0, [1.0] * 5 + [6.0] * 10)
    assert [e.event for e in opened] == ["new"] and first.open.last_above == 14.0
    return _restarted(first.state_dict()), opened[0].alert_id


def test_a_first_score_just_under_the_threshold_with_the_anomaly_on_keeps_the_alert():
    tracker, alert_id = _open_then_restarted()
    assert _observe(tracker, AFTER, [BAND]) == []       # held: open, no event
    evs = _observe(tracker, AFTER + 1, [3.1, 4.0, 3.5])
    assert [(e.event, e.alert_id, e.gap_s) for e in evs] == [("update", alert_id, GAP_S)], evs
    assert tracker.open.alert_id == alert_id and not tracker.open.judge_after_refill     # a live alert again


def test_a_calm_first_score_with_the_anomaly_on_keeps_the_alert():
    """The tick that ended it on the code before (one calm score: `end restart`, then a `new` at the next)."""
    tracker, alert_id = _open_then_restarted()
    assert _observe(tracker, AFTER, [CALM, BAND, CALM]) == []
    evs = _observe(tracker, AFTER + 3, [3.1, 2.9, 6.0])
    assert [(e.event, e.alert_id, e.gap_s) for e in evs] == [("update", alert_id, GAP_S)], evs
    assert tracker.raised == 1


def test_calm_after_a_band_tick_ends_restart_at_the_last_tick_known_above():
    """The code before: the band tick took the judgment and the calm ended it `cleared`, an `end` before the
    downtime under a reason that says the end was seen."""
    tracker, alert_id = _open_then_restarted()
    evs = _observe(tracker, AFTER, [BAND] + [CALM] * CFG.clear_ticks)
    assert [(e.event, e.reason, e.ts, e.end, e.gap_s) for e in evs] == \
        [("end", "restart", AFTER + CFG.clear_ticks, 14.0, GAP_S)], evs


def test_calm_ends_it_restart_only_after_clear_ticks_in_a_row():
    tracker, alert_id = _open_then_restarted()
    assert _observe(tracker, AFTER, [CALM] * (CFG.clear_ticks - 1)) == []
    assert tracker.open.alert_id == alert_id
    evs = _observe(tracker, AFTER + CFG.clear_ticks - 1, [CALM])
    assert [(e.event, e.reason, e.end) for e in evs] == [("end", "restart", 14.0)], evs


def test_seen_above_after_the_restart_its_end_is_a_live_alerts():
    tracker, alert_id = _open_then_restarted()
    evs = _observe(tracker, AFTER, [CALM] * (CFG.clear_ticks - 1) + [3.0] + [CALM] * CFG.clear_ticks)
    assert [(e.event, e.reason, e.gap_s) for e in evs] == [("update", None, GAP_S), ("end", "cleared", None)], evs
    assert evs[1].end == AFTER + CFG.clear_ticks - 1        # the tick above after the restart: its end was seen


def test_the_judgment_goes_on_across_a_short_restart_and_starts_again_after_a_refill():
    """Its state is the open alert's (the checkpoint's and the journal's `judge_after_refill`, `below`): a short
    restart (no refill) continues the count; a second gap that refills the window starts it again (the calm
    ticks before it are not adjacent to the ones after)."""
    tracker, alert_id = _open_then_restarted()
    assert _observe(tracker, AFTER, [CALM] * 3) == []
    short = _restarted(tracker.state_dict(), refilled=False, gap_s=2.0)
    evs = _observe(short, AFTER + 5, [CALM] * 2)
    assert [(e.event, e.reason, e.gap_s) for e in evs] == [("end", "restart", GAP_S + 2.0)], evs
    tracker, alert_id = _open_then_restarted()
    assert _observe(tracker, AFTER, [CALM] * 3) == []
    refilled = _restarted(tracker.state_dict(), gap_s=30.0)
    assert _observe(refilled, AFTER + 60, [CALM] * (CFG.clear_ticks - 1)) == []
    evs = _observe(refilled, AFTER + 60 + CFG.clear_ticks - 1, [CALM])
    assert [(e.event, e.reason, e.gap_s, e.end) for e in evs] == [("end", "restart", GAP_S + 30.0, 14.0)], evs


ALERTS = {"update_interval_s": 3600, "clear_ticks": 5}


def test_an_agent_keeps_the_alert_whose_first_score_after_the_refill_is_calm(tmp_path):
    """Rows 0–79 (the step on `a` from 70: an alert opens), the checkpoint, rows 80–99 (lost), the kill -9; up again
    at row 104 (the gap skipped, longer than the window: it refills), the step off for rows 104–120 — the window's
    ticks and the first score after them (row 120) — and on again from row 121. The code before: `end restart` at
    row 120, a `new` alert two ticks later."""
    first = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(first, record(i, HOST, 8.0 if i >= 70 else 0.0))
        alert_id = first.pipeline.alerts.open.alert_id
        assert first.save_checkpoint() is not None
        for i in range(80, 100):
            turn(first, record(i, HOST, 8.0))
    finally:
        close(first)
    before = len(alert_events(tmp_path))
    again = Agent(agent_config(tmp_path, alerts=ALERTS), clock=host_clock(HOST + 104))
    judged = {}
    try:
        for i in range(104, 140):
            turn(again, record(i, HOST, 0.0 if i <= 104 + STEPS else 8.0))
            ts, score, threshold, _ = again.pipeline.alerts.judged
            if ts is not None:
                judged.setdefault(ts, (score, threshold))
    finally:
        close(again)
    first_score = min(judged)
    score, threshold = judged[first_score]
    # (what this test is about: the first score after the refill is a calm one by the live rule's count)
    assert first_score == HOST + 104 + STEPS and score < threshold * again.cfg.alerts.hysteresis, judged
    evs = alert_events(tmp_path)
    one_alert_in_order(evs, alert_id)
    after = evs[before:]
    assert [e["event"] for e in after] == ["update"], [(e["event"], e.get("reason")) for e in after]
    assert 24.0 <= after[0]["gap_s"] <= 27.0 and seconds(after[0]["ts"]) > first_score, after[0]
    assert again.pipeline.alerts.open.alert_id == alert_id
