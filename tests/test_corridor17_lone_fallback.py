"""`scoring.blend_numpy_lone` k: the blend's weighted mean, and each sensor at least the numpy fallback's own
score over k times its threshold (in the model's threshold's units), so the fallback's lone evidence is not
diluted by a model tier that sees nothing there. Real parts: the shipped int8 ONNX tier on the demo corridor."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from conftest import DEMO_BUNDLE, NO_DEMO, demo_cfg, demo_dict, sim_rows  # noqa: E402

from agent import bundle as bundles  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

WARMUP = 300
pytestmark = NO_DEMO


def warmed(tmp_path, **scoring) -> Pipeline:
    from agent.scorers.onnx import OnnxScorer

    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.12)
    pipe = Pipeline(demo_cfg(tmp_path, warmup_ticks=WARMUP, **scoring), tiers=[OnnxScorer(bundles.load(DEMO_BUNDLE))])
    for r in rows[:WARMUP + 10]:
        pipe.step(r)
    assert pipe.chain.current.TYPE == "onnx"
    return pipe


def test_each_sensor_is_the_mean_or_the_fallbacks_own_ratio_over_k_whichever_is_larger(tmp_path):
    pipe = warmed(tmp_path, blend_numpy=0.25, blend_numpy_lone=1.5)
    model, fallback = pipe.chain.tiers[0].score(pipe.window), pipe.numpy.score(pipe.window)
    thr_m, thr_n = pipe.detector.threshold("onnx"), pipe.detector.threshold("numpy")
    mean = (model.sensor_scores / thr_m + 0.25 * fallback.sensor_scores / thr_n) / 1.25 * thr_m
    lone = fallback.sensor_scores / (1.5 * thr_n) * thr_m
    assert np.any(lone > mean) and np.any(mean > lone)       # this tick tells the two terms apart
    blended = pipe.chain.score_blended(pipe.window, pipe.detector.threshold)
    assert np.allclose(blended.sensor_scores, np.maximum(mean, lone))
    assert blended.score == pytest.approx(np.maximum(mean, lone).max())
    assert blended.tier == "onnx" and blended.time_weights is not None     # still the model's explanation
    # the hot-swap shadow blends a candidate the same way (pipeline.score_beside, the tick's fallback score)
    beside = pipe.score_beside(pipe.chain.tiers[0], thr_m)
    assert np.allclose(beside.sensor_scores, blended.sensor_scores)


def test_a_sensor_the_fallback_alone_sees_alarms_past_k_times_its_threshold_not_under(tmp_path):
    """Where the model sees nothing (0), the mean needs the fallback at (1 + w) / w = 5 times its threshold
    (w 0.25); with k 2 the fallback's own 2.4 times alarms and its 1.6 times does not."""
    from agent.scorers.base import TickScore, tick_score
    from agent.scorers.chain import blend

    def ts(v):
        s = np.asarray(v, dtype=float)
        return TickScore(sensor_scores=s, score=tick_score(s), tier="x", explanation=None)

    model, fallback = ts([0.0, 0.0]), ts([2.4 * 3.0, 1.6 * 3.0])     # numpy threshold 3, model threshold 7
    mean = blend(model, fallback, 7.0, 3.0, 0.25)
    assert np.all(mean.sensor_scores < 7.0)
    lone = blend(model, fallback, 7.0, 3.0, 0.25, lone_margin=2.0)
    assert lone.sensor_scores[0] > 7.0 > lone.sensor_scores[1]
    assert lone.sensor_scores[0] == pytest.approx(2.4 / 2.0 * 7.0)


def test_the_margin_is_validated_with_its_key_path_and_off_by_default(tmp_path):
    from agent.config import from_dict
    from agent.typed import ConfigError

    assert from_dict(demo_dict(tmp_path)).scoring.blend_numpy_lone is None
    with pytest.raises(ConfigError, match=r"scoring\.blend_numpy_lone: must be >= 1"):
        from_dict(demo_dict(tmp_path, blend_numpy_lone=0.5))
