"""threshold.clock_scale_*: the tick threshold scaled by the typical score at this time of day —
busy hours' ordinary noise is not news (agent/clock_scale.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.clock_scale import MAX_RATIO, MIN_CYCLES, ClockScale
from agent.config import ThresholdConfig
from agent.threshold import AdaptiveThreshold, calibrate

from conftest import shared_dataset, threshold_problems

DAY = 86400.0
TICK = 300.0
NAB_FILE = Path("realTweets") / "Twitter_volume_IBM.csv"
NAB_DISK = shared_dataset("nab", Path("data") / NAB_FILE)


def busy_days(days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """5-min ticks; |N(0,1)| scores, ×2 from 12:00 to 18:00."""
    ts = np.arange(int(days * DAY / TICK)) * TICK
    scores = np.abs(np.random.default_rng(seed).standard_normal(ts.size))
    hour = (ts % DAY) // 3600
    scores[(hour >= 12) & (hour < 18)] *= 2.0
    return ts, scores


def test_the_ratio_is_one_until_every_bin_has_seen_two_cycles_then_the_bin_against_the_mean():
    clock = ClockScale(DAY, 4, raise_only=False)          # 6-h bins
    ts, scores = busy_days(MIN_CYCLES)
    first = ts < (MIN_CYCLES * DAY - 6 * 3600)            # all but the last bin's second cycle
    for t, s in zip(ts[first], scores[first]):
        clock.learn(t, s, cap=np.inf)
    assert clock.ratio(13 * 3600.0) == 1.0
    for t, s in zip(ts[~first], scores[~first]):
        clock.learn(t, s, cap=np.inf)
    means = [scores[((ts % DAY) // (6 * 3600)) == b].mean() for b in range(4)]
    for b in range(4):
        assert clock.ratio(b * 6 * 3600.0 + 60) == pytest.approx(means[b] / np.mean(means), rel=1e-9)
    assert clock.ratio(13 * 3600.0) > 1.3 and clock.ratio(3 * 3600.0) < 0.8
    raised = ClockScale(DAY, 4, raise_only=True)
    for t, s in zip(ts, scores):
        raised.learn(t, s, cap=np.inf)
    assert raised.ratio(3 * 3600.0) == 1.0 and raised.ratio(13 * 3600.0) == clock.ratio(13 * 3600.0)


def test_scores_are_capped_at_the_threshold_and_the_ratio_is_bounded():
    clock = ClockScale(DAY, 4, raise_only=False)          # 6-h bins; the last one bursts
    for t in np.arange(int(3 * DAY / TICK)) * TICK:
        busy = (t % DAY) >= 18 * 3600
        clock.learn(t, 1000.0 if busy else 1.0, cap=10.0)   # its bursts count as the threshold, 10
    assert clock.mean.tolist() == pytest.approx([1.0, 1.0, 1.0, 10.0])
    assert clock.ratio(19 * 3600.0) == MAX_RATIO          # 10 / 3.25, capped
    assert clock.ratio(3600.0) == 0.5                     # 1 / 3.25, floored
    narrow = ClockScale(DAY, 4, raise_only=False, max_ratio=1.25)
    narrow.restore(clock.state_dict(), "clock")
    assert narrow.ratio(19 * 3600.0) == 1.25 and narrow.ratio(3600.0) == 0.8


def test_the_threshold_in_force_follows_the_clock_and_pot_learns_the_scaled_score():
    cfg = ThresholdConfig(risk=1e-3, memory_ticks=1000, learn_above=1.0, clock_scale_period_s=DAY, clock_scale_bins=24)
    ts, scores = busy_days(4, seed=1)
    warm = 2 * 288
    thr = AdaptiveThreshold(cfg, calibrate(scores[:warm], cfg))
    thr.seen_block(ts[:warm], scores[:warm])
    busy_thr, night_thr = [], []
    for t, s in zip(ts[warm:], scores[warm:]):
        in_force = thr.at(t)
        assert in_force == pytest.approx(thr.value * thr.ratio)
        (busy_thr if 12 <= (t % DAY) // 3600 < 18 else night_thr).append(in_force)
        thr.seen(t, s)
        before = len(thr.window)
        thr.update(s)
        assert thr.window[-1] == pytest.approx(min(s / thr.ratio, thr.value)) or len(thr.window) == before
    assert np.median(busy_thr) > 1.5 * np.median(night_thr)
    off = ThresholdConfig(risk=1e-3)
    assert off.clock_scale_period_s == 0
    plain = AdaptiveThreshold(off, calibrate(scores[:warm], off))
    assert plain.clock is None and plain.at(13 * 3600.0) == plain.value and "clock_scale" not in plain.state_dict()


def test_in_judge_mode_the_clock_scales_the_threshold_in_force_and_everything_learns_the_raw_score():
    from agent.likelihood import LikelihoodConfig
    cfg = ThresholdConfig(risk=1e-3, memory_ticks=1000, learn_above=1.0, clock_scale_period_s=DAY,
                          clock_scale_mode="judge", clock_scale_raise_only=True,
                          likelihood=LikelihoodConfig(mean_ticks=10, sigmas=6.0))
    ts, scores = busy_days(4, seed=3)
    warm = 2 * 288
    thr = AdaptiveThreshold(cfg, calibrate(scores[:warm], cfg))
    thr.seen_block(ts[:warm], scores[:warm])
    ratios = []
    for t, s in zip(ts[warm:], scores[warm:]):
        in_force = thr.at(t)
        assert in_force == pytest.approx(max(min(thr.value, thr.mean_level) * thr.ratio, thr.floor))
        ratios.append(thr.ratio)
        thr.seen(t, s)
        before = len(thr.window)
        thr.update(s)
        assert len(thr.window) == before or thr.window[-1] == pytest.approx(min(s, thr.value))
    assert min(ratios) == 1.0 and max(ratios) > 1.3          # raise-only: the busy hours only


def test_the_clock_survives_the_checkpoint_and_its_keys_are_checked(tmp_path):
    from agent.checkpoint import decode, encode
    cfg = ThresholdConfig(risk=1e-3, clock_scale_period_s=DAY, clock_scale_bins=12)
    ts, scores = busy_days(3, seed=2)
    thr = AdaptiveThreshold(cfg, calibrate(scores[:500], cfg))
    thr.seen_block(ts, scores)
    _, state = decode(encode({}, {"thresholds": {"numpy": thr.state_dict()}}))
    back = AdaptiveThreshold.restored(cfg, state["thresholds"]["numpy"], "thresholds.numpy")
    for t in (3 * 3600.0, 13 * 3600.0):
        assert back.at(t) == thr.at(t) and thr.ratio != 1.0
    bad = thr.state_dict()
    bad["clock_scale"] = dict(bad["clock_scale"], mean=np.ones(5))
    with pytest.raises(ValueError, match=r"thresholds\.numpy\.clock_scale\.mean: 5 bins, the config has 12"):
        AdaptiveThreshold.restored(cfg, bad, "thresholds.numpy")
    older = {k: v for k, v in thr.state_dict().items() if k != "clock_scale"}
    assert AdaptiveThreshold.restored(cfg, older, "thresholds.numpy").clock.cycles.max() == 0
    assert any(p.startswith("threshold.clock_scale_period_s: 0 (off) or at least 3600 s")
               for p in threshold_problems(tmp_path, "{clock_scale_period_s: 600}"))
    assert any(p.startswith("threshold.clock_scale_bins: ") for p in threshold_problems(tmp_path, "{clock_scale_bins: 0}"))
    assert any(p.startswith("threshold.clock_scale_mode: ") for p in threshold_problems(tmp_path, "{clock_scale_mode: sometimes}"))
    assert any(p.startswith("threshold.clock_scale_max_ratio: ")
               for p in threshold_problems(tmp_path, "{clock_scale_max_ratio: 0.5}"))
    assert any(p.startswith("threshold.clock_scale_raise_only: ")
               for p in threshold_problems(tmp_path, "{clock_scale_raise_only: maybe}"))


@pytest.mark.skipif(NAB_DISK is None, reason=f"needs the shared NAB copy ({NAB_FILE}) at /work/shared/data/nab "
                                              "or ../shared/data/nab (absent)")
def test_on_a_real_twitter_volume_the_threshold_is_higher_in_the_busy_hours():
    """NAB's Twitter_volume_IBM: the fallback's scores are about twice as high in the US afternoon as
    at night. With the clock scale the tick threshold in force follows; without it, it does not."""
    from agent.evaluate.runner import replay
    import bench.accuracy as acc
    path = NAB_DISK / "data" / NAB_FILE
    labels = NAB_DISK / "labels" / "combined_windows.json"
    medians = {}
    for on in (False, True):
        sets = ["threshold.clock_scale_period_s=86400"] if on else []
        cfg = acc.nab_config(path, labels, acc.sampling_period_s(path), 32, sets)
        t = replay(cfg, scorers=["numpy"]).traces["numpy"][0]
        hour = (t.ts % DAY) // 3600
        ok = ~t.train & np.isfinite(t.threshold)
        medians[on] = (np.median(t.threshold[ok & (hour >= 13) & (hour < 17)]),
                       np.median(t.threshold[ok & (hour >= 2) & (hour < 6)]))
    assert medians[True][0] > 1.4 * medians[True][1]
    assert medians[False][0] < 1.15 * medians[False][1]
