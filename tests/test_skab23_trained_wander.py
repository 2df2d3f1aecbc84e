"""The training plants' per-sensor profile wander: measured by the converter, shipped in the bundle
(`profile_wander`), used by the agent with `scoring.profile.trained_wander` (issue 10, twenty-third round).

What must hold: the converter measures a stretch's wander exactly as the agent would see it live (the same
fit, the same levels: one way to compute them); the field is checked like the rest of the manifest, with
its key path; a bundle without it, or the key off, scores as before, bit for bit; on, each sensor's
distance is divided by the bundle's wander (by the larger of it and the own wander with
per_sensor_fraction too), and a checkpoint carries it.
"""
from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest

from conftest import DEMO_BUNDLE_1001, NO_DEMO, built_once, bundle_root, demo_cfg, tiny_bundle

from agent import bundle as bundles
from agent.config import ConfigError, from_dict
from agent.manifest import ManifestError, parse
from agent.scorers.profile import NormalProfile, own_wander
from agent.window import WindowBuffer
from profile_runs import normalised_sim_rows, profile_before, wandering_levels
from convert.wander import profile_wander, segment_runs, stretch_wander, stretches


@functools.lru_cache(maxsize=None)
def wander_bundle():
    """conftest's tiny bundle, trained with a warm-up of 300 ticks (the demo's is a day, as long as the
    tiny bundle's data: no stretch fits a warm-up and as much again, so it has no `profile_wander`), with its
    onnx_fp32 export. Built once per run (built_once): this module's tests, split over xdist workers, each
    trained it before. Read-only: a test that changes it works on a copy."""
    return built_once("skab23-wander", _train_wander)


def _train_wander(out):
    from convert.pipeline import DataOptions, export_bundle, train_bundle
    from convert.train import TrainOptions
    options = TrainOptions(epochs=2, windows_per_epoch=1024, d_model=16, heads=2, ff_hidden=16, threads=1,
                           progress=False)
    train_bundle(demo_cfg(bundle_root(), warmup_ticks=300), out, options, DataOptions(days=1.0),
                 model_id="skab23-wander")
    export_bundle(out, ["onnx_fp32"], log=lambda *a: None)


@functools.lru_cache(maxsize=None)
def tiny_rows(count: int = 420):
    """The tiny bundle and `count` consecutive normalised (values, missing, ts) rows of the demo simulator."""
    return normalised_sim_rows(tiny_bundle(), demo_cfg(bundle_root()), 0.2, 23, count)


def runtime_forecast(scorer):
    """The scorer's own runtime as the converter's forecast function: (k, N) forecasts of (k, T, N) windows."""
    return lambda values, missing: np.array([scorer.run(values[i:i + 1], missing[i:i + 1])[0]
                                             for i in range(len(values))])


def test_the_converters_stretch_wander_is_the_agents_live_distance_over_its_warmup_range():
    """A warm-up-sized fit through ModelScorer.fit_profile, then the next rows scored tick by tick: the
    largest live profile distance over the largest warm-up one is what convert.wander measures."""
    from agent.scorers.onnx import OnnxScorer
    bundle, rows = tiny_rows()
    fit_ticks = 200
    scorer = OnnxScorer(bundle, "onnx_fp32")
    scorer.set_profile(profile_before(enabled=True, min_ticks=10))
    z, missing, ts = (np.array([r[k] for r in rows]) for k in range(3))
    assert scorer.fit_profile(z[:fit_ticks], missing[:fit_ticks], ts[:fit_ticks]) is not None
    buf = WindowBuffer(bundle.steps, len(bundle.sensors))
    live = []
    for i, (v, m, t) in enumerate(rows):
        buf.push(v, m, t)
        if i >= fit_ticks:              # the level ModelScorer.score compares with the profile
            forecast = scorer.run(*scorer.inputs(buf))[0] + scorer.forecast_offset
            live.append(scorer.profile.scores(scorer.level(buf.ts, forecast, buf.missing[-1])))
    live_ratio = np.maximum(np.nanmax(live, axis=0) / np.maximum(scorer.profile.normal, 1e-4), 1.0)
    from convert.data import window_arrays
    forecasts = runtime_forecast(scorer)(*window_arrays(z, missing, bundle.steps))
    measured = stretch_wander(forecasts, z, missing, bundle.steps, fit_ticks, 5.0)
    np.testing.assert_allclose(measured, live_ratio, rtol=1e-5)     # (live, the offset is added in float32)
    assert (measured >= 1.0).all()


