"""The fallback chain on real runtimes and bundles: every fault puts the agent on the next tier within
the tick it happens in, the reason is logged once per switch, probation brings the tier back.

Faults are real: the shipped demo bundle with NaN weights written into its fp32 model files
(conftest.nan_weights_in: torch-free), a bundle with no TFLite artifact, an interpreter whose input
tensor no longer has the window's shape, a latency budget no runtime meets. No torch needed.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, demo_cfg, sim_rows, variant  # noqa: E402

from agent import bundle as bundles  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

WARMUP = 300
pytestmark = NO_DEMO


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.15)


def nan_bundle():
    return bundles.load(variant("demo-nan", src=DEMO_BUNDLE, keep=["onnx_fp32", "tflite_fp32"], nan_weights=True))


def good_bundle():
    return bundles.load(DEMO_BUNDLE)


def run(pipe: Pipeline, rows, ticks: int) -> list:
    """Warm up, then score `ticks` ticks; every scored tick's result."""
    out = []
    for r in rows[:WARMUP + ticks]:
        res = pipe.step(r)
        if not res.warming:
            assert np.isfinite(res.score), "a tick went unscored"
            out.append(res)
    assert len(out) == ticks
    return out


def switch_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("scorer tier ")]


def switch_levels(caplog) -> list[str]:
    return [r.levelname for r in caplog.records if r.getMessage().startswith("scorer tier ")]


def test_nan_outputs_step_down_through_every_tier_within_one_tick(tmp_path, rows, caplog):
    from agent.scorers.onnx import OnnxScorer
    from agent.scorers.tflite import TfliteScorer

    bad = nan_bundle()
    pipe = Pipeline(demo_cfg(tmp_path, warmup_ticks=WARMUP), tiers=[TfliteScorer(bad), OnnxScorer(bad)])
    with caplog.at_level(logging.WARNING, logger="stad.scorer"):
        results = run(pipe, rows, 3)
    assert [r.tier for r in results] == ["numpy"] * 3
    lines = switch_lines(caplog)
    assert lines == ["scorer tier tflite -> onnx: tflite failed: ScorerError: tflite_fp32 returned NaN/inf outputs",
                     "scorer tier onnx -> numpy: onnx failed: ScorerError: onnx_fp32 returned NaN/inf outputs"]
    assert switch_levels(caplog) == ["WARNING", "WARNING"]
    snap = pipe.snapshot()
    assert snap["tier"] == "numpy" and snap["tier_switches"] == 2
    assert "NaN/inf" in snap["last_tier_switch"]["reason"]


def test_a_faulty_top_tier_leaves_the_next_runtime_scoring(tmp_path, rows, caplog):
    from agent.scorers.onnx import OnnxScorer
    from agent.scorers.tflite import TfliteScorer

    pipe = Pipeline(demo_cfg(tmp_path, warmup_ticks=WARMUP), tiers=[TfliteScorer(nan_bundle()), OnnxScorer(good_bundle())])
    with caplog.at_level(logging.WARNING, logger="stad.scorer"):
        results = run(pipe, rows, 5)
    assert [r.tier for r in results] == ["onnx"] * 5
    assert switch_lines(caplog) == ["scorer tier tflite -> onnx: tflite failed: ScorerError: "
                                    "tflite_fp32 returned NaN/inf outputs"]
    assert results[0].time_weights is not None and results[0].time_weights[-1] == 0
    assert pipe.snapshot()["model"]["artifact"] == "model_int8.onnx"


def test_an_inference_that_raises_steps_down(tmp_path, rows, caplog):
    from agent.scorers.onnx import OnnxScorer
    from agent.scorers.tflite import TfliteScorer

    tfl = TfliteScorer(good_bundle())
    index = tfl._in[0][0]
    # The runtime now rejects the window. The scorer holds views of the interpreter's tensors (the
    # public resize refuses while they exist), so this resizes the wrapped C++ interpreter, which
    # the scorer invokes; its next invoke fails ("model not ready"), as a broken runtime would.
    tfl.interpreter._interpreter.ResizeInputTensor(index, np.array([1, 31, 18], np.int32), False)
    pipe = Pipeline(demo_cfg(tmp_path, warmup_ticks=WARMUP), tiers=[tfl, OnnxScorer(good_bundle())])
    with caplog.at_level(logging.WARNING, logger="stad.scorer"):
        results = run(pipe, rows, 2)
    assert [r.tier for r in results] == ["onnx", "onnx"]
    (line,) = switch_lines(caplog)
    assert line.startswith("scorer tier tflite -> onnx: tflite failed: RuntimeError:")


def test_over_the_latency_budget_for_k_ticks_steps_down(tmp_path, rows, caplog):
    from agent.scorers.onnx import OnnxScorer

    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, latency_budget_ms=0.01, fault_ticks=3)
    pipe = Pipeline(cfg, tiers=[OnnxScorer(good_bundle())])
    with caplog.at_level(logging.WARNING, logger="stad.scorer"):
        results = run(pipe, rows, 5)
    assert [r.tier for r in results] == ["onnx"] * 3 + ["numpy"] * 2
    (line,) = switch_lines(caplog)
    assert line.startswith("scorer tier onnx -> numpy: onnx failed: over the latency budget (")
    assert line.endswith("> 0.01 ms for 3 ticks)")


