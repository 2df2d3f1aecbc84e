"""`scoring.profile.scale_half_life_ticks` (issue 10, twenty-seventh round): the model tier's scale learns only on
ticks calm by the detector *and* by the tier's own score. With `blend_numpy` the detector judges the blend, and the
fallback can bring a tick under the threshold that the tier alone calls anomalous; such a tick teaches the tier
nothing. The rule is the detector's own (`Detector.calm`), asked of the tier's unblended score. Real parts: the int8
demo bundle warmed up through the pipeline, its detector, chain and tier."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from profile_runs import demo_config, run, stationary_rows, std_of  # noqa: E402

WARM, SENSOR = 400, 3


@pytest.fixture()
def warm():
    """A pipeline past warm-up (blend on, scale learning on, no alert accepted as normal) and its next row."""
    cfg = demo_config({"enabled": True, "scale_half_life_ticks": 50.0}, WARM)
    cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring, blend_numpy=0.25),
                              alerts=dataclasses.replace(cfg.alerts, accept_after_s=1e9))
    rows = stationary_rows(cfg, WARM + 40, seed=5)
    pipe, _ = run(cfg, rows[:-1], "tflite")
    return pipe, rows[-1]


def judge(pipe, row, sigma: float, score_judged):
    """Push `row` with SENSOR off by `sigma` of its std, score it with the tier, and let the detector judge
    `score_judged(own score, threshold)` with the pipeline's learn (the chain's, handed the detector's rule).
    Returns (the tier's own score, the detector's decision, whether the tier's scale learnt)."""
    values = row.values.copy()
    values[SENSOR] += sigma * std_of(SENSOR)
    pipe.window.push_raw(values, row.missing, row.ts, pipe.normaliser)
    tier = pipe.chain.tiers[0]
    own = tier.score(pipe.window).score
    before = tier.residual.copy()
    decision = pipe.detector.step(row.ts, score_judged(own, pipe.detector.threshold(tier.TYPE)), tier.TYPE,
                                  tier.describe, lambda: {"top_sensors": [], "top_steps": []}, learn=lambda: pipe.chain.learn(pipe.window,
                                                                                           pipe.detector.calm))
    return own, decision, not np.array_equal(tier.residual, before)


def test_a_tick_calm_to_the_detector_but_hot_to_the_tier_teaches_its_scale_nothing(warm):
    pipe, row = warm
    thr = pipe.detector.threshold("tflite")
    # the blend's score under the threshold (the fallback calm), the tier's own far over it
    own, decision, learnt = judge(pipe, row, 6.0, lambda own, thr: 0.5 * thr)
    assert own > thr and decision.calm
    assert not learnt
    # the same tick given to the tier with no rule to ask (the twenty-sixth round's gate: the detector's alone)
    # would have widened the scale: the gate, not the tick, kept it
    tier = pipe.chain.tiers[0]
    tier.score(pipe.window)
    floor = tier.residual.copy()
    tier.learn(pipe.window)
    assert tier.residual[SENSOR] > floor[SENSOR]


def test_a_tick_calm_to_both_teaches_and_the_tier_alone_is_judged_by_its_own_score(warm):
    pipe, row = warm
    thr = pipe.detector.threshold("tflite")
    # the tier alone (no blend): the detector judges the tier's own score; a 1-sigma error is calm and widens
    own, decision, learnt = judge(pipe, row, 1.0, lambda own, thr: own)
    assert own <= thr and decision.calm and learnt
    assert pipe.chain.tiers[0].residual[SENSOR] > pipe.chain.tiers[0].scale_floor[SENSOR]


def test_a_tick_hot_to_the_detector_teaches_nothing_whatever_the_tier_says(warm):
    pipe, row = warm
    own, decision, learnt = judge(pipe, row, 1.0, lambda own, thr: 2.0 * thr)
    assert own <= pipe.detector.threshold("tflite") and not decision.calm and not learnt
