"""`scoring.profile.calm_offset_half_life_ticks` (issue 10, the skab39 round): a `drifting` sensor's forecast offset
follows its own forecast error only on ticks calm by the tier's own score with no alert open — a level it settles at
is learnt, an anomaly's is not; the other sensors' offsets never move; off, the offset stays as warm-up fitted it. On
the real int8 demo bundle, through the pipeline."""
from __future__ import annotations

import numpy as np
import pytest

from agent.config import ConfigError, from_dict
from agent.scorers.calm_offset import learnt_offset, rate_of

pytest.importorskip("ai_edge_litert")

from profile_runs import demo_config, stationary_rows  # noqa: E402

WARM, N = 400, 1000
SETTLE = (WARM + 50, N, 2.0)       # S01_flow (sensor 0) settles 2 σ off from 50 ticks after warm-up, for good
ANOMALY = (WARM + 400, WARM + 520, 6.0)   # and station S01's three sensors 6 σ off for 120 ticks: an alert


def test_only_the_followed_sensors_read_on_the_tick_move():
    offset = np.array([0.5, 0.5, 0.5], np.float32)
    err, scale = np.array([2.0, 2.0, 2.0]), np.array([0.1, 0.1, 0.1])
    moved = learnt_offset(offset, err, scale, np.array([False, True, False]), np.array([True, True, False]),
                          rate_of(32.0))
    assert moved.dtype == np.float32 and moved is not offset
    assert moved[0] == pytest.approx(0.5 + rate_of(32.0) * 0.2)          # followed, read: moved by rate × error
    assert moved[1] == offset[1] and moved[2] == offset[2]               # missing / not followed: as it was
    assert rate_of(0.0) == 0.0 and rate_of(1.0) == pytest.approx(0.5)


def _rows(cfg):
    from agent.bundle import load as load_bundle
    from agent.window import Normaliser, Row

    rows = stationary_rows(cfg, N, shift=(0, *SETTLE), seed=5)
    bundle = load_bundle(cfg.scoring.bundle)
    std = np.asarray(Normaliser.from_manifest(bundle.normalisation, bundle.sensors).std, float)
    lo, hi, sigma = ANOMALY
    for i in range(lo, hi):
        values = rows[i].values.copy()
        values[:3] += sigma * std[:3]
        rows[i] = Row(ts=rows[i].ts, values=values, missing=rows[i].missing, carried=rows[i].carried)
    return rows


@pytest.fixture(scope="module")
def runs():
    """{half-life: [(tick, the tier's forecast offset after it, an alert open after it, own score ≤ threshold,
    S01_flow's score / threshold)]}."""
    import dataclasses

    from agent.pipeline import Pipeline

    out = {}
    for half_life in (0.0, 32.0):
        cfg = demo_config({"enabled": True, "drifting": ["S01_flow"], "calm_offset_half_life_ticks": half_life}, WARM)
        # (one sensor settling off its neighbours is a `drift` fault to the fault logic, which would mask it: off here)
        cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring, chain=["tflite", "numpy"]),
                                  faults=dataclasses.replace(cfg.faults, drift_z=1e6, drift_ramp_s=0))
        pipe = Pipeline(cfg)
        tier = pipe.chain.tiers[0]
        trace = []
        for i, row in enumerate(_rows(cfg)):
            r = pipe.step(row)
            if not r.warming:
                trace.append((i, tier.forecast_offset.copy(), pipe.detector.tracker.open is not None,
                              r.score <= pipe.detector.thresholds["tflite"].value, r.sensor_scores[0] / r.threshold))
        out[half_life] = trace
    return out


def test_off_the_offset_stays_as_warm_up_fitted(runs):
    first = runs[0.0][0][1]
    assert all(np.array_equal(offset, first) for _, offset, *_ in runs[0.0])


def test_a_settled_level_is_learnt_on_calm_ticks_and_an_alert_teaches_nothing(runs):
    trace = runs[32.0]
    offsets = np.array([o for _, o, *_ in trace])
    assert np.array_equal(offsets[:, 1:], np.repeat(offsets[:1, 1:], len(offsets), axis=0))   # others never move
    moved = np.flatnonzero(np.any(offsets[1:] != offsets[:-1], axis=1)) + 1
    assert moved.size > 50                               # the settled level was learnt, tick by calm tick …
    is_open = np.array([a for _, _, a, *_ in trace])
    calm = np.array([c for _, _, _, c, _ in trace])
    assert not is_open[moved].any() and calm[moved].all()    # … and only on calm ticks with no alert open
    ticks = np.array([i for i, *_ in trace])
    in_anomaly = (ticks >= ANOMALY[0]) & (ticks < ANOMALY[1])
    assert is_open[in_anomaly].sum() > 60                # the anomaly raised an alert …
    held = in_anomaly & is_open
    assert np.all(offsets[held, 0] == offsets[np.flatnonzero(held)[0] - 1, 0])   # … during which it learnt nothing
    before = offsets[ticks == SETTLE[0] - 1, 0][0]
    settled = offsets[ticks == ANOMALY[0] - 1, 0][0]
    assert settled - before > 0.1                        # normalised units: the model's lag behind the settled level
    after = np.flatnonzero((ticks >= ANOMALY[1]) & ~is_open)
    assert after.size and np.any(offsets[after, 0] != settled)   # after the alert has ended it learns again
    settled_part = (ticks >= SETTLE[0] + 100) & (ticks < ANOMALY[0])
    scored_off = np.array([s for *_, s in runs[0.0]])[settled_part].mean()
    scored_on = np.array([s for *_, s in trace])[settled_part].mean()
    assert scored_on < scored_off                        # the settled level scores less once learnt


def test_the_key_is_checked_with_its_path():
    base = {"sensors": ["a"], "sources": [{"type": "stdin"}]}
    with pytest.raises(ConfigError, match="scoring.profile.calm_offset_half_life_ticks"):
        from_dict({**base, "scoring": {"profile": {"calm_offset_half_life_ticks": -1}}})
    assert from_dict({**base, "scoring": {"profile": {"calm_offset_half_life_ticks": 32}}}
                     ).scoring.profile.calm_offset_half_life_ticks == 32
