"""The attention tiers' lasting-shift statistic (agent/scorers/forecast_error.py).

- forecast_error's bias is the numpy fallback's (ar.py) on the same residuals: one statistic;
- a model scorer scoring a run tick by tick gives the converter's batch scores (run_scores),
  is idempotent per tick (shadow / retry), and a scorer that just became active starts from an
  empty history (zeros) and catches up after T ticks;
- on the demo bundle, a lasting level shift keeps the shifted sensor's score up across ticks
  while the model's point error falls back.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, bundle_root, demo_cfg, sim_rows, tiny_bundle  # noqa: E402

from agent import bundle as bundles  # noqa: E402
from agent.scorers import forecast_error as fe  # noqa: E402
from agent.scorers.ar import ARModel  # noqa: E402
from agent.window import Normaliser, WindowBuffer  # noqa: E402
from profile_runs import normalised_sim_rows  # noqa: E402


# ---- the statistic itself ----------------------------------------------------------------------------

def test_one_half_life_and_the_bias_is_the_ar_fallbacks():
    from agent.scorers import ar
    assert ar.BIAS_HALF_LIFE_TICKS is fe.BIAS_HALF_LIFE_TICKS
    rng = np.random.default_rng(3)
    n, p, steps = 4, 3, 32
    z = np.cumsum(rng.normal(size=(400, n)), axis=0) * 0.1 + rng.normal(size=(400, n))
    missing = rng.random((400, n)) < 0.05
    z = np.where(missing, 0.0, z)
    model = ARModel(n, p, 0.999)
    model.fit(z[:300], missing[:300])
    r = model.residuals(z, missing)
    # the single-window form: AR's weights @ residuals == ew_bias
    for m in (1, 5, steps - p):
        np.testing.assert_allclose(fe.ew_bias(r[-m:]), model.bias_weights(m) @ r[-m:], rtol=1e-12, atol=1e-12)
    w = fe.bias_weights(steps - p)
    assert np.isclose((w * w).sum(), 1.0) and np.isclose(w[-9] / w[-1], 0.5)      # half-life 8 ticks
    # the batch form: AR's scores over a block == run_scores over its residuals (no newest missing)
    np.testing.assert_allclose(model.batch_scores(z, missing, steps),
                               fe.run_scores(r, np.zeros_like(r, bool), steps - p), rtol=1e-12, atol=1e-12)


def test_combined_scores_take_the_larger_statistic_and_zero_missing_sensors():
    err = np.array([[1.0, -1.0, 0.5]] * 40)
    missing = np.zeros_like(err, bool)
    missing[-1, 2] = True
    scores = fe.run_scores(err, missing, 32)
    full = fe.bias_weights(32).sum()                       # a constant error of 1 over a full span
    np.testing.assert_allclose(scores[-1], [full, full, 0.0])
    assert full > 3.0                                      # the lasting shift stands out of N(0,1)
    np.testing.assert_allclose(scores[0], [1.0, 1.0, 0.5])  # no history yet: the point error
    spike = np.zeros((40, 1))
    spike[20] = 5.0
    np.testing.assert_allclose(fe.run_scores(spike, np.zeros_like(spike, bool), 32)[20], [5.0])


# ---- the model scorer's history ------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def tiny_run(count: int = 120):
    """A tiny bundle and `count` consecutive (values, missing, ts) rows of the demo simulator."""
    return normalised_sim_rows(tiny_bundle(), demo_cfg(bundle_root()), 0.2, 21, count)


def drive(scorer, rows, steps, times=1):
    """Score every full window of `rows` `times` times each; (tick scores, signed errors of the
    newest rows from the scorer's own forecasts, newest-missing masks) per window."""
    buf = WindowBuffer(steps, len(scorer.bundle.sensors))
    scores, errors, missing = [], [], []
    for v, m, ts in rows:
        buf.push(v, m, ts)
        if not buf.ready:
            continue
        forecast = scorer.run(*scorer.inputs(buf))[0]
        for _ in range(times):
            res = scorer.score(buf)
        scores.append(res.sensor_scores.copy())
        errors.append(fe.signed_errors(buf.values[-1], buf.missing[-1], forecast, scorer.residual))
        missing.append(buf.missing[-1].copy())
    return np.array(scores), np.array(errors), np.array(missing)


def test_tick_by_tick_scores_are_the_converters_batch_scores_and_idempotent():
    from agent.scorers.onnx import OnnxScorer
    bundle, rows = tiny_run()
    scores, errors, missing = drive(OnnxScorer(bundle, "onnx_fp32"), rows, bundle.steps)
    np.testing.assert_allclose(scores, fe.run_scores(errors, missing, bundle.steps), rtol=1e-9, atol=1e-9)
    assert (scores > np.abs(errors) + 1e-6).any()          # the bias did take over somewhere
    twice, _, _ = drive(OnnxScorer(bundle, "onnx_fp32"), rows, bundle.steps, times=2)
    np.testing.assert_array_equal(twice, scores)


def test_the_converters_calibration_scores_are_what_the_agent_computes():
    """convert.train.calibration_scores over time-ordered windows == the scorer tick by tick."""
    from agent.scorers.onnx import OnnxScorer
    from convert.data import Windows
    from convert.train import calibration_scores
    bundle, rows = tiny_run()
    probe = OnnxScorer(bundle, "onnx_fp32")
    buf = WindowBuffer(bundle.steps, len(bundle.sensors))
    values, missing, forecasts = [], [], []
    for v, m, ts in rows:
        buf.push(v, m, ts)
        if buf.ready:
            values.append(buf.values.astype(np.float32))
            missing.append(buf.missing.astype(np.float32))
            forecasts.append(probe.run(*probe.inputs(buf))[0].copy())
    w = Windows(np.stack(values), np.stack(missing), np.ones(len(values), bool))
    scale, ticks = calibration_scores(w, np.stack(forecasts), bundle.steps)
    agent = OnnxScorer(bundle, "onnx_fp32")
    agent.residual = scale
    scores, _, _ = drive(agent, rows, bundle.steps)
    np.testing.assert_allclose(ticks, scores.max(axis=1), rtol=1e-9, atol=1e-9)
    # A window labelled anomalous is not scored and counts as an unknown (0) tick for the ones
    # after it: as for an agent scorer that did not score those ticks.
    usable = np.ones(len(values), bool)
    usable[40:45] = False
    scale, some = calibration_scores(Windows(w.values, w.missing, usable), np.stack(forecasts), bundle.steps)
    assert len(some) == usable.sum()
    skipping = OnnxScorer(bundle, "onnx_fp32")
    skipping.residual = scale
    buf = WindowBuffer(bundle.steps, len(bundle.sensors))
    expected, k = [], 0
    for v, m, ts in rows:
        buf.push(v, m, ts)
        if buf.ready:
            if usable[k]:
                expected.append(skipping.score(buf).score)
            k += 1
    np.testing.assert_allclose(some, expected, rtol=1e-9, atol=1e-9)


def test_a_scorer_that_just_became_active_starts_with_zeros_and_catches_up():
    from agent.scorers.tflite import TfliteScorer
    bundle, rows = tiny_run()
    steps = bundle.steps
    early = TfliteScorer(bundle, "tflite_fp32")
    late = TfliteScorer(bundle, "tflite_fp32")
    buf = WindowBuffer(steps, len(bundle.sensors))
    first_late = None
    for i, (v, m, ts) in enumerate(rows):
        buf.push(v, m, ts)
        if not buf.ready:
            continue
        a = early.score(buf).sensor_scores
        if i < 2 * steps:                                  # `late` is idle (stepped down / not swapped in)
            continue
        b = late.score(buf).sensor_scores
        if first_late is None:
            first_late = i
            err = fe.signed_errors(buf.values[-1], buf.missing[-1], late.run(*late.inputs(buf))[0], late.residual)
            np.testing.assert_allclose(b, np.abs(err), rtol=1e-9, atol=1e-9)   # empty history: point score
        if i >= first_late + steps - 1:                    # the window's ticks are all its own now
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)
    assert first_late is not None and len(late._history) <= 2 * steps



