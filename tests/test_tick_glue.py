"""The model tier's tick glue (perf31) computes the same bits as the long way: the tick's row
normalised straight into the window's ring, the carried bias by np.dot, and the chain's finiteness
check of a model tier's tick by its score alone (every sensor's score is in it)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from agent.config import ScoringConfig
from agent.scorers.forecast_error import bias_weights, ew_bias
from agent.window import Normaliser, WindowBuffer


def test_a_row_normalised_into_the_ring_is_applys_row_pushed():
    rng = np.random.default_rng(31)
    n, steps = 7, 5
    norm = Normaliser(mean=rng.normal(0, 5, n), std=rng.uniform(1e-3, 4, n))
    short, long = WindowBuffer(steps, n), WindowBuffer(steps, n)
    whole = 0                                            # rows with nothing to zero (the shorter path)
    rows = []
    for i in range(60):
        raw = rng.normal(0, 10, n) * 10 ** rng.uniform(-3, 3)
        raw[rng.random(n) < 0.2] = np.nan
        if i % 4 == 0:
            raw[rng.integers(n)] = rng.choice([np.inf, -np.inf, 1e300, -1e300])   # inf, and past float32's range
        missing = np.isnan(raw)
        whole += bool(np.isfinite(raw).all())
        into = np.full(n, 7.0, np.float32)
        with np.errstate(over="ignore", invalid="ignore"):      # 1e300 / std: float32's inf, then 0
            z32 = ((raw - norm.mean) / norm.std).astype(np.float32)        # the long way
            want = np.where(np.isfinite(z32), z32, np.float32(0.0))
            norm.into(raw, into)
            short.push_raw(raw, missing, float(i), norm)
            assert norm.apply(raw).tobytes() == want.tobytes(), i
        assert into.tobytes() == want.tobytes(), i
        rows.append(raw)
        long.push(want, missing | ~np.isfinite(z32), float(i))   # a value not kept is missing
        for a, b in zip(short.state_dict().values(), long.state_dict().values()):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), i
        assert short.newest_seen.tobytes() == long.newest_seen.tobytes()
    assert 0 < whole < 60
    with np.errstate(over="ignore", invalid="ignore"):       # and rows of them at once (the warm-up's)
        z32 = ((np.array(rows) - norm.mean) / norm.std).astype(np.float32)
        assert norm.apply(np.array(rows)).tobytes() == np.where(np.isfinite(z32), z32, np.float32(0.0)).tobytes()
        assert not np.isfinite(np.full(n, 1e300).astype(np.float32)).any()   # the overflow case was exercised
        assert (norm.apply(np.full(n, 1e300)) == 0).all()


def test_the_carried_bias_by_dot_is_ew_bias():
    rng = np.random.default_rng(16)
    for trial in range(2000):
        steps, n = int(rng.integers(1, 70)), int(rng.integers(1, 40))
        ring = rng.standard_normal((2 * steps, n)) * 10 ** rng.uniform(-3, 3)
        ring[rng.random(ring.shape) < rng.choice([0.0, 0.3])] = 0.0
        head = int(rng.integers(steps))
        run = ring[head:head + steps]
        got, want = np.dot(bias_weights(steps), run), ew_bias(run)
        assert np.abs(got).tobytes() == np.abs(want).tobytes(), trial


pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO  # noqa: E402


@NO_DEMO
def test_a_model_tier_with_a_sensor_score_not_finite_is_stepped_down_from():
    """The chain checks a model tier's tick by its score alone: a NaN sensor score is in it (an inf one
    too, by np.maximum.reduce; the residual floor keeps one from being made here)."""
    from agent import bundle as bundles
    from agent.scorers.base import Scorer, TickScore
    from agent.scorers.chain import ScorerChain
    from agent.scorers.tflite import TfliteScorer

    class Constant(Scorer):
        TYPE = "numpy"

        def score(self, window):
            return TickScore(sensor_scores=np.ones(window.n), score=1.0, tier="numpy")

    bundle = bundles.load(str(DEMO_BUNDLE))
    n = len(bundle.sensors)
    model = TfliteScorer(bundle)
    assert model.SCORE_COVERS_SENSORS
    chain = ScorerChain([model, Constant()], ScoringConfig())
    buf = WindowBuffer(bundle.steps, n)
    for i in range(bundle.steps):
        buf.push(np.zeros(n, np.float32), np.zeros(n, bool), float(i))
    assert chain.score(buf).tier == "tflite"
    residual = np.array(model.residual, np.float64)
    residual[3] = np.nan                                  # that sensor's error (and score) NaN, the forecast fine
    model.residual = residual
    buf.push(np.full(n, 0.5, np.float32), np.zeros(n, bool), float(bundle.steps))
    alone = model.score(buf)
    assert math.isnan(alone.sensor_scores[3]) and math.isnan(alone.score)
    assert chain.score(buf).tier == "numpy" and chain.tier == "numpy"
