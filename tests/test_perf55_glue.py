"""perf55's cuts answer as the long forms they replace, bit for bit: the threshold's `current` kept while its
value is the same float object (no recurring level, mean path or clock), and the fault tracker's per-tick
arithmetic through its ufuncs (|x − prev| in place, `unchanged` as logical_not, `low`)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from agent.config import ThresholdConfig
from agent.threshold import AdaptiveThreshold, calibrate


def _formula(thr: AdaptiveThreshold) -> float:
    """`current` as written before perf55 (no clock judging)."""
    return max(min(thr.value * thr.ratio, thr.mean_level), thr.floor, thr.cfg.min_threshold)


@pytest.mark.parametrize("cfg", [ThresholdConfig(risk=1e-3), ThresholdConfig(risk=1e-3, learn_above=1.0),
                                 ThresholdConfig(risk=1e-3, memory_ticks=512),
                                 ThresholdConfig(method="quantile", risk=1e-2, min_threshold=0.5)],
                         ids=["pot", "learn_above", "memory", "quantile"])
def test_a_fixed_thresholds_kept_current_is_the_formula_on_every_tick(cfg):
    """Through peaks, the every-256th refresh, memory refits and a raised floor: `at` and `current` read
    the formula's float on every tick, and the value moved (so the kept answer was replaced)."""
    rng = np.random.default_rng(5)
    thr = AdaptiveThreshold(cfg, calibrate(np.abs(rng.standard_normal(3000)), cfg))
    assert thr._fixed
    values = set()
    for k, s in enumerate(np.abs(rng.standard_normal(4000)) * np.where(np.arange(4000) > 2000, 2.5, 1.0)):
        at = thr.at(10.0 * k)
        assert at.hex() == _formula(thr).hex() == thr.current.hex(), k
        values.add(thr.value)
        thr.seen(10.0 * k, float(s))
        thr.update(float(s) if k % 611 else math.nan)
    assert len(values) > 5


def test_the_trackers_tick_arrays_are_the_operators_results():
    """A faulty stream with missing readings (NaN steps), one sensor held for 60 ticks (zero steps, a
    −0.0 among them) and sensors at their floor: each tick's step, unchanged, low and at_floor are what the
    operators gave, bit for bit."""
    from conftest import bench_module

    from agent.config import from_dict
    from agent.faults.tracker import AT_FLOOR, FaultTracker
    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict("pump", 3, 3.0))
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults, reentry_ticks=cfg.window.steps)
    nan_steps = zero_steps = lows = 0
    for k, row in enumerate(faults.simulated_rows(cfg)):
        if 200 <= k < 260:
            row.values[2] = -0.0 if k % 7 == 0 else 0.0
        prev = tracker.prev.copy()
        tracker.observe(row)
        t = tracker._tick
        step = np.abs(t.x - prev)
        assert step.tobytes() == t.step.tobytes()
        assert np.array_equal(t.unchanged, step == 0.0)
        low = t.above <= AT_FLOOR * t.level
        assert np.array_equal(t.low, low)
        assert np.array_equal(t.at_floor, t.observed & low)
        nan_steps += int(np.isnan(step).sum())
        zero_steps += int((step == 0.0).sum())
        lows += int(low.sum())
    assert nan_steps and zero_steps and lows