def test_stretches_stay_in_one_segment_and_skip_labelled_rows():
    segment = np.array([0] * 10 + [1] * 25 + [2] * 7)
    anomalous = np.zeros(42, bool)
    anomalous[27] = True
    assert segment_runs(segment, 42) == [(0, 10), (10, 35), (35, 42)]
    assert segment_runs(segment, 30) == [(0, 10), (10, 30)]                # rows past `end` are not used
    assert segment_runs(None, 20) == [(0, 20)]
    # segment 1: stretches of 8 every 4 rows start at 10, 14, 18, 22, 26; 22 and 26 hold row 27
    assert stretches(anomalous, 10, 35, 8, 4) == [10, 14, 18]
    assert stretches(anomalous, 35, 42, 8, 4) == []                        # too short
    assert stretches(anomalous, 0, 20, 8, 4) == [0, 4, 8, 12]


def test_a_level_that_wanders_after_the_fit_gets_a_wander_and_a_steady_one_about_one():
    """With a forecast that repeats the last context row: sensor 0 steady noise, sensor 1 steady through
    each warm-up-sized fit and drifting away after it (a wander slower than the warm-up)."""
    rng = np.random.default_rng(3)
    steps, fit_ticks, n = 8, 100, 800
    z = 0.1 * rng.standard_normal((n, 2))
    for a in range(0, n, 2 * fit_ticks):
        z[a + fit_ticks:a + 2 * fit_ticks, 1] += np.linspace(0.0, 3.0, fit_ticks)
    missing = np.zeros_like(z, bool)
    last_row = lambda values, missing_w: values[:, -2, :]            # noqa: E731
    wander = profile_wander(last_row, ["steady", "drifting"], z, missing, np.zeros(n, bool), None, n, steps,
                            fit_ticks, 5.0)
    assert wander.chunks == 7 and wander.fit_ticks == wander.held_ticks == fit_ticks
    assert wander.sensors["steady"] == pytest.approx(1.0, abs=0.5)
    assert wander.sensors["drifting"] > 3.0
    short = profile_wander(last_row, ["steady", "drifting"], z, missing, np.zeros(n, bool), None, 150, steps,
                           fit_ticks, 5.0)
    assert short is None                                              # no stretch of 2 × fit_ticks: no field


def _manifest_dict(**wander) -> dict:
    data = json.loads((wander_bundle() / "manifest.json").read_text())
    data["profile_wander"] = {**data["profile_wander"], **wander}
    return data


def test_a_trained_bundle_ships_a_wander_for_every_sensor_read_back_as_written():
    bundle = bundles.load(wander_bundle())
    wander = bundle.manifest.profile_wander
    assert wander is not None and set(wander.sensors) == set(bundle.sensors) and wander.chunks >= 1
    assert (bundle.profile_wander() >= 1.0).all()
    data = json.loads((wander_bundle() / "manifest.json").read_text())
    assert parse(data).to_dict() == data                              # the checkpoint's bundle hash reads it back
    assert bundles.load(tiny_bundle()).manifest.profile_wander is None   # a day's warm-up in a day's data


@pytest.mark.parametrize("change, key", [
    ({"version": 2}, "profile_wander.version"),
    ({"sensors": {"S01_speed": 0.5}}, "profile_wander.sensors"),
    ({"chunks": 0}, "profile_wander.chunks"),
    ({"colour": "red"}, "profile_wander.colour"),
])
def test_a_bad_wander_is_refused_naming_its_key(change, key):
    data = _manifest_dict(**change)
    with pytest.raises(ManifestError) as exc:
        parse(data)
    assert any(p.startswith(key) for p in exc.value.problems), exc.value.problems


def test_a_wander_for_the_wrong_sensors_is_refused():
    data = _manifest_dict()
    sensors = dict(data["profile_wander"]["sensors"])
    first = next(iter(sensors))
    sensors["nosuch"] = sensors.pop(first)
    data["profile_wander"]["sensors"] = sensors
    with pytest.raises(ManifestError, match=f"profile_wander.sensors: no value for {first}"):
        parse(data)


