"""The model tiers' normal profile, fitted on the device at warm-up (agent/scorers/profile.py).

The profile is what lets a forecaster keep scoring a lasting shift for as long as it lasts: on
the committed demo bundle (real int8 TFLite / ONNX), a sensor held 2 σ off its warm-up level
keeps the tier above its own warm-up threshold for the whole shift with the profile, and not
without it. Short warm-ups fall back to the bundle's threshold; drifting sensors are judged by
their point error only; bad config is refused with its key path.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from agent.config import ConfigError, from_dict
from agent.scorers.profile import NormalProfile, ew_level, level_weights
from profile_runs import profile_before

REPO = Path(__file__).resolve().parent.parent
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"


# ---- the pure parts -----------------------------------------------------------------------------

def test_level_is_an_ew_mean_over_the_known_forecasts():
    w = level_weights(8, 2.0)
    assert w.sum() == pytest.approx(1.0) and w[-1] == pytest.approx(2 * w[-3])
    run = np.array([[1.0, 5.0]] * 7 + [[3.0, np.nan]])
    known = np.isfinite(run)
    level = ew_level(run, known, 2.0)
    assert 1.0 < level[0] < 3.0                 # pulled towards the newest forecast
    assert level[1] == pytest.approx(5.0)       # the unknown newest one is left out
    assert np.isnan(ew_level(np.full((4, 1), np.nan), np.zeros((4, 1), bool), 2.0))[0]


def test_profile_fits_scores_and_refuses_too_few_ticks():
    rng = np.random.default_rng(0)
    levels = rng.normal([0.0, 1.0, -2.0], [0.1, 0.2, 0.3], size=(300, 3))
    prof = NormalProfile(profile_before(enabled=True, min_ticks=100, drifting=["c"]), ["a", "b", "c"])
    assert prof.fit(levels) and prof.fitted and prof.ticks == 300
    s = prof.scores(np.array([0.5, 1.0, 10.0]))
    assert s[0] == pytest.approx(5.0, rel=0.15) and s[1] < 0.5
    assert s[2] == 0.0                          # drifting: no profile score however far it is
    assert prof.scores(np.array([0.0, np.nan, 0.0]))[1] == 0.0
    short = NormalProfile(profile_before(enabled=True, min_ticks=100), ["a", "b", "c"])
    assert not short.fit(levels[:50]) and not short.fitted
    assert (short.scores(np.ones(3)) == 0).all()
    floored = NormalProfile(profile_before(enabled=True, min_ticks=10), ["a"])
    floored.fit(np.zeros((50, 1)), floor=np.array([0.5]))
    assert floored.std[0] == 0.5                # a level that never moved: the noise floor


def test_weight_scales_the_profile_distance():
    levels = np.random.default_rng(1).normal([0.0, 1.0], [0.1, 0.2], size=(300, 2))
    full = NormalProfile(profile_before(enabled=True), ["a", "b"])
    half = NormalProfile(profile_before(enabled=True, weight=0.5), ["a", "b"])
    assert full.fit(levels) and half.fit(levels)
    far = np.array([0.7, 1.0])
    assert half.scores(far) == pytest.approx(0.5 * full.scores(far))


def test_a_slow_drift_is_followed_when_calm_and_a_step_is_not():
    """track_half_life_ticks: inside the warm-up range μ follows the level (a slow drift of normal stays
    inside it), outside the range μ stays put (a step keeps its full distance); the same tick scored
    twice tracks once; off (0), μ never moves."""
    levels = np.random.default_rng(4).normal([0.0, 0.0], [0.1, 0.1], size=(300, 2))
    tracked = NormalProfile(profile_before(enabled=True, track_half_life_ticks=20.0), ["a", "b"])
    fixed = NormalProfile(profile_before(enabled=True), ["a", "b"])
    assert tracked.fit(levels) and fixed.fit(levels)
    start = tracked.mean.copy()
    for tick in range(400):                                 # a drifts 0.002 a tick: 8 warm-up σ in 400 ticks
        level = np.array([0.002 * tick, 0.0])
        for profile in (tracked, fixed):
            profile.track(level, profile.scores(level), float(tick))
    drifted = np.array([0.8, 0.0])
    assert fixed.scores(drifted)[0] > 7                     # without tracking: far off its warm-up level
    assert tracked.scores(drifted)[0] < tracked.normal[0]   # with it: inside its range still
    assert (fixed.mean == start).all()
    mean = tracked.mean.copy()
    step = np.array([0.8 + 1.0, 0.0])                       # a 10-σ step on top of the drift
    for _ in range(2):                                      # the same tick twice: tracked once
        tracked.track(step, tracked.scores(step), 400.0)
        assert tracked.mean[0] == mean[0]                   # outside the range: μ stays put
    for tick in range(401, 600):
        tracked.track(step, tracked.scores(step), float(tick))
    assert tracked.scores(step)[0] > 8                      # a lasting step keeps its distance
    inside = np.array([0.8 + 0.1, 0.0])
    tracked.track(inside, tracked.scores(inside), 600.0)
    again = tracked.mean.copy()
    tracked.track(inside, tracked.scores(inside), 600.0)    # a retry of tick 600 starts from μ before it
    assert (tracked.mean == again).all() and again[0] > mean[0]   # (b, calm all along, tracks too)
    gap = np.zeros((8, 2), bool)
    gap[:3, 0] = True                                       # a's window not read in full: no learning
    before = tracked.mean.copy()
    tracked.track(inside, tracked.scores(inside), 601.0, gap)
    assert tracked.mean[0] == before[0]


def test_lasting_shift_statistic_is_kept_only_where_configured():
    sensors = ["a", "b", "c"]
    kept = NormalProfile(profile_before(enabled=True, drifting=["c"]), sensors).bias_kept()
    assert list(kept) == [True, True, False]
    assert NormalProfile(profile_before(enabled=True, lasting_shift=False), sensors).bias_kept() is False


def test_profile_config_is_validated_with_key_paths(tmp_path):
    base = {"sensors": ["a", "b"], "sources": [{"type": "stdin"}], "window": {"steps": 8},
            "warmup": {"ticks": 50}, "sinks": []}
    cfg = from_dict({**base, "scoring": {"profile": {"enabled": True, "drifting": ["b"]}}})
    assert cfg.scoring.profile.enabled and cfg.scoring.profile.drifting == ["b"]
    assert from_dict(base).scoring.profile.enabled          # on by default since the skab32 round
    with pytest.raises(ConfigError) as err:
        from_dict({**base, "scoring": {"profile": {"drifting": ["nope"], "half_life": 3,
                                                   "min_ticks": 2}}})
    text = str(err.value)
    assert "scoring.profile.half_life" in text and "scoring.profile.min_ticks" in text
    with pytest.raises(ConfigError) as err:
        from_dict({**base, "scoring": {"profile": {"drifting": ["nope"]}}})
    assert "scoring.profile.drifting[0]" in str(err.value) and "nope" in str(err.value)
    with pytest.raises(ConfigError) as err:
        from_dict({**base, "scoring": {"profile": {"weight": 0, "lasting_shift": "no"}}})
    text = str(err.value)
    assert "scoring.profile.weight" in text and "scoring.profile.lasting_shift" in text
    with pytest.raises(ConfigError) as err:
        from_dict({**base, "scoring": {"profile": {"track_half_life_ticks": -1}}})
    assert "scoring.profile.track_half_life_ticks" in str(err.value)
    assert from_dict({**base, "scoring": {"profile": {"track_half_life_ticks": 50}}}).scoring.profile.track_half_life_ticks == 50
    ok = from_dict({**base, "scoring": {"profile": {"weight": 0.8, "lasting_shift": False}}})
    assert (ok.scoring.profile.weight, ok.scoring.profile.lasting_shift) == (0.8, False)


# ---- on the real int8 demo bundle ---------------------------------------------------------------

pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")

from profile_runs import above_threshold, demo_config, run, stationary_rows, std_of, tier_runs  # noqa: E402


@pytest.mark.parametrize("tier,profile", [("tflite", {}), ("onnx", {}),
                                          ("tflite", {"lasting_shift": False, "weight": 0.8})],
                         ids=["tflite", "onnx", "tflite-profile-only-shift"])
def test_a_lasting_shift_scores_high_for_as_long_as_it_lasts(tier, profile):
    warm, n, lo, hi = 400, 1000, 600, 900
    cfg = demo_config({"enabled": True, **profile}, warm)
    rows = stationary_rows(cfg, n, shift=(7, lo, hi, 2.0))
    pipe, results = run(cfg, rows, tier)
    scorer = pipe.chain.tiers[0]
    assert scorer.profile.fitted and scorer.describe()["profile"]["fitted"]
    manifest_threshold = scorer.manifest.threshold["value"]
    assert pipe.thresholds[tier].value != pytest.approx(manifest_threshold)   # this plant's own
    above = above_threshold(results)
    idx = np.arange(warm, n)
    inside = (idx >= lo + 10) & (idx < hi)           # the level has had a few ticks to move
    assert above[inside].mean() > 0.95
    assert above[(idx < lo)].mean() < 0.02 and above[idx >= hi + 20].mean() < 0.02
    # the same data without the profile: the forecaster follows the shift and the score falls back
    _, plain = run(demo_config({"enabled": False}, warm), rows, tier)
    plain_above = above_threshold(plain)
    assert plain_above[inside].mean() < 0.5


def test_a_slow_drift_after_warm_up_stops_alarming_with_tracking_and_a_step_still_scores():
    """track_half_life_ticks on the real int8 demo bundle: a sensor that drifts 1 σ in the 450 ticks after
    warm-up (about ten σ of its warm-up level) keeps the tier above its threshold without tracking and
    not with it; a 1-σ step on top of the drift (ten σ more) scores either way. The tracked level survives a checkpoint (state_dict / restore)."""
    warm, n, lo, hi = 400, 1100, 850, 950
    rows = stationary_rows(demo_config({"enabled": True}, warm), n, seed=3)
    for i, r in enumerate(rows[warm:], start=warm):
        r.values[7] += std_of(7) * (min(i - warm, 450) / 450 + (1.0 if lo <= i < hi else 0.0))
    idx = np.arange(warm, n)
    drifted, step = (idx >= 700) & (idx < lo), (idx >= lo + 10) & (idx < hi)
    runs = tier_runs(rows, warm, "track_half_life_ticks", (0.0, 25.0))
    shares = {h: (above[drifted].mean(), above[step].mean()) for h, (_, above) in runs.items()}
    scorer = runs[25.0][0].chain.tiers[0]
    state = scorer.state_dict()
    moved = scorer.profile.mean.copy()
    scorer.profile.mean = np.zeros_like(moved)
    scorer.restore(state)
    assert scorer.profile.mean == pytest.approx(moved)
    assert shares[0.0][0] > 0.9                     # without: the drifted level alarms
    assert shares[25.0][0] < 0.05                   # with: it is followed
    assert shares[0.0][1] > 0.9 and shares[25.0][1] > 0.9   # the step scores either way


def test_a_drifting_sensor_is_judged_by_its_point_error_only():
    warm, n = 400, 900
    cfg = demo_config({"enabled": True, "drifting": ["S03_flow"]}, warm)
    rows = stationary_rows(cfg, n, shift=(6, 500, 900, 2.0))         # sensor 6 is S03_flow
    _, results = run(cfg, rows, "tflite")
    above = above_threshold(results)
    idx = np.arange(warm, n)
    assert above[idx >= 530].mean() < 0.05          # the step itself may alarm, the new level does not


def test_a_warm_up_too_short_for_a_profile_keeps_the_bundle_threshold(caplog):
    caplog.set_level("INFO", logger="stad.pipeline")
    cfg = demo_config({"enabled": True, "min_ticks": 500}, 300)
    # Not adapting: which calm ticks teach the threshold depends on the alerts (sensor-fault
    # hold-back changes them); what is checked is where the threshold starts.
    cfg = dataclasses.replace(cfg, threshold=dataclasses.replace(cfg.threshold, adapt=False))
    pipe, _ = run(cfg, stationary_rows(cfg, 400), "tflite")
    scorer = pipe.chain.tiers[0]
    assert not scorer.profile.fitted
    assert pipe.thresholds["tflite"].value == pytest.approx(scorer.manifest.threshold["value"])
    assert np.allclose(scorer.residual, scorer.bundle.residual_std())
    assert "no normal profile" in caplog.text


def test_the_carried_runs_score_what_rebuilding_them_from_the_history_scores():
    """The model scorer carries the bias's errors and the level's forecasts from tick to tick
    (model_scorer.TickRun); a scorer that rebuilds both from its history every tick (its runs
    forgotten before each call) gives the same scores: from the first tick after warm-up (a
    rebuild), one tick on, the same tick scored again, missing readings, a gap in the timestamps."""
    from agent.bundle import load as load_bundle
    from agent.scorers.tflite import TfliteScorer
    from agent.window import Normaliser, WindowBuffer

    bundle = load_bundle(str(DEMO_BUNDLE))
    cfg = demo_config({"enabled": True, "min_ticks": 50}, 200)
    rows = stationary_rows(cfg, 420, shift=(3, 300, 420, 1.5), seed=5)
    norm = Normaliser.from_manifest(bundle.normalisation, bundle.sensors)
    z = np.stack([norm.apply(r.values) for r in rows]).astype(np.float32)
    missing = np.zeros(z.shape, bool)
    missing[250:260, 2] = True
    ts = np.array([r.ts for r in rows])
    ts[340:] += 5 * cfg.tick_s                       # a gap in the timestamps
    carried, rebuilt = TfliteScorer(bundle), TfliteScorer(bundle)
    for scorer in (carried, rebuilt):
        scorer.set_profile(cfg.scoring.profile)
        assert scorer.fit_profile(z[:200], missing[:200], ts[:200]) is not None
    buf = WindowBuffer(bundle.steps, len(bundle.sensors))
    for i in range(200 - bundle.steps, len(rows)):
        buf.push(z[i], missing[i], ts[i])
        if i < 200:
            continue
        for _ in range(2 if i % 7 == 0 else 1):      # now and then the same tick twice
            rebuilt._error_run.forget()
            rebuilt._forecast_run.forget()
            a, b = carried.score(buf), rebuilt.score(buf)
            np.testing.assert_allclose(a.sensor_scores, b.sensor_scores, rtol=1e-12, atol=1e-12)
    assert carried._error_run.ts is not None and carried._forecast_run.ts is not None