def test_carried_runs_from_a_filling_window_with_a_replaced_offset_score_what_a_rebuild_scores():
    """The scorer carries its run of recorded errors from call to call, keyed by the window's tick
    stamps as bytes (model_scorer.TickRun): from the first row of a window still filling (NaN
    stamps), one tick on, the same tick again, and after its forecast offset is replaced, it scores
    what a scorer rebuilding the run from its history every call scores. The offset is skipped
    only while it is all zeros; the recorded errors are not changed by later ticks."""
    from agent.scorers.tflite import TfliteScorer
    bundle, rows = tiny_run()
    n, steps = len(bundle.sensors), bundle.steps
    carried, rebuilt = TfliteScorer(bundle, "tflite_fp32"), TfliteScorer(bundle, "tflite_fp32")
    buf = WindowBuffer(steps, n)
    offset = np.linspace(-0.3, 0.3, n).astype(np.float32)
    earlier = {}
    for i, (v, m, ts) in enumerate(rows):
        buf.push(v, m, ts)
        if i == 60:
            carried.forecast_offset, rebuilt.forecast_offset = offset, offset.copy()
        for _ in range(2 if i % 5 == 0 else 1):          # now and then the same tick twice
            rebuilt._error_run.forget()
            a, b = carried.score(buf), rebuilt.score(buf)
            np.testing.assert_allclose(a.sensor_scores, b.sensor_scores, rtol=1e-12, atol=1e-12)
        state = carried.state_dict()
        for t, e in zip(state["ts"], state["errors"]):
            if t in earlier:
                np.testing.assert_array_equal(e, earlier[t])  # a tick's recorded errors stay as recorded
        earlier = dict(zip(state["ts"], state["errors"].copy()))
    assert carried._error_run.ts is not None
    fresh = TfliteScorer(bundle, "tflite_fp32")         # no history: the point error, offset applied
    fresh.forecast_offset = offset
    forecast = fresh.run(*fresh.inputs(buf))[0]
    err = fe.signed_errors(buf.values[-1], buf.missing[-1], forecast + offset, fresh.residual)
    np.testing.assert_allclose(fresh.score(buf).sensor_scores, np.abs(err), rtol=1e-9, atol=1e-9)