def test_probation_retries_the_tier_and_each_switch_is_logged_once(tmp_path, rows, caplog):
    from agent.scorers.tflite import TfliteScorer

    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, probation_ticks=4)
    pipe = Pipeline(cfg, tiers=[TfliteScorer(nan_bundle())])
    with caplog.at_level(logging.INFO, logger="stad.scorer"):
        results = run(pipe, rows, 10)
    assert all(r.tier == "numpy" for r in results)
    lines = switch_lines(caplog)
    down = "scorer tier tflite -> numpy: tflite failed: ScorerError: tflite_fp32 returned NaN/inf outputs"
    up = "scorer tier numpy -> tflite: probation over, retrying tflite"
    # Ticks 1, 5 and 9: down, then (after 4 ticks of probation) up and straight down again, twice.
    assert lines == [down, up, down, up, down]
    # A step down is a fault (WARNING); the step back up is not (INFO): user13 read a WARNING as "degraded".
    assert switch_levels(caplog) == ["WARNING", "INFO", "WARNING", "INFO", "WARNING"]
    assert pipe.chain.switch_count == 5


def test_probation_brings_a_recovered_tier_back(tmp_path, rows, caplog):
    from agent.scorers.onnx import OnnxScorer

    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, latency_budget_ms=0.01, fault_ticks=1, probation_ticks=3)
    pipe = Pipeline(cfg, tiers=[OnnxScorer(good_bundle())])
    for r in rows[:WARMUP + 1]:
        pipe.step(r)
    assert pipe.chain.tier == "numpy"
    pipe.cfg.scoring.latency_budget_ms = 1000.0      # the runtime is fast enough again
    results = [pipe.step(r) for r in rows[WARMUP + 1:WARMUP + 5]]
    assert [r.tier for r in results] == ["numpy", "numpy", "onnx", "onnx"]
    assert pipe.chain.switches[-1]["reason"] == "probation over, retrying onnx"


def test_a_refused_bundle_starts_the_agent_on_the_next_tier(tmp_path, rows, caplog):
    cfg = demo_cfg(tmp_path, warmup_ticks=WARMUP, bundle=str(variant("demo-onnx-only", src=DEMO_BUNDLE,
                                                                   keep=["onnx_fp32", "onnx_int8"])))
    with caplog.at_level(logging.WARNING, logger="stad.scorer"):
        pipe = Pipeline(cfg)
    assert "scorer tflite refused the bundle" in caplog.text
    assert "no tflite_int8 or tflite_fp32 artifact" in caplog.text
    results = run(pipe, rows, 2)
    assert [r.tier for r in results] == ["onnx", "onnx"]


# ---- blending the model tier with the fallback (scoring.blend_numpy) ------------------------------

def test_a_blended_tick_mixes_each_tier_over_its_own_threshold(tmp_path, rows):
    """blend_numpy 0.5 on the real int8 ONNX tier: each sensor's score is (model / its threshold +
    0.5 × numpy / its threshold) / 1.5, in the model's threshold units; the pipeline scores with it."""
    from agent.scorers.onnx import OnnxScorer

    pipe = Pipeline(demo_cfg(tmp_path, warmup_ticks=WARMUP, blend_numpy=0.5), tiers=[OnnxScorer(good_bundle())])
    results = run(pipe, rows, 20)
    assert {r.tier for r in results} == {"onnx"}
    model, fallback = pipe.chain.tiers[0].score(pipe.window), pipe.numpy.score(pipe.window)
    thr_model, thr_numpy = pipe.detector.threshold("onnx"), pipe.detector.threshold("numpy")
    assert thr_model != pytest.approx(thr_numpy)           # the mix is not a plain mean
    blended = pipe.chain.score_blended(pipe.window, pipe.detector.threshold)
    expected = (model.sensor_scores / thr_model + 0.5 * fallback.sensor_scores / thr_numpy) / 1.5 * thr_model
    assert blended.tier == "onnx"
    assert np.allclose(blended.sensor_scores, expected)
    assert blended.score == pytest.approx(expected.max())
    assert blended.time_weights is not None                 # the explanation is still the model's attention
    assert not np.allclose(blended.sensor_scores, model.sensor_scores)


def test_a_failed_model_tier_leaves_numpy_scoring_alone_unblended(tmp_path, rows):
    """The chain stays the answer to faults: with the only model tier faulty, numpy scores every
    tick by itself, exactly as without blending."""
    from agent.scorers.tflite import TfliteScorer

    pipe = Pipeline(demo_cfg(tmp_path, warmup_ticks=WARMUP, blend_numpy=1.0), tiers=[TfliteScorer(nan_bundle())])
    results = run(pipe, rows, 5)
    assert [r.tier for r in results] == ["numpy"] * 5
    alone = pipe.numpy.score(pipe.window)
    blended = pipe.chain.score_blended(pipe.window, pipe.detector.threshold)
    assert blended.tier == "numpy" and np.array_equal(blended.sensor_scores, alone.sensor_scores)


def test_blend_numpy_is_validated_with_its_key_path(tmp_path):
    from agent.config import from_dict
    from agent.typed import ConfigError
    from conftest import demo_dict

    d = demo_dict(tmp_path, blend_numpy=-0.5)
    with pytest.raises(ConfigError, match=r"scoring\.blend_numpy: must be >= 0"):
        from_dict(d)
