"""`scoring.profile.scale_after_alert_ticks` K (issue 10, twenty-eighth round): with `scale_half_life_ticks` on, the
model tier's forecast-error scale learns nothing while an alert is open, nor for K ticks after it ends. On SKAB's
valve1/0 the anomaly's sub-threshold ticks (the alert's hysteresis and hold) widened the scale and the tier then heard
the rest of the anomaly less. The gate is part of the detector's one calm rule (`Detector.calm`), asked by the tier
only: the fallback still learns an open alert's calm ticks. Real parts: the int8 demo bundle warmed up through the
pipeline, its detector, chain and tier."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from profile_runs import demo_config, run, stationary_rows, std_of  # noqa: E402

WARM, SENSOR = 400, 3


def warmed(after_alert: int):
    """A pipeline past warm-up (the tier alone, scale learning on, no alert accepted as normal) and rows after it."""
    cfg = demo_config({"enabled": True, "scale_half_life_ticks": 50.0, "scale_after_alert_ticks": after_alert}, WARM)
    cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring, blend_numpy=0.0),
                              alerts=dataclasses.replace(cfg.alerts, accept_after_s=1e9))
    rows = stationary_rows(cfg, WARM + 80, seed=7)
    pipe, _ = run(cfg, rows[:WARM + 30], "tflite")
    return pipe, iter(rows[WARM + 30:])


def tick(pipe, row, times_threshold: float | None = None, sigma: float = 1.0):
    """One tick of `row` with SENSOR off by `sigma` of its std: the tier scores it; the detector judges the tier's own score,
    or `times_threshold` × the threshold, with the pipeline's learn. Returns (the decision, whether the scale learnt)."""
    values = row.values.copy()
    values[SENSOR] += sigma * std_of(SENSOR)
    pipe.window.push_raw(values, row.missing, row.ts, pipe.normaliser)
    tier = pipe.chain.tiers[0]
    own = tier.score(pipe.window).score
    judged = own if times_threshold is None else times_threshold * pipe.detector.threshold(tier.TYPE)
    before = tier.residual.copy()
    decision = pipe.detector.step(row.ts, judged, tier.TYPE, tier.describe, lambda: {"top_sensors": [], "top_steps": []},
                                  learn=lambda: pipe.chain.learn(pipe.window, pipe.detector.calm))
    return decision, not np.array_equal(tier.residual, before)


def open_alert(pipe, rows):
    for _ in range(3):
        tick(pipe, next(rows), 3.0, sigma=0.0)
    assert pipe.detector.tracker.active


@pytest.mark.parametrize("after_alert", [0, 5])
def test_a_calm_tick_inside_an_open_alert_teaches_the_scale_nothing(after_alert):
    pipe, rows = warmed(after_alert)
    open_alert(pipe, rows)
    decision, learnt = tick(pipe, next(rows))
    # calm to the detector (the fallback learns it) and inside the alert: the scale does not
    assert decision.calm and pipe.detector.tracker.active and not learnt


def test_off_the_same_tick_teaches_the_scale():
    pipe, rows = warmed(-1)
    open_alert(pipe, rows)
    decision, learnt = tick(pipe, next(rows))
    assert decision.calm and pipe.detector.tracker.active and learnt


def test_the_scale_learns_again_k_ticks_after_the_alert_ends():
    k = 3
    pipe, rows = warmed(k)
    open_alert(pipe, rows)
    while pipe.detector.tracker.active:
        _, learnt = tick(pipe, next(rows), 0.1, sigma=0.0)
        assert not learnt
    # the tick that ended the alert is the first of the K after it
    for _ in range(k - 1):
        decision, learnt = tick(pipe, next(rows))
        assert decision.calm and not learnt
    decision, learnt = tick(pipe, next(rows))
    assert decision.calm and learnt
