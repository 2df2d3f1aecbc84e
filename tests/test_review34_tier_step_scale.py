"""A step of the scorer chain to another tier is a new model scale for the alert rules too (review34).

review32/33 made a hot swap and a restart onto another bundle forget what the subsided rule keeps of the old model's
scores — the open alert's peak it judges against and the floor a subsided alert leaves — because the tracker sees
raw scores and another model scores the plant on another scale. A step of the chain within the tick (`tflite →
onnx → numpy`: a runtime that raises, returns NaN, or overruns its latency budget — on a busy gateway, during an
incident) is the same change, and was not: the fallback, scoring 3× its own threshold, was judged against
`subside_fraction` × the model's peak (a profiled model peaks in the hundreds where numpy's threshold is ~7), the
alert ended `subsided` while the incident went on, and its floor then kept numpy from opening one until
`subside_release_ticks` calm ticks — an incident the agent stopped telling about, with no line saying why. And back:
a model tier retried after probation was judged against the fallback's lower peak.

Real parts: the AlertTracker with its rules, tick by tick, as the Detector calls it with the scoring tier's score
and threshold (agent/detector.py `step`).
"""
from __future__ import annotations

import pytest

from agent.alerts import AlertTracker
from agent.config import AlertConfig

EXPLAIN = {"top_sensors": [{"sensor": "a", "score": 1.0}], "top_steps": [], "origin": None}


def _tracker() -> AlertTracker:
    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=5, cooldown_ticks=10, subside_fraction=0.2,
                      subside_release_ticks=60, update_interval_s=1e9)
    return AlertTracker(cfg, "gw-34", "lab", 1.0)


def _observe(tr, ts, scores, threshold, tier):
    events = []
    for i, s in enumerate(scores):
        events += tr.observe(ts + i, s, threshold, tier, lambda: {"model_id": tier}, lambda: EXPLAIN)
    return events


def test_an_alert_open_when_the_chain_steps_down_is_judged_on_the_fallbacks_scores():
    tr = _tracker()
    events = _observe(tr, 0, [50.0] * 5 + [150.0, 600.0, 400.0], 100.0, "tflite")    # the model: peak 600
    assert [e.event for e in events] == ["new"]
    # tflite overran its budget: numpy scores from here, 3× its threshold, the incident going on
    events = _observe(tr, 8, [20.0] * 30, 7.0, "numpy")
    assert events == [] and tr.open is not None, [(e.event, e.reason) for e in events]
    events = _observe(tr, 38, [3.0] * 5, 7.0, "numpy")                              # then it is over
    assert [(e.event, e.reason) for e in events] == [("end", "cleared")]


def test_a_subsided_floor_of_the_model_keeps_no_fallback_alert_from_opening():
    tr = _tracker()
    events = _observe(tr, 0, [150.0, 600.0] + [110.0] * 5, 100.0, "tflite")         # ends on its residue
    assert [(e.event, e.reason) for e in events] == [("new", None), ("end", "subsided")] and tr.floor == 120.0
    events = _observe(tr, 7, [110.0] * 10, 100.0, "tflite")                         # the cool-down runs out
    assert events == []
    events = _observe(tr, 17, [20.0] * 3, 7.0, "numpy")                             # a new incident, on numpy
    assert [e.event for e in events] == ["new"], "the model's floor (120) held numpy's 20 under it"


def test_a_calm_tick_on_a_larger_scale_is_not_the_alerts_peak_nor_its_explanation():
    """After a model change the raw scores are not comparable: a tick of the new scale under its own threshold is
    no new peak of the alert — it replaced the peak's explanation (the end event's top sensors) with a calm tick's.
    The change here is a hot swap's (Pipeline.swap: the new model's threshold, AlertTracker.new_model_scale)."""
    tr = _tracker()
    peak_tick = {"top_sensors": [{"sensor": "a", "score": 6.0}], "top_steps": [], "origin": None}
    calm_tick = {"top_sensors": [{"sensor": "b", "score": 0.7}], "top_steps": [], "origin": None}
    events = []
    for i, s in enumerate([150.0, 600.0, 400.0]):
        events += tr.observe(i, s, 100.0, "tflite", lambda: {"model_id": "m"}, lambda: peak_tick)
    tr.new_model_scale()                # the swapped-in model: its threshold 1000, the plant calm on it
    for i in range(5):
        events += tr.observe(3 + i, 700.0, 1000.0, "tflite", lambda: {"model_id": "m2"}, lambda: calm_tick)
    assert [(e.event, e.reason) for e in events] == [("new", None), ("end", "cleared")]
    end = events[-1]
    assert end.peak_score == 600.0 and [t["sensor"] for t in end.top_sensors] == ["a"], (end.peak_score,
                                                                                          end.top_sensors)


def test_a_flap_to_the_fallback_and_back_keeps_the_models_peak():
    """tflite → numpy for a tick → tflite: the model's peak comes back with it (a one-tick flap must not leave the
    model's residue judged against nothing), and tflite ↔ onnx (one bundle) is no change of scale at all."""
    tr = _tracker()
    _observe(tr, 0, [150.0, 600.0, 400.0], 100.0, "tflite")
    _observe(tr, 3, [20.0], 7.0, "numpy")
    _observe(tr, 4, [110.0], 100.0, "onnx")
    events = _observe(tr, 5, [110.0] * 5, 100.0, "tflite")            # under 0.2 × 600: its residue
    assert [(e.event, e.reason) for e in events] == [("end", "subsided")] and tr.floor == 120.0


def test_a_restart_onto_another_tier_is_a_step_too():
    """The tracker's state (the checkpoint's and the alert journal's, JSON) says which tier it last judged: a restart
    whose chain scores with another (the model's runtime gone after an upgrade: numpy) forgets the model's peak."""
    import json
    tr = _tracker()
    assert [e.event for e in _observe(tr, 0, [150.0, 600.0, 400.0], 100.0, "tflite")] == ["new"]
    state = json.loads(json.dumps(tr.state_dict()))
    again = _tracker()
    again.restore(state)
    events = _observe(again, 3, [20.0] * 30, 7.0, "numpy")
    assert events == [] and again.open is not None, [(e.event, e.reason) for e in events]
    state["tier"] = 7
    with pytest.raises(ValueError, match="alerts.tier"):
        _tracker().restore(state)
    del state["tier"]                   # a state written before it was kept: as before, no step at the first tick
    _tracker().restore(state)
