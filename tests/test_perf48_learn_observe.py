"""The perf48 round's cuts of the fallback's calm tick (agent/scorers/numpy_fallback.py, seasonal.py): learn() of
a tick _next_score scored with every sensor seen writes the joint's rows from the stacked [x; x] and a kept
all-seen validity and commits without a call; the seasonal profile's add goes through
SeasonalFeatures.learn_seen; observe() puts the counted entries without MarkovModel.count's call; the Markov
product reads its operand without the rows W ignores. Each must leave the state the parts' own methods leave:
against a twin scored, observed and learned through them, the same scores every tick and the same checkpoint
bytes every 50 ticks, on the paths the bench's stream does not take (a block solve, the count weight's rescale,
a sensor without neighbours, two seasonal periods, bins in use)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from agent.checkpoint import encode
from agent.config import NumpyScorerConfig
from agent.scorers.numpy_fallback import NumpyScorer
from agent.window import WindowBuffer


def stream(rows: int, n: int, missing_p: float, seed: int, tick: float) -> tuple:
    """(z float32, 0 where missing; missing; tick times) of an AR(1) stream with a cycle, as a scorer sees it."""
    rng = np.random.default_rng(seed)
    x = np.zeros((rows, n))
    ts = np.arange(rows) * tick
    for t in range(1, rows):
        x[t] = 0.6 * x[t - 1] + rng.normal(0, 1, n) + np.sin(2 * np.pi * ts[t] / 3600.0)
    missing = rng.random(x.shape) < missing_p
    return np.where(missing, 0.0, x).astype(np.float32), missing, ts


CASES = {   # (sensors, NumpyScorerConfig keys, tick_s)
    "an hour's profile in use, a sensor without neighbours": (5, {"seasonal_periods_s": [3600.0]}, 60.0),
    "the count weight rescaled (forgetting 0.9: g past 1e9 every ~200 ticks)": (4, {"forgetting": 0.9}, 60.0),
    "two periods, no bin known": (6, {"seasonal_periods_s": [600.0, 86400.0]}, 10.0),
    "one sensor (NAB's streams)": (1, {}, 60.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_calm_ticks_learn_and_observe_leave_the_parts_state_bit_for_bit(case):
    n, keys, tick = CASES[case]
    steps = 16
    z, missing, ts = stream(1100, n, 0.02, 7, tick)
    adj = np.ones((n, n)) - np.eye(n)
    adj[0] = 0.0                            # sensor 0 has no neighbour: fusion's validity row is False there
    flat = NumpyScorer(n, adj, NumpyScorerConfig(**keys), tick_s=tick, steps=steps)
    flat.fit(z[:400], missing[:400], ts[:400])
    parts = copy.deepcopy(flat)
    bufs = WindowBuffer(steps, n), WindowBuffer(steps, n)
    ran = {"learn of a seen tick": 0, "block solved then": 0, "g rescaled": 0}
    for t in range(400 - steps, len(z)):
        for buf in bufs:
            buf.push(z[t], missing[t], ts[t])
        if t < 400 or t % 43 == 0:
            continue
        key = float(ts[t])
        a = flat._next_score(bufs[0], key) or flat._score_any(bufs[0])
        b = parts._score_any(bufs[1])
        assert np.array_equal(a.sensor_scores, b.sensor_scores) and a.score == b.score, t
        g = flat.markov.g
        for scorer, buf in zip((flat, parts), bufs):
            scorer.observe(buf)
        ran["g rescaled"] += flat.markov.g < g
        if flat._seen_key == key:           # learn() takes its every-sensor-seen path
            ran["learn of a seen tick"] += 1
            ran["block solved then"] += flat.ar.rls._m == flat.ar.rls.block - 1
        for scorer, buf in zip((flat, parts), bufs):
            scorer.learn(buf)
        if t % 50 == 0:
            assert encode({"config": {}}, flat.state_dict()) == encode({"config": {}}, parts.state_dict()), t
    assert encode({"config": {}}, flat.state_dict()) == encode({"config": {}}, parts.state_dict())
    assert ran["learn of a seen tick"] >= 300 and ran["block solved then"] >= 5, ran
    if keys.get("forgetting") == 0.9:
        assert ran["g rescaled"] >= 2, ran
