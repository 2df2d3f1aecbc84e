"""A sensor flat through the warm-up (a pump off, a valve shut, a flag at 0) gets the normaliser's
std floor, 1e-6: once it moves, its z is 1e6 and more, and the fallback's regressions add up x xᵀ
past float64's precision beside their ridge. numpy's batched solve then refused every sensor's
weights for that one sensor's singular matrix (LinAlgError), which escaped Pipeline.step and
stopped the agent (review11: on the numpy tier ~150 ticks after the sensor moved)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from agent.pipeline import Pipeline
from conftest import demo_cfg, sim_rows

WARMUP = 300


def test_a_sensor_flat_through_the_warm_up_then_moving_does_not_stop_the_fallback(tmp_path):
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, chain=["numpy"])
    pipe = Pipeline(cfg)
    flat = 2
    scored = []
    for row in sim_rows(cfg, days=0.35)[:WARMUP + 600]:
        values = row.values.copy()
        values[flat] = 1.0 if pipe.warm else 0.0        # off through the warm-up, then on
        res = pipe.step(dataclasses.replace(row, values=values))
        if not res.warming:
            scored.append(res.score)
    assert pipe.normaliser.std[flat] == 1e-6             # the floor: the case this is about
    assert pipe.chain.tier == "numpy" and len(scored) > 500
    assert all(math.isfinite(s) for s in scored)
    assert np.isfinite(pipe.numpy.ar.rls.w).all()
