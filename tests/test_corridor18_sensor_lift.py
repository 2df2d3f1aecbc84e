"""scoring.sensor_lift (corridor18): each quiet model-tier sensor lifted towards the threshold, none turned down.

The gains from warm-up scores: a sensor whose calm top (99.9th percentile, scores at or over the cap not
counted) ends below c × the cap is multiplied up to it, any other keeps 1, a sensor with nothing counted
keeps 1; the real int8 demo tier on the corridor simulator's rows: off, nothing is fitted; on, every live
sensor score is the key-off score times its gain (so never lower), the tier keeps the bundle's threshold, and
the warm-up scores the threshold's clock learns carry the gains; with the tails on too, the lift is fitted on
the scores as the tails leave them; check-config refuses c outside [0, 1].
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agent.config import ConfigError, from_dict
from agent.pipeline import Pipeline
from agent.scorers.sensor_tails import LIFT_QUANTILE, TAIL_FLOOR, lift_gains, tail_gains
from agent.threshold import AdaptiveThreshold

from conftest import NO_DEMO, demo_cfg, demo_dict, sim_rows  # noqa: E402

WARM = 300
# The test's warm-up is 300 ticks of the night, where most sensors' scores stay under 1 (floored there): a
# low bar, so that the night's noisiest sensors (the corridor's ends) stay above it and keep gain 1.
LIFT = 0.2


def test_only_the_sensors_whose_calm_top_is_below_the_bar_are_lifted():
    rng = np.random.default_rng(11)
    spread = np.array([1.0, 2.0, 4.0, 0.0])          # the last never moves (a flat reading)
    scores = np.abs(rng.standard_normal((5000, 4))) * spread
    missing = np.zeros(scores.shape, bool)
    cap, lift = 10.0, 0.7
    gains = lift_gains(scores, missing, lift, cap)
    top = np.maximum(np.quantile(scores, LIFT_QUANTILE, axis=0), TAIL_FLOOR)
    assert np.allclose(gains, np.maximum(1.0, lift * cap / top))
    assert gains[0] > gains[1] > 1.0                  # the quieter, the more it is lifted
    assert gains[2] == 1.0                            # its calm top is past 7: not lowered
    assert gains[3] == pytest.approx(lift * cap / TAIL_FLOOR)   # flat: floored, not divided by ~0
    assert (gains >= 1.0).all()
    # Scores at or over the cap do not count (an incident in the warm-up), nor do missing ticks; a sensor
    # with nothing counted is not lifted.
    dirty = scores.copy()
    dirty[:100, 0] = 50.0
    assert lift_gains(dirty, missing, lift, cap)[0] == pytest.approx(gains[0], rel=0.05)
    assert lift_gains(scores, np.ones_like(missing), lift, cap) == pytest.approx(np.ones(4))
    with pytest.raises(ValueError, match="sensor_lift"):
        lift_gains(scores, missing, lift, np.inf)


def _pipeline(tmp_path, name: str, **scoring) -> Pipeline:
    cfg = demo_cfg(tmp_path / name, WARM, **scoring)
    cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring, chain=["tflite", "numpy"]))
    return Pipeline(cfg)


@NO_DEMO
def test_the_tier_lifts_its_quiet_sensors_and_keeps_the_bundle_threshold(tmp_path):
    off, on = _pipeline(tmp_path, "off"), _pipeline(tmp_path, "on", sensor_lift=LIFT)
    rows = sim_rows(off.cfg, days=(WARM + 120) * 30 / 86400)
    results = [(off.step(r), on.step(r)) for r in rows]
    tier_off, tier_on = off.chain.tiers[0], on.chain.tiers[0]
    assert tier_off.TYPE == tier_on.TYPE == "tflite"
    assert tier_off.sensor_gain is None
    gain = tier_on.sensor_gain
    assert gain is not None and gain.shape == (18,) and np.isfinite(gain).all()
    assert gain.min() == 1.0 < gain.max()             # some lifted, none lowered
    live = [(a, b) for a, b in results if not a.warming]
    assert len(live) > 50
    for a, b in live:
        assert b.tier == a.tier == "tflite"
        assert np.allclose(b.sensor_scores, a.sensor_scores * gain, rtol=1e-6, atol=1e-9)
        assert b.score >= a.score - 1e-9
    bundle_threshold = AdaptiveThreshold(off.cfg.threshold.for_tier("tflite"), tier_off.manifest.threshold).value
    assert live[0][1].threshold == pytest.approx(bundle_threshold)
    # Fitted on the warm-up's per-sensor scores with the bundle's threshold as the cap; the warm-up's tick
    # scores for the threshold's clock carry the gains, as the live scores do.
    warm = rows[:WARM]
    z = on.normaliser.apply(np.array([r.values for r in warm], np.float64))
    missing = np.array([r.missing for r in warm], bool)
    per_sensor = tier_off._warmup_sensor_scores(z, missing)
    cap = tier_off.manifest.threshold["value"]
    assert np.allclose(gain, lift_gains(per_sensor, missing[tier_on.steps - 1:], LIFT, cap))
    assert np.allclose(tier_on.warmup_scores(z, missing), (per_sensor * gain).max(axis=1))


@NO_DEMO
def test_with_the_tails_on_the_lift_reads_the_scores_as_they_leave_them(tmp_path):
    both = _pipeline(tmp_path, "both", sensor_lift=0.8, sensor_tail_quantile=0.99)
    rows = sim_rows(both.cfg, days=(WARM + 5) * 30 / 86400)
    for r in rows:
        both.step(r)
    tier = both.chain.tiers[0]
    warm = rows[:WARM]
    z = both.normaliser.apply(np.array([r.values for r in warm], np.float64))
    missing = np.array([r.missing for r in warm], bool)[tier.steps - 1:]
    per_sensor = tier._warmup_sensor_scores(z, np.array([r.missing for r in warm], bool))
    cap = tier.manifest.threshold["value"]
    tails = tail_gains(per_sensor, missing, 0.99, cap)
    assert np.allclose(tier.sensor_gain, tails * lift_gains(per_sensor * tails, missing, 0.8, cap))
    assert not np.allclose(tier.sensor_gain, tails)   # the lift did something on top


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_check_config_refuses_a_lift_outside_0_1(tmp_path, value):
    d = demo_dict(tmp_path, sensor_lift=value)
    with pytest.raises(ConfigError, match="scoring.sensor_lift"):
        from_dict(d, base_dir=str(tmp_path))