def test_off_or_without_a_bundle_wander_scores_bit_for_bit_as_before_and_on_divides_by_it():
    levels, trained = wandering_levels(), np.array([1.5, 2.0])
    live = np.array([[0.4, 1.5], [0.0, 0.0], [np.nan, 2.0]])
    plain = NormalProfile(profile_before(enabled=True), ["a", "b"])
    off = NormalProfile(profile_before(enabled=True), ["a", "b"], trained)          # key off: ignored
    absent = NormalProfile(profile_before(enabled=True, trained_wander=True), ["a", "b"], None)
    on = NormalProfile(profile_before(enabled=True, trained_wander=True), ["a", "b"], trained)
    for p in (plain, off, absent, on):
        assert p.fit(levels)
    for p in (off, absent):
        assert p.wander is None and np.array_equal(p.scores(live), plain.scores(live))
    assert np.array_equal(on.wander, trained) and on.describe()["trained_wander"] is True
    assert on.scores(live) == pytest.approx(plain.scores(live) / trained)
    both = NormalProfile(profile_before(enabled=True, trained_wander=True, per_sensor_fraction=0.3), ["a", "b"],
                         trained)
    assert both.fit(levels)
    own = own_wander(levels, 0.3)
    assert own[1] > trained[1] > own[0]                               # sensor 1's own wander is the larger
    np.testing.assert_array_equal(both.wander, np.maximum(own, trained))


def test_the_scorer_reads_the_bundles_wander_and_a_checkpoint_carries_it():
    from agent.scorers.onnx import OnnxScorer
    _, rows = tiny_rows()
    bundle = bundles.load(wander_bundle())                            # exported as it was trained
    z, missing, ts = (np.array([r[k] for r in rows]) for k in range(3))
    scorer = OnnxScorer(bundle, "onnx_fp32")
    scorer.set_profile(profile_before(enabled=True, min_ticks=10, trained_wander=True))
    assert scorer.fit_profile(z[:200], missing[:200], ts[:200]) is not None
    np.testing.assert_array_equal(scorer.profile.wander, bundle.profile_wander())
    again = OnnxScorer(bundle, "onnx_fp32")
    again.set_profile(profile_before(enabled=True, min_ticks=10, trained_wander=True))
    again.restore(scorer.state_dict())
    np.testing.assert_array_equal(again.profile.wander, bundle.profile_wander())


@NO_DEMO
def test_a_bundle_without_the_field_scores_as_before_with_the_key_on(tmp_path):
    """The demo bundle shipped until corridor24 was written before profile_wander existed."""
    from agent.scorers.onnx import OnnxScorer
    bundle, rows = normalised_sim_rows(DEMO_BUNDLE_1001, demo_cfg(tmp_path), 0.2, 23, 300)
    assert bundle.manifest.profile_wander is None and bundle.profile_wander() is None
    z, missing, ts = (np.array([r[k] for r in rows]) for k in range(3))
    warm = []
    for on in (False, True):
        scorer = OnnxScorer(bundle, "onnx_fp32")
        scorer.set_profile(profile_before(enabled=True, min_ticks=10, trained_wander=on))
        warm.append(scorer.fit_profile(z, missing, ts))
        assert scorer.profile.wander is None
    np.testing.assert_array_equal(warm[0], warm[1])


def test_the_key_is_a_boolean_checked_with_its_path():
    base = {"sensors": ["a", "b"], "sources": [{"type": "stdin"}], "window": {"steps": 8},
            "warmup": {"ticks": 50}, "sinks": []}
    with pytest.raises(ConfigError, match="scoring.profile.trained_wander"):
        from_dict({**base, "scoring": {"profile": {"trained_wander": "yes please"}}})
    assert from_dict({**base, "scoring": {"profile": {"trained_wander": True}}}).scoring.profile.trained_wander


def test_an_old_manifest_without_the_field_reads_as_before(tmp_path):
    src = wander_bundle()
    out = tmp_path / "old"
    shutil.copytree(src, out)
    data = json.loads((out / "manifest.json").read_text())
    del data["profile_wander"]
    (out / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    bundle = bundles.load(out)
    assert bundle.manifest.profile_wander is None and bundle.profile_wander() is None
