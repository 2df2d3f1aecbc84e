"""A false alarm's lift is measured on the scale of the model that scored the alert (review34).

Feedback remembers, per alert, how far over its threshold the alert went (peak / threshold), and a `false_alarm`
lifts the threshold by that fraction (agent/feedback.py). The alert's `peak_score` is its peak over its whole life
(agent/alerts.py), so an alert open across a hot swap or a restart onto another bundle — whose new model scores
the plant on another scale (review33: 3.8 where the old one scored 225) — was remembered as the old model's peak
over the new model's threshold: against a new model on a larger scale, an alert 50 % over the old threshold was
remembered as far under the new one, and the operator's false alarm lifted nothing ('threshold lifted by 0%').

Real parts: the Detector, its AdaptiveThresholds and the FeedbackMemory with its file; the model change is the two
calls agent/pipeline.py `swap` makes (the new tier's threshold added, AlertTracker.new_model_scale), which
agent/resume.py makes too for a restart onto another bundle.
"""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
from conftest import DEMO_BUNDLE, NO_DEMO, demo_cfg, drive_hotswap, hotswap_pipeline, sim_rows

from agent.config import AlertConfig, ThresholdConfig
from agent.detector import Detector
from agent.feedback import FeedbackConfig, FeedbackMemory
from agent.threshold import AdaptiveThreshold, calibrate

TIER = "tflite"


def _threshold(level: float) -> AdaptiveThreshold:
    cfg = ThresholdConfig(method="quantile", risk=1e-3, adapt=False)
    return AdaptiveThreshold(cfg, calibrate(np.random.default_rng(0).normal(level, 0.1 * level, 500), cfg))


def _detector(tmp_path) -> Detector:
    det = Detector(AlertConfig(min_duration_ticks=1, clear_ticks=2, cooldown_ticks=0, update_interval_s=1e9),
                   "gw-34", "lab", 1.0, {TIER: _threshold(1.0)})
    det.feedback = FeedbackMemory(FeedbackConfig(max_lift=2.0, half_life_s=1e6), tmp_path / "feedback.json")
    return det


def _run(det, ts, scores):
    events = []
    for i, s in enumerate(scores):
        events += det.step(ts + i, s, TIER, lambda: {"model_id": "m"},
                           lambda: {"top_sensors": [], "top_steps": [], "origin": None}).events
    return events


def _swap(det, level):
    """What Pipeline.swap does to the detector: the new model's threshold in, the old model's scale forgotten."""
    det.add({TIER: _threshold(level)})
    det.tracker.new_model_scale()


@pytest.mark.parametrize("new_level", [100.0, 0.01])
def test_a_false_alarm_on_an_alert_open_across_a_swap_lifts_by_how_far_it_went_on_its_own_model(tmp_path, new_level):
    det = _detector(tmp_path)
    old = det.thresholds[TIER].current
    events = _run(det, 0, [0.5 * old] * 3 + [1.2 * old, 1.5 * old, 1.3 * old])   # the peak after its `new` event
    alert_id = events[0].alert_id
    assert [e.event for e in events] == ["new"]
    _swap(det, new_level)
    new = det.thresholds[TIER].current
    events = _run(det, 6, [0.5 * new] * 3)          # the new model: calm; the alert ends on it
    assert [e.event for e in events] == ["end"] and events[0].alert_id == alert_id
    # 1.5 over its own model's threshold: × 1.5 × 1.05 — not 1.5 × old / new (0 against a larger scale, the cap
    # against a smaller one)
    assert "lifted by 58%" in det.feedback.apply(alert_id, "false_alarm")
    assert det.threshold(TIER) == pytest.approx(new * 1.575, rel=1e-3)


def test_after_a_swap_an_alert_of_the_new_model_is_measured_on_it(tmp_path):
    det = _detector(tmp_path)
    old = det.thresholds[TIER].current
    first = _run(det, 0, [0.5 * old] * 3 + [1.5 * old])[0].alert_id
    _swap(det, 100.0)
    new = det.thresholds[TIER].current
    events = _run(det, 4, [0.5 * new] * 3 + [1.1 * new, 1.2 * new] + [0.5 * new] * 3)
    second = [e for e in events if e.alert_id != first]
    assert [e.event for e in second] == ["new", "end"]
    assert "lifted by 26%" in det.feedback.apply(second[0].alert_id, "false_alarm")     # 1.2 × 1.05
    reloaded = FeedbackMemory(det.feedback.cfg, tmp_path / "feedback.json")             # and after a restart
    assert reloaded.known[first] == pytest.approx(1.5, rel=1e-3)
    assert reloaded.known[second[0].alert_id] == pytest.approx(1.2, rel=1e-3)



@pytest.mark.skipif(importlib.util.find_spec("ai_edge_litert") is None, reason="ai-edge-litert not installed")
@NO_DEMO
def test_on_a_real_hot_swap_the_alert_open_across_it_keeps_how_far_it_went_on_the_old_model(tmp_path):
    """The demo bundle with its profile on, an alert open (its peak in the hundreds), a copy of the bundle swapped
    in by the HotSwap (shadow-scored, then Pipeline.swap): the new model, its profile fitted on the recent ticks,
    scores the plant on another scale under another threshold (review33: 3.8 where the old scored 225). What feedback
    keeps of the alert is its peak over the threshold it was judged against — not that peak over the new model's
    threshold, which its end event gave on main."""
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=3.0, anomalies="drop")
    pipe, swap, models = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=10, profile={"enabled": True},
                                          shadow_min_agreement=0.0)
    pipe.detector.feedback = FeedbackMemory(FeedbackConfig(max_lift=10.0), tmp_path / "feedback.json")
    tr, it = pipe.alerts, iter(rows)
    drive_hotswap(pipe, swap, it, until=lambda: tr.open is not None and tr.open.peak > 400, limit=len(rows))
    alert_id, tier = tr.open.alert_id, pipe.chain.tier
    old = pipe.detector.thresholds[tier]
    shutil.copytree(DEMO_BUNDLE, models / ".candidate.tmp")
    (models / ".candidate.tmp").rename(models / "candidate")
    swap.request()
    drive_hotswap(pipe, swap, it, until=lambda: swap.status()["last"] is not None, limit=len(rows))
    assert swap.status()["last"]["accepted"] and pipe.detector.thresholds[tier] is not old
    assert tr.open is not None and tr.open.alert_id == alert_id, "the case: the alert open across the swap"
    over_on_old = tr.open.peak / old.current
    new = pipe.detector.thresholds[tier].current
    assert abs(new / old.current - 1) > 0.05, ("the case: the new model's threshold is another", old.current, new)
    for row in it:                          # on until the alert ends on the new model
        pipe.step(row)
        if tr.open is None or tr.open.alert_id != alert_id:
            break
    known = pipe.detector.feedback.known[alert_id]
    assert known >= over_on_old * 0.999, (known, over_on_old, old.current, new)