# ---- a lasting shift on the demo bundle -----------------------------------------------------------------

@NO_DEMO
def test_a_lasting_shift_keeps_the_attention_score_up():
    from agent.scorers.tflite import TfliteScorer
    bundle = bundles.load(DEMO_BUNDLE)
    norm = Normaliser.from_manifest(bundle.normalisation, bundle.sensors)
    rows = sim_rows(demo_cfg(bundle_root()), days=0.3, seed=11, anomalies="none")
    scorer = TfliteScorer(bundle)
    s = bundle.sensors.index("S03_speed")
    shift = 15.0                                           # residual_std units, held for 100 ticks
    onset, end = 600, 700
    buf = WindowBuffer(bundle.steps, len(bundle.sensors))
    combined, point = {}, {}
    for i, r in enumerate(rows[:end]):
        z = norm.apply(r.values).copy()
        if i >= onset:
            z[s] += shift * scorer.residual[s]
        buf.push(z, r.missing, r.ts)
        if not buf.ready:
            continue
        combined[i] = scorer.score(buf).sensor_scores[s]
        forecast = scorer.run(*scorer.inputs(buf))[0]
        point[i] = fe.sensor_scores(buf.values[-1], buf.missing[-1], forecast, scorer.residual)[s]
    lasting = [i for i in range(onset + 5, end)]
    c, p = np.array([combined[i] for i in lasting]), np.array([point[i] for i in lasting])
    threshold = float(bundle.threshold["value"])
    assert point[onset] > threshold                        # the onset is a break either way
    # the model follows the shift: its point error falls back below the threshold …
    assert np.mean(p > threshold) < 0.2, p
    # … the bias does not: the sensor's score stays well above calm levels for the whole shift
    assert np.median(c) > 2.0 * np.median(p), (np.median(c), np.median(p))
    calm = np.array([combined[i] for i in range(bundle.steps + 50, onset)])
    assert c.min() > 2.0 * np.quantile(calm, 0.99), (c.min(), np.quantile(calm, 0.99))
    # the model partly follows even the bias (it reads the shifted context), so a 15σ shift is
    # above the threshold for part of the time only — the point error alone for none of it
    assert np.mean(c > threshold) > 0.25 and np.mean(p > threshold) == 0.0, (np.mean(c > threshold), threshold)
    assert np.quantile(calm, 0.99) < threshold
