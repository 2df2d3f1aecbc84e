"""`scoring.profile.scale_half_life_ticks` (issue 10, twenty-sixth round): the model tier's forecast-error scale
widened on the ticks the detector judges calm, never under warm-up's; off, nothing learns. On the real int8 demo
bundle, through the pipeline (the detector decides which ticks are calm and calls the chain's `learn`)."""
from __future__ import annotations

import numpy as np
import pytest

from agent.config import ConfigError, from_dict

pytest.importorskip("ai_edge_litert")

from profile_runs import above_threshold, demo_config, noisier_after, run  # noqa: E402

WARM, N, NOISY = 400, 900, 3          # sensor 3's noise after warm-up: three times warm-up's


@pytest.fixture(scope="module")
def tiers():
    """{half-life: (pipeline, its model tier, its ticks above the threshold)}, off and on, over the same rows."""
    out = {}
    for half_life in (0.0, 50.0):
        cfg = demo_config({"enabled": True, "scale_half_life_ticks": half_life}, WARM)
        pipe, results = run(cfg, noisier_after(cfg, N, WARM, NOISY), "tflite")
        out[half_life] = pipe, pipe.chain.tiers[0], above_threshold(results)
    return out


def test_a_noisier_sensor_stops_alarming_once_calm_ticks_widen_its_scale_and_off_nothing_learns(tiers):
    _, off, above_off = tiers[0.0]
    _, on, above_on = tiers[50.0]
    late = slice(-300, None)
    assert above_off[late].mean() > 0.05                       # off: the noisier sensor keeps alarming
    assert above_on[late].mean() < 0.5 * above_off[late].mean()  # on: far less, once calm ticks taught the scale
    assert off.scale_floor is None and "scale_floor" not in off.state_dict()
    # the floor is the scale warm-up fitted (the same warm-up either way), and the scale never goes under it
    assert np.array_equal(on.scale_floor, off.residual)
    assert (on.residual >= on.scale_floor).all()
    assert on.residual[NOISY] > 1.5 * on.scale_floor[NOISY]    # the noisier sensor's widened
    quiet = np.arange(len(on.residual)) != NOISY
    assert on.residual[NOISY] / on.scale_floor[NOISY] > 1.5 * (on.residual[quiet] / on.scale_floor[quiet]).max()


def test_the_learnt_scale_and_its_floor_survive_a_checkpoint_and_an_unscored_tick_teaches_nothing(tiers):
    pipe, on, _ = tiers[50.0]
    state = on.state_dict()
    learnt, floor = on.residual.copy(), on.scale_floor.copy()
    on.residual, on.scale_floor = floor.copy(), None
    on.restore(state)
    assert np.array_equal(on.residual, learnt) and np.array_equal(on.scale_floor, floor)
    # after the restore nothing was scored: a calm tick's learn has no error of this scorer's to read
    on.learn(pipe.window)
    assert np.array_equal(on.residual, learnt)
    bad = dict(state, scale_floor=np.zeros_like(floor))
    with pytest.raises(ValueError, match="scale_floor"):
        on.restore(bad)
    assert np.array_equal(on.residual, learnt)                 # refused before anything changed


def test_the_key_is_checked_with_its_path():
    with pytest.raises(ConfigError, match="scale_half_life_ticks"):
        from_dict({"sensors": ["a"], "scoring": {"profile": {"scale_half_life_ticks": -1}}})
