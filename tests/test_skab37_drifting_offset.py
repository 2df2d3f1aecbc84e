"""`scoring.profile.drifting_offset_half_life_ticks` (issue 10, the skab37 round): a `drifting` sensor's forecast
offset follows its own forecast error, so a level it holds away from the training plants' normal stops scoring once
the offset has followed it; the other sensors are untouched; off, nothing changes. On the real int8 demo bundle,
through the pipeline."""
from __future__ import annotations

import numpy as np
import pytest

from agent.config import ConfigError, from_dict
from agent.scorers.drifting_offset import DriftingOffset, follow_in_batch, rate_of

pytest.importorskip("ai_edge_litert")

from profile_runs import demo_config, run, stationary_rows  # noqa: E402

WARM, N, SHIFT = 400, 900, 8.0        # S01_flow (sensor 0) held 8 σ off from 50 ticks after warm-up


def test_the_batch_follows_only_the_drifting_columns_and_a_missing_tick_moves_nothing():
    errors = np.full((200, 2), 2.0)
    missing = np.zeros((200, 2), bool)
    missing[100:110, 0] = True
    out, course = follow_in_batch(errors, missing, np.array([True, False]), rate_of(16.0))
    assert out[0, 0] == 2.0 and abs(out[-1, 0]) < 0.01          # a lasting error is followed away
    assert np.array_equal(out[:, 1], errors[:, 1]) and course[1] == 0.0    # not drifting: as given
    assert np.array_equal(out[100:110, 0], errors[100:110, 0])   # missing: scored as given, b unmoved
    assert course[0] == pytest.approx(2.0, abs=0.01)
    assert rate_of(0.0) == 0.0
    same, none = follow_in_batch(errors, missing, np.array([True, False]), 0.0)
    assert np.array_equal(same, errors) and not none.any()


@pytest.fixture(scope="module")
def runs():
    """{half-life: (pipeline, its model tier, scored results)} over the same rows, S01_flow drifting."""
    out = {}
    for half_life in (0.0, 64.0):
        cfg = demo_config({"enabled": True, "drifting": ["S01_flow"], "drifting_offset_half_life_ticks": half_life},
                          WARM)
        pipe, results = run(cfg, stationary_rows(cfg, N, shift=(0, WARM + 50, N, SHIFT), seed=3), "tflite")
        out[half_life] = pipe, pipe.chain.tiers[0], results
    return out


def test_a_held_drifting_level_stops_scoring_once_followed_and_the_others_are_untouched(runs):
    _, off, res_off = runs[0.0]
    _, on, res_on = runs[64.0]
    late = slice(-200, None)

    def of_threshold(results, sensor):
        return np.array([r.sensor_scores[sensor] / r.threshold for r in results])

    lag_off, lag_on = of_threshold(res_off, 0)[late].mean(), of_threshold(res_on, 0)[late].mean()
    assert lag_off > 0.3                        # off: the model's forecast lags the held level, tick after tick
    assert lag_on < 0.6 * lag_off               # on: the offset followed it
    assert off.drifting_offset is None and on.drifting_offset is not None
    assert on.forecast_offset[0] - off.forecast_offset[0] > 0.3
    assert np.array_equal(on.forecast_offset[1:], off.forecast_offset[1:])
    others = [np.array([r.sensor_scores[1:] for r in res]) for res in (res_off, res_on)]
    assert np.array_equal(others[0], others[1])  # every other sensor scored bit for bit the same


def test_a_tick_scored_again_scores_the_same_and_moves_the_offset_once_and_a_restore_keeps_it(runs):
    pipe, on, _ = runs[64.0]
    left = on.forecast_offset.copy()            # as the run left it, its last tick scored
    again = on.score(pipe.window)               # that tick scored again: forecast with the offset from before it
    assert np.array_equal(on.forecast_offset, left)
    row = stationary_rows(pipe.cfg, N + 1, shift=(0, 0, N + 1, SHIFT), seed=4)[-1]
    pipe.step(row)                              # a new tick moves it, once
    moved = on.forecast_offset.copy()
    first, second = on.score(pipe.window), on.score(pipe.window)
    assert first.score == second.score and not np.array_equal(moved, left)
    assert np.array_equal(on.forecast_offset, moved)
    assert np.isfinite(again.score)
    state = on.state_dict()
    on.forecast_offset, on.drifting_offset = left, None
    on.restore(state)
    assert np.array_equal(on.forecast_offset, moved) and isinstance(on.drifting_offset, DriftingOffset)


def test_the_key_is_checked_with_its_path():
    base = {"sensors": ["a"], "sources": [{"type": "stdin"}]}
    with pytest.raises(ConfigError, match="scoring.profile.drifting_offset_half_life_ticks"):
        from_dict({**base, "scoring": {"profile": {"drifting_offset_half_life_ticks": -1}}})
    assert from_dict({**base, "scoring": {"profile": {"drifting_offset_half_life_ticks": 64}}}
                     ).scoring.profile.drifting_offset_half_life_ticks == 64
