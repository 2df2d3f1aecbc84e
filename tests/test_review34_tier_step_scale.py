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
    no new peak of the alert — it replaced the peak's explanation (the end event's top sensors) with a calm tick's."""
    tr = _tracker()
    peak_tick = {"top_sensors": [{"sensor": "a", "score": 6.0}], "top_steps": [], "origin": None}
    calm_tick = {"top_sensors": [{"sensor": "b", "score": 0.7}], "top_steps": [], "origin": None}
    events = []
    for i, s in enumerate([150.0, 600.0, 400.0]):
        events += tr.observe(i, s, 100.0, "tflite", lambda: {"model_id": "m"}, lambda: peak_tick)
    for i in range(5):                  # onnx of another bundle: its threshold 1000, the plant calm on it
        events += tr.observe(3 + i, 700.0, 1000.0, "onnx", lambda: {"model_id": "m2"}, lambda: calm_tick)
    assert [(e.event, e.reason) for e in events] == [("new", None), ("end", "cleared")]
    end = events[-1]
    assert end.peak_score == 600.0 and [t["sensor"] for t in end.top_sensors] == ["a"], (end.peak_score,
                                                                                          end.top_sensors)
