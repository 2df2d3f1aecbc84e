"""scoring.hour_lift (corridor19): each model-tier sensor judged against its calm level at this hour of day.

HourCalm on its own: an hour has no level (no gain) until one of its days has finished; then its gain per sensor
is max(1, c × cap / max(level, FLOOR × cap)), level the mean of its finished days' calm maxima; a score at or
over the cap, a missing one and a day with under half its ticks calm do not count; a tick scored twice counts
once; its checkpoint state round-trips and a bad one is refused naming the key; a step of the time base moves
its days. The real int8 demo tier on the corridor simulator's rows, key off and on over the same rows: nothing
changes until an hour comes round again, then every sensor score is the key-off one times that hour's gain
(the warm-up's hours from the warm-up's scores, the others from the live calm ticks the detector let it learn);
the detector's calm rule decides what it learns; check-config refuses c outside [0, 1].
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agent.checkpoint import decode, encode
from agent.config import ConfigError, from_dict
from agent.pipeline import Pipeline
from agent.scorers.hour_calm import BINS, DAYS, FLOOR, PERIOD_S, HourCalm

from conftest import NO_DEMO, demo_cfg, demo_dict, sim_rows  # noqa: E402

HOUR = PERIOD_S / BINS


def _ticks(day: int, hour: int, n: int, step: float = 30.0) -> np.ndarray:
    return day * PERIOD_S + hour * HOUR + step * np.arange(n)


def test_an_hour_is_lifted_only_after_a_finished_day_of_it():
    cap, lift = 10.0, 0.5
    calm = HourCalm(3, lift, cap)
    quiet = np.array([1.0, 3.0, 0.5])                   # calm maxima of hour 5: a level of 1, 3 and 0.5
    for i, t in enumerate(_ticks(0, 5, 120)):
        assert calm.tick(t) is None                     # the hour's first day: nothing known yet
        calm.fold(t, quiet * (i + 1) / 120, np.ones(3, bool))
    assert calm.tick(_ticks(0, 6, 1)[0]) is None        # another hour: still nothing
    gain = calm.tick(_ticks(1, 5, 1)[0])                # hour 5 again: its first day is finished
    expected = np.maximum(1.0, lift * cap / np.maximum(quiet, FLOOR * cap))
    assert gain == pytest.approx(expected)
    assert gain[0] == pytest.approx(2.0) and gain[1] == pytest.approx(5 / 3)   # 1/c × its calm top crosses
    assert gain[2] == pytest.approx(lift / FLOOR)       # floored: a near-silent hour does not make it absurd
    assert calm.tick(_ticks(1, 7, 1)[0]) is None        # hour 7 was never seen
    assert calm.levels[5] == pytest.approx(quiet)
    # A busy sensor (calm top past c × cap) keeps gain 1: nothing is turned down.
    busy = HourCalm(1, lift, cap)
    busy.fit(_ticks(0, 5, 120), np.full((120, 1), 7.0), np.zeros((120, 1), bool))
    assert busy.tick(_ticks(1, 5, 1)[0]) == pytest.approx([1.0])


def test_what_does_not_count_towards_a_level():
    cap, lift = 10.0, 0.6
    calm = HourCalm(3, lift, cap)
    ts = _ticks(0, 2, 100)
    scores = np.tile([3.0, 3.0, 3.0], (100, 1))
    scores[10, 0] = 50.0                                # an incident's tick in the warm-up: at/over the cap
    missing = np.zeros((100, 3), bool)
    missing[:60, 2] = True                              # sensor 2 read on only 40 of the hour's 100 ticks
    calm.fit(ts, scores, missing)
    calm.tick(_ticks(1, 2, 1)[0])
    assert calm.levels[2, 0] == pytest.approx(3.0)      # the 50 did not count
    assert np.isnan(calm.levels[2, 2])                  # under half the hour: no level, gain 1
    assert calm.gains[2] == pytest.approx([2.0, 2.0, 1.0])
    # A tick scored again (a retry) is counted once; live, only the ticks folded (calm ones) count.
    live = HourCalm(1, lift, cap)
    t = _ticks(0, 4, 10)
    for x in t:
        live.tick(x)
        live.tick(x)
    assert live.seen[4] == 10
    for x in t[:4]:
        live.fold(x, np.array([3.0]), np.ones(1, bool))
    live.tick(_ticks(1, 4, 1)[0])                       # 4 calm of 10: the day does not count
    assert not live.known[4]


def test_the_level_is_the_mean_of_the_last_days():
    calm = HourCalm(1, 0.8, 10.0)
    tops = [2.0, 4.0, 3.0] + [5.0] * DAYS
    for day, top in enumerate(tops):
        calm.fit(_ticks(day, 9, 10), np.full((10, 1), top), np.zeros((10, 1), bool))
        calm.tick(_ticks(day + 1, 9, 1)[0])
        assert calm.levels[9, 0] == pytest.approx(np.mean(tops[max(0, day + 1 - DAYS):day + 1]))
    assert calm.gains[9, 0] == pytest.approx(0.8 * 10.0 / 5.0)


def test_its_checkpoint_state_round_trips_and_a_bad_one_is_refused():
    calm = HourCalm(2, 0.5, 8.0)
    rng = np.random.default_rng(3)
    ts = np.arange(0, 1.5 * PERIOD_S, 30.0)
    calm.fit(ts, np.abs(rng.standard_normal((len(ts), 2))) * [1.0, 3.0], np.zeros((len(ts), 2), bool))
    back = HourCalm(2, 0.5, 8.0)
    back.restore(calm.state_dict(), "tflite.hour_calm")
    assert np.array_equal(back.gains, calm.gains) and back.known == calm.known
    np.testing.assert_array_equal(back.levels, calm.levels)
    bad = calm.state_dict()
    bad["maxima"] = bad["maxima"][:, :, :1]
    with pytest.raises(ValueError, match="tflite.hour_calm.maxima"):
        HourCalm(2, 0.5, 8.0).restore(bad, "tflite.hour_calm")
    bad = calm.state_dict()
    bad["calm_max"] = -bad["calm_max"] - 1
    with pytest.raises(ValueError, match="tflite.hour_calm.calm_max"):
        HourCalm(2, 0.5, 8.0).restore(bad, "tflite.hour_calm")
    with pytest.raises(ValueError, match="hour_lift"):
        HourCalm(2, 0.5, float("inf"))
    # A step of the time base by a day moves the running days with it: the next tick is the same hour's
    # running day, not a new one.
    day_before = calm.day.copy()
    calm.shift_time(PERIOD_S)
    assert np.array_equal(calm.day[day_before >= 0], day_before[day_before >= 0] + 1)


LIFT = 0.5
WARM = 300          # 00:00–02:30 of the first day


@pytest.fixture(scope="module")
def two_days(tmp_path_factory):
    """The demo tier key off and on over the same 2 days and 2 hours of the simulator (a 300-tick warm-up)."""
    tmp = tmp_path_factory.mktemp("hour_lift")
    pipes = []
    for name, scoring in (("off", {}), ("on", {"hour_lift": LIFT})):
        cfg = demo_cfg(tmp / name, WARM, **scoring)
        pipes.append(Pipeline(dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring,
                                                                                  chain=["tflite", "numpy"]))))
    rows = sim_rows(pipes[0].cfg, days=2 + 2 / 24)
    results = [(pipes[0].step(r), pipes[1].step(r)) for r in rows]
    return pipes, rows, results


@NO_DEMO
def test_the_tier_is_unchanged_until_an_hour_comes_round_then_lifted_by_it(two_days):
    (off, on), rows, results = two_days
    tier_off, tier_on = off.chain.tiers[0], on.chain.tiers[0]
    assert tier_off.TYPE == tier_on.TYPE == "tflite" and tier_off.hour_calm is None
    start = rows[0].ts
    live = [(r.ts, a, b) for r, (a, b) in zip(rows, results) if not a.warming]
    first_day = [(a, b) for t, a, b in live if t - start < PERIOD_S]
    assert len(first_day) > 2000
    for a, b in first_day:                              # no hour known: the scores as without the key
        assert b.tier == a.tier == "tflite"
        np.testing.assert_array_equal(b.sensor_scores, a.sensor_scores)
        assert b.score == a.score
    # The second day's first hour: known from the warm-up (00:00–01:00, every tick calm but those at or
    # over the cap), every sensor the key-off score times that hour's gain.
    warm = rows[:WARM]
    z = on.normaliser.apply(np.array([r.values for r in warm], np.float64))
    missing = np.array([r.missing for r in warm], bool)
    per_sensor = tier_off._warmup_sensor_scores(z, missing)
    cap = tier_off.manifest.threshold["value"]
    at = np.array([r.ts for r in warm])[tier_on.steps - 1:]
    in_hour = ((at - start) // HOUR == 0)
    counted = np.where(~missing[tier_on.steps - 1:] & (per_sensor < cap), per_sensor, 0.0)[in_hour]
    gain = np.maximum(1.0, LIFT * cap / np.maximum(counted.max(axis=0), FLOOR * cap))
    assert gain.min() >= 1.0 and gain.max() > 1.0       # the night's quiet sensors lifted, none lowered
    hour0 = [(a, b) for t, a, b in live if PERIOD_S <= t - start < PERIOD_S + HOUR]
    assert len(hour0) == 120
    for a, b in hour0:
        np.testing.assert_allclose(b.sensor_scores, a.sensor_scores * gain, rtol=1e-6, atol=1e-9)
        assert b.score >= a.score - 1e-9
    lifted = sum(b.score > a.score + 1e-9 for a, b in hour0)
    assert lifted > 60                                  # most of the hour's tick scores rose


@NO_DEMO
def test_an_hour_first_seen_live_is_learned_from_the_calm_ticks(two_days):
    (off, on), rows, results = two_days
    tier_on = on.chain.tiers[0]
    start = rows[0].ts
    hours = tier_on.hour_calm
    # 05:00–06:00 was never in the warm-up: learned from the first day's live ticks, known from the second
    # day's 05:00 on (the second day's own 05:00–06:00 is its running day, not in the level yet).
    assert hours.known[5] and hours.day[5] == hours.day[0] - 1
    day1_h5 = [(a, b) for r, (a, b) in zip(rows, results)
               if not a.warming and (r.ts - start) // HOUR == 5]
    scores = np.array([b.sensor_scores for _, b in day1_h5])
    cap = tier_on.manifest.threshold["value"]
    calm_top = np.where(scores < cap, scores, 0.0).max(axis=0)
    assert (hours.levels[5] <= calm_top + 1e-9).all()   # nothing over what the hour's ticks scored
    np.testing.assert_allclose(hours.levels[5], calm_top, rtol=1e-6)   # a calm hour: every tick learned


@NO_DEMO
def test_only_what_the_detector_calls_calm_is_learned(two_days):
    (_, on), _, _ = two_days
    tier = on.chain.tiers[0]
    asked = []
    before = tier.hour_calm.calm_n.copy()
    tier.score(on.window)
    tier.learn(on.window, lambda score, after: asked.append(after) or False)
    assert asked == [0]                                 # asked with no alert open (after_alert_ticks 0)
    np.testing.assert_array_equal(tier.hour_calm.calm_n, before)
    tier.score(on.window)
    tier.learn(on.window, lambda score, after: True)
    assert tier.hour_calm.calm_n.sum() > before.sum()


@NO_DEMO
def test_a_checkpoint_keeps_the_levels(two_days):
    (off, on), _, _ = two_days
    tier = on.chain.tiers[0]
    _, state = decode(encode({}, tier.state_dict()))    # through the checkpoint's own format
    fresh = type(tier)(tier.bundle, tier.kind)
    fresh.set_hour_lift(LIFT)
    fresh.restore(state)
    np.testing.assert_array_equal(fresh.hour_calm.gains, tier.hour_calm.gains)
    np.testing.assert_array_equal(fresh.hour_calm.maxima, tier.hour_calm.maxima)
    assert fresh.hour_calm.last_ts == tier.hour_calm.last_ts
    # Off: the saved levels are not read; on with a checkpoint written before the key: every hour unknown.
    unset = type(tier)(tier.bundle, tier.kind)
    unset.restore(state)
    assert unset.hour_calm is None
    older = type(tier)(tier.bundle, tier.kind)
    older.set_hour_lift(LIFT)
    older.restore(off.chain.tiers[0].state_dict())
    assert not any(older.hour_calm.known)


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_check_config_refuses_a_lift_outside_0_1(tmp_path, value):
    d = demo_dict(tmp_path, hour_lift=value)
    with pytest.raises(ConfigError, match="scoring.hour_lift"):
        from_dict(d, base_dir=str(tmp_path))
