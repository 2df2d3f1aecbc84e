"""Readings far outside what the warm-up saw, on the numpy tier (the last: an error there stops the
agent). A sensor flat through the warm-up (a pump off, a valve shut, a flag at 0) gets the
normaliser's std floor, 1e-6: once it moves, its z is 1e6 and more, and the fallback's regressions
add up x xᵀ past float64's precision beside their ridge; numpy's batched solve then refused every
sensor's weights for that one sensor's singular matrix (LinAlgError out of Pipeline.step). A finite
reading whose z is past float32's range (1e300) went into the window as inf, a seen value, and the
fallback's scores were NaN (ScorerError out of Pipeline.step). Both review11."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from agent.pipeline import Pipeline
from conftest import demo_cfg, sim_rows

WARMUP = 300


def scored_run(tmp_path, reading, ticks: int = 600) -> tuple[Pipeline, list[float]]:
    """The numpy tier on demo rows, sensor 2 replaced by reading(warm, ticks scored so far)."""
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, chain=["numpy"])
    pipe = Pipeline(cfg)
    scored: list[float] = []
    for row in sim_rows(cfg, days=0.35)[:WARMUP + ticks]:
        values = row.values.copy()
        values[2] = reading(pipe.warm, len(scored), values[2])
        res = pipe.step(dataclasses.replace(row, values=values))
        if not res.warming:
            scored.append(res.score)
    assert pipe.chain.tier == "numpy" and len(scored) > ticks - 100
    return pipe, scored


def test_a_sensor_flat_through_the_warm_up_then_moving_does_not_stop_the_fallback(tmp_path):
    pipe, scored = scored_run(tmp_path, lambda warm, k, v: 1.0 if warm else 0.0)    # off, then on
    assert pipe.normaliser.std[2] == 1e-6             # the floor: the case this is about
    assert all(math.isfinite(s) for s in scored)
    assert np.isfinite(pipe.numpy.ar.rls.w).all()


def test_a_reading_past_float32s_range_in_z_is_missing_in_the_window(tmp_path):
    pipe, scored = scored_run(tmp_path, lambda warm, k, v: 1e300 if 50 <= k < 53 else v)
    assert all(math.isfinite(s) for s in scored)
    assert np.isfinite(pipe.window.values).all()
