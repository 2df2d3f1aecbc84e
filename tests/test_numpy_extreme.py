"""A new extreme of the raw value opens an alert (scoring.numpy.extreme_margin; agent/scorers/numpy_fallback.py,
agent/pipeline.py).

The fallback keeps each sensor's range (the warm-up's rows, then every scored tick); a fresh value
more than margin × that range beyond it is a new extreme, judged before it widens the range, so the
same value is news once. A missing value is never one; off (0) nothing changes; the range survives
a checkpoint; a bad margin is refused with its key path.
"""
from __future__ import annotations

import numpy as np
import pytest

from agent import config
from agent.checkpoint import decode, encode
from agent.config import NumpyScorerConfig
from agent.pipeline import Pipeline
from agent.scorers.numpy_fallback import NumpyScorer
from agent.typed import ConfigError
from agent.window import Row, WindowBuffer


def warm_scorer(margin: float, seed: int = 0) -> tuple[NumpyScorer, np.ndarray]:
    """One sensor, 200 warm-up rows of noise in [-1, 1]: its range is about 2 wide."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, size=(200, 1))
    sc = NumpyScorer(1, np.zeros((1, 1), bool), NumpyScorerConfig(extreme_margin=margin, seasonal_periods_s=[]))
    sc.fit(z, np.zeros_like(z, bool))
    return sc, z


def window_ending(z: np.ndarray, last: float, missing: bool = False) -> WindowBuffer:
    buf = WindowBuffer(8, 1)
    for i, v in enumerate(z[-7:, 0]):
        buf.push(np.array([v]), np.array([False]), float(i))
    buf.push(np.array([last]), np.array([missing]), 7.0)
    return buf


def test_a_value_beyond_the_range_by_the_margin_is_an_extreme_once():
    sc, z = warm_scorer(0.1)
    lo, hi = z.min(), z.max()
    span = hi - lo
    assert sc.lo[0] == lo and sc.hi[0] == hi                 # the warm-up's rows set the range
    assert not sc.extreme(window_ending(z, hi + 0.05 * span))  # beyond, but within the margin
    above = window_ending(z, hi + 0.2 * span)
    assert sc.extreme(above)
    assert sc.extreme(window_ending(z, lo - 0.2 * span))      # below the smallest too
    sc.observe(above)                                        # a scored tick widens the range
    assert sc.hi[0] == above.values[-1, 0] > hi
    assert not sc.extreme(window_ending(z, float(above.values[-1, 0])))  # the same value is not news again
    assert not sc.extreme(window_ending(z, hi + 5 * span, missing=True))   # a missing value never is


def test_off_the_scorer_keeps_no_range_and_says_no():
    sc, z = warm_scorer(0.0)
    assert not sc.extreme(window_ending(z, 1e6))
    assert np.isinf(sc.hi).all() and "range" not in sc.state_dict()


def test_the_range_survives_a_checkpoint_and_a_bad_one_is_refused():
    sc, z = warm_scorer(0.1)
    again, _ = warm_scorer(0.1, seed=1)
    _, state = decode(encode({}, {"numpy": sc.state_dict()}))     # through the checkpoint's own format
    again.restore(state["numpy"])
    assert again.lo[0] == sc.lo[0] and again.hi[0] == sc.hi[0]
    bad = sc.state_dict() | {"range": np.zeros((2, 3))}
    with pytest.raises(ValueError, match=r"numpy\.range"):
        warm_scorer(0.1)[0].restore(bad)


def test_a_bad_margin_is_refused_with_its_key_path():
    with pytest.raises(ConfigError, match=r"scoring\.numpy\.extreme_margin"):
        config.from_dict({"sensors": ["v"], "sources": [{"type": "stdin"}],
                          "scoring": {"numpy": {"extreme_margin": -1}}})


def pipeline_alerts(margin: float, rows: list[Row]) -> list[float]:
    cfg = config.from_dict({
        "sensors": ["v"], "sources": [{"type": "stdin"}], "tick_s": 1, "topology": "none",
        "window": {"steps": 16}, "warmup": {"ticks": 300}, "scoring": {"chain": ["numpy"], "numpy": {
            "extreme_margin": margin, "seasonal_periods_s": []}},
        "alerts": {"cooldown_ticks": 0}})
    pipe = Pipeline(cfg)
    return [ev.ts for r in rows for ev in pipe.step(r).alerts if ev.event == "new"]


def test_through_the_pipeline_a_new_extreme_opens_an_alert_on_its_tick():
    """Spikes to +6 every 40 ticks from the start: the threshold learns them as the stream's own. A
    spike to +9 after the warm-up is above everything seen by more than 0.1 of the range."""
    rng = np.random.default_rng(3)
    none = np.zeros(1, bool)
    values = 10 + rng.normal(0, 0.3, 700)
    values[20::40] = 16.0
    values[600] = 19.0
    rows = [Row(ts=1e9 + t, values=np.array([v]), missing=none, carried=none) for t, v in enumerate(values)]
    assert 1e9 + 600 in pipeline_alerts(0.1, rows)
    off = pipeline_alerts(0.0, rows)
    on = pipeline_alerts(0.1, rows)
    assert set(off) <= set(on) and set(on) - set(off) <= {1e9 + 600}   # nothing else changes
