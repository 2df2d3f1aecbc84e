"""The fallback's next tick with a sensor missing for a while (perf79): the Markov chain's propagated probability
of a sensor missing now too is not computed on the flat path (NumpyScorer._next_score) — its score is zeroed
whatever that probability is — and every score and the checkpoint stay the parts' path's (_score_any, which still
computes it), bit for bit: a sensor dead for longer than the window, one missing for a few ticks, with the
smoothing on (the skip) and off (no skip: a probability of 0 is then possible, and its NaN score the parts'
path's too)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from agent.checkpoint import encode
from agent.config import NumpyScorerConfig
from agent.scorers.numpy_fallback import NumpyScorer
from agent.window import WindowBuffer
from fallback_streams import ar1_stream


def with_long_gaps(z: np.ndarray, missing: np.ndarray) -> tuple:
    """Sensor 2 missing over rows 500–579 (longer than the window), sensor 3 over 3 rows in every 25."""
    missing = missing.copy()
    missing[500:580, 2] = True
    for start in range(450, len(z), 25):
        missing[start:start + 3, 3] = True
    return np.where(missing, 0.0, z).astype(np.float32), missing


@pytest.mark.parametrize("smoothing", [0.5, 0.0])
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning",   # no smoothing: log 0,
                            "ignore:invalid value encountered in multiply:RuntimeWarning")  # its NaN on both paths
def test_a_sensor_missing_now_is_not_propagated_and_every_score_is_the_parts_paths(smoothing):
    steps, tick, n = 16, 60.0, 5
    z, missing, ts = ar1_stream(800, n, 0.01, 11, 0.7, tick)
    z, missing = with_long_gaps(z, missing)
    adj = np.ones((n, n)) - np.eye(n)
    cfg = NumpyScorerConfig(seasonal_periods_s=[3600.0], markov_smoothing=smoothing)
    flat = NumpyScorer(n, adj, cfg, tick_s=tick, steps=steps)
    flat.fit(z[:400], missing[:400], ts[:400])
    parts = copy.deepcopy(flat)
    # Which sensors the flat path propagates: the real methods, their calls on it recorded.
    propagated: list[tuple[int, bool]] = []
    markov = flat.markov
    for name, at in (("_propagated", 1), ("_two_steps", 0)):      # (the sensor's position in the call)
        method = getattr(markov, name)

        def recorded(*args, _method=method, _at=at):
            if on_flat_path:
                propagated.append((args[_at], bool(now[args[_at]])))
            return _method(*args)
        setattr(markov, name, recorded)
    bufs = WindowBuffer(steps, n), WindowBuffer(steps, n)
    flat_ticks_with_gone = 0
    for t in range(400 - steps, len(z)):
        for buf in bufs:
            buf.push(z[t], missing[t], ts[t])
        if t < 400:
            continue
        now, on_flat_path = missing[t], True
        a = flat._next_score(bufs[0], float(ts[t]))
        on_flat_path = False
        if a is None:                       # (the first tick after the fit: not one on from a scored one)
            a = flat._score_any(bufs[0])
        else:
            flat_ticks_with_gone += bool(missing[t - 1].any())
        b = parts._score_any(bufs[1])
        assert a.sensor_scores.tobytes() == b.sensor_scores.tobytes(), t
        assert np.array_equal(a.score, b.score, equal_nan=True), t
        for scorer, buf in zip((flat, parts), bufs):
            scorer.observe(buf)
            scorer.learn(buf)
    assert flat_ticks_with_gone >= 100
    missing_now = [i for i, now_missing in propagated if now_missing]
    seen_now = [i for i, now_missing in propagated if not now_missing]
    assert seen_now                          # a sensor back after a gap is still propagated
    if smoothing > 0:
        assert missing_now == []             # one missing now too is not (it was ~27 µs a sensor a tick)
    else:
        assert missing_now                   # no smoothing: a probability may be 0, so it is computed
    assert encode({"config": {}}, flat.state_dict()) == encode({"config": {}}, parts.state_dict())
