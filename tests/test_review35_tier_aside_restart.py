"""What the alert tracker keeps of the other scale while the chain scores with one (`aside`: the open alert's
subsided peak and the whole-score floor of a model tier while the numpy fallback scores, or the fallback's while a
model does; review34) is in its state, the checkpoint's and the alert journal's. Before (review35), it was not: a
restart while the chain had stepped down to numpy — the state saying `numpy` — came back on the model tier with
its peak and floor forgotten, so a model alert open across it was judged against its post-restart ticks alone and
did not end on its residue, and a model's subsided floor no longer kept that residue from opening a second alert —
what the same step without a restart (tests/test_review34_tier_step_scale.py) keeps.

Real parts: the AlertTracker with its rules, tick by tick, as the Detector calls it; the restart is its state
through JSON, as the checkpoint and the journal write it.
"""
from __future__ import annotations

import json

import pytest

from agent.alerts import AlertTracker
from agent.config import AlertConfig

EXPLAIN = {"top_sensors": [{"sensor": "a", "score": 1.0}], "top_steps": [], "origin": None}


def _tracker() -> AlertTracker:
    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=5, cooldown_ticks=10, subside_fraction=0.2,
                      subside_release_ticks=60, update_interval_s=1e9)
    return AlertTracker(cfg, "gw-35", "lab", 1.0)


def _observe(tr, ts, scores, threshold, tier):
    events = []
    for i, s in enumerate(scores):
        events += tr.observe(ts + i, s, threshold, tier, lambda: {"model_id": tier}, lambda: EXPLAIN)
    return events


def _restarted(tr: AlertTracker) -> AlertTracker:
    again = _tracker()
    again.restore(json.loads(json.dumps(tr.state_dict())))
    return again


def test_a_restart_while_on_the_fallback_keeps_the_models_peak_of_the_open_alert():
    tr = _tracker()
    _observe(tr, 0, [150.0, 600.0, 400.0], 100.0, "tflite")        # the model: peak 600
    _observe(tr, 3, [20.0], 7.0, "numpy")                           # stepped down; the agent restarts here
    tr = _restarted(tr)
    events = _observe(tr, 4, [110.0] * 5, 100.0, "tflite")         # back on the model: under 0.2 × 600
    assert [(e.event, e.reason) for e in events] == [("end", "subsided")] and tr.floor == 120.0


def test_a_restart_while_on_the_fallback_keeps_the_models_subsided_floor():
    tr = _tracker()
    events = _observe(tr, 0, [150.0, 600.0] + [110.0] * 5, 100.0, "tflite")         # ends on its residue
    assert [(e.event, e.reason) for e in events] == [("new", None), ("end", "subsided")] and tr.floor == 120.0
    _observe(tr, 7, [3.0] * 3, 7.0, "numpy")                        # stepped down; the agent restarts here
    tr = _restarted(tr)
    events = _observe(tr, 10, [110.0] * 20, 100.0, "tflite")       # the residue, past the cool-down
    assert events == [], "the model's floor (120) was forgotten by the restart: its residue paged again"


def test_a_state_without_aside_reads_as_before_and_a_bad_one_is_refused():
    tr = _tracker()
    _observe(tr, 0, [150.0, 600.0, 400.0], 100.0, "tflite")
    state = json.loads(json.dumps(tr.state_dict()))
    for bad in ([600.0], [600.0, -1.0], [600.0, float("inf")], ["x", 0.0], "600"):
        with pytest.raises(ValueError, match="alerts.aside"):
            _tracker().restore({**state, "aside": bad})
    del state["aside"]                  # written before it was kept: nothing aside
    again = _tracker()
    again.restore(state)
    assert again.state_dict()["aside"] == [None, 0.0]
