"""scoring.sensor_tail_quantile (corridor10, corridor11): each model-tier sensor judged against its own calm tail.

The gains from warm-up scores (a sensor with a longer calm tail is turned down, a quieter one up, a
flat one not by hundreds; scores at or above the cap not counted, so an incident in the warm-up lifts a
tail to the cap at most); the real int8 demo tier on the corridor simulator's rows: off, nothing is
fitted; on, every live sensor score is the key-off score times that sensor's gain, and both keep the
bundle's threshold (corridor11: no re-fit on the scaled warm-up, which a dirty warm-up broke); the
warm-up scores the threshold's clock would learn carry the gains; the gains survive a checkpoint and a
bad one is refused; check-config refuses a quantile outside [0, 1].
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agent.config import ConfigError, from_dict
from agent.pipeline import Pipeline
from agent.scorers.sensor_tails import TAIL_FLOOR, tail_gains
from agent.threshold import AdaptiveThreshold

from conftest import NO_DEMO, demo_cfg, demo_dict, sim_rows  # noqa: E402

WARM = 300


def test_each_sensor_is_scaled_to_the_median_calm_tail():
    rng = np.random.default_rng(3)
    n = 4000
    spread = np.array([1.0, 2.0, 4.0, 0.0])        # the last sensor never moves (a flat reading)
    scores = np.abs(rng.standard_normal((n, 4))) * spread
    missing = np.zeros((n, 4), bool)
    gains = tail_gains(scores, missing, 0.99)
    tail = np.maximum(np.quantile(scores, 0.99, axis=0), TAIL_FLOOR)
    assert np.allclose(gains, np.median(tail) / tail)
    assert gains[0] > gains[1] > gains[2]           # the longer its calm tail, the less a sensor is heard
    assert gains[3] == pytest.approx(np.median(tail) / TAIL_FLOOR)    # flat: floored, not divided by ~0
    # A tick where a sensor's reading is missing does not count towards its tail.
    missing[:, 0] = True
    missing[:10, 0] = False
    scores[10:, 0] = 1000.0
    assert tail_gains(scores, missing, 0.99)[0] == pytest.approx(gains[0], rel=0.5)
    assert tail_gains(scores, np.ones_like(missing), 0.99) == pytest.approx(np.ones(4))   # nothing counted


def test_an_incident_in_the_warm_up_lifts_a_tail_to_the_cap_at_most():
    rng = np.random.default_rng(5)
    calm = np.abs(rng.standard_normal((3000, 5))) * np.array([1.0, 1.5, 2.0, 2.5, 3.0])
    missing = np.zeros(calm.shape, bool)
    cap = 9.0
    clean = tail_gains(calm, missing, 0.99, cap)
    dirty = calm.copy()
    dirty[:150, 0] = 40.0                            # 5 % of the warm-up: an incident at sensor 0, far over the cap
    assert tail_gains(dirty, missing, 0.99, cap) == pytest.approx(clean, rel=0.01)   # not counted (150 calm ones gone)
    assert tail_gains(dirty, missing, 0.99)[0] < 0.2 * clean[0]             # uncapped, sensor 0 all but deafened
    dirty[:150, 0] = 8.0                             # under the cap: it counts, and the tail stops at the cap
    assert tail_gains(dirty, missing, 0.99, cap)[0] >= np.median(np.quantile(calm, 0.99, axis=0)) / cap * 0.99


def _pipeline(tmp_path, quantile: float) -> Pipeline:
    cfg = demo_cfg(tmp_path / f"q{quantile}", WARM, sensor_tail_quantile=quantile)
    cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring, chain=["tflite", "numpy"]))
    return Pipeline(cfg)


@NO_DEMO
def test_the_tier_scores_each_sensor_in_units_of_its_calm_tail(tmp_path):
    off, on = _pipeline(tmp_path, 0.0), _pipeline(tmp_path, 0.99)
    rows = sim_rows(off.cfg, days=(WARM + 120) * 30 / 86400)
    results = [(off.step(r), on.step(r)) for r in rows]
    tier_off, tier_on = off.chain.tiers[0], on.chain.tiers[0]
    assert tier_off.TYPE == tier_on.TYPE == "tflite"
    assert tier_off.sensor_gain is None
    gain = tier_on.sensor_gain
    assert gain is not None and gain.shape == (18,) and np.isfinite(gain).all() and (gain > 0).all()
    assert gain.min() < 1.0 <= gain.max()           # the noisier sensors turned down to the median one
    live = [(a, b) for a, b in results if not a.warming]
    assert len(live) > 50
    for a, b in live:
        assert b.tier == a.tier == "tflite"
        assert np.allclose(b.sensor_scores, a.sensor_scores * gain, rtol=1e-6, atol=1e-9)
        assert b.score == pytest.approx(float((a.sensor_scores * gain).max()), rel=1e-6)
    # Both start from the bundle's threshold: the scaled warm-up does not re-fit it (a dirty one lifted it).
    bundle_threshold = AdaptiveThreshold(off.cfg.threshold.for_tier("tflite"), tier_off.manifest.threshold).value
    assert live[0][0].threshold == pytest.approx(bundle_threshold)
    assert live[0][1].threshold == pytest.approx(bundle_threshold)
    # The gains were fitted on the warm-up's per-sensor scores with the bundle's threshold as the cap, and
    # the warm-up's tick scores for the threshold's clock carry them (as the live scores do).
    warm = rows[:WARM]
    z = on.normaliser.apply(np.array([r.values for r in warm], np.float64))
    missing = np.array([r.missing for r in warm], bool)
    per_sensor = tier_off._warmup_sensor_scores(z, missing)
    cap = tier_off.manifest.threshold["value"]
    assert np.allclose(gain, tail_gains(per_sensor, missing[tier_on.steps - 1:], 0.99, cap))
    assert np.allclose(tier_on.warmup_scores(z, missing), (per_sensor * gain).max(axis=1))


@NO_DEMO
def test_the_gains_are_checkpointed_and_a_bad_one_refused(tmp_path):
    on = _pipeline(tmp_path, 0.99)
    for r in sim_rows(on.cfg, days=(WARM + 5) * 30 / 86400):
        on.step(r)
    state = on.chain.tiers[0].state_dict()
    assert np.array_equal(state["sensor_gain"], on.chain.tiers[0].sensor_gain)
    fresh = _pipeline(tmp_path, 0.99).chain.tiers[0]
    fresh.restore(state)
    assert np.array_equal(fresh.sensor_gain, state["sensor_gain"])
    older = {k: v for k, v in state.items() if k != "sensor_gain"}   # written before the key, or with it off
    fresh.restore(older)
    assert fresh.sensor_gain is None
    bad = {**state, "sensor_gain": -state["sensor_gain"]}
    with pytest.raises(ValueError, match="sensor_gain"):
        fresh.restore(bad)
    assert fresh.sensor_gain is None                # refused before anything changed


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_check_config_refuses_a_quantile_outside_0_1(tmp_path, value):
    d = demo_dict(tmp_path, sensor_tail_quantile=value)
    with pytest.raises(ConfigError, match="scoring.sensor_tail_quantile"):
        from_dict(d, base_dir=str(tmp_path))
