"""threshold.likelihood: the mean of the last few scores against its long-run spread is a second
path to an alert — a stretch of moderately high scores alerts although no single tick is rare."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from agent.config import AlertConfig, ThresholdConfig
from agent.detector import Detector
from agent.likelihood import MIN_HISTORY, LikelihoodConfig, MeanLikelihood
from agent.threshold import AdaptiveThreshold, calibrate

from conftest import shared_dataset, threshold_problems

TICK = 300.0
NAB_FILE = Path("artificialWithAnomaly") / "art_increase_spike_density.csv"
NAB_DISK = shared_dataset("nab", Path("data") / NAB_FILE)


def threshold(mean_ticks: int, sigmas: float = 4.75) -> AdaptiveThreshold:
    cfg = ThresholdConfig(risk=1e-3, likelihood=LikelihoodConfig(mean_ticks=mean_ticks, sigmas=sigmas))
    warm = np.abs(np.random.default_rng(0).standard_normal(2000))
    thr = AdaptiveThreshold(cfg, calibrate(warm, cfg))
    thr.seen_block(np.arange(warm.size) * TICK, warm)
    return thr


def raised_on(thr: AdaptiveThreshold, scores: np.ndarray) -> list[int]:
    det = Detector(AlertConfig(cooldown_ticks=50), "gw", "lab", TICK, {"numpy": thr})
    out = []
    for i, s in enumerate(scores):
        d = det.step(1e6 + i * TICK, float(s), "numpy", dict, lambda: {"top_sensors": [], "top_steps": [], "origin": None})
        out += [i for ev in d.events if ev.event == "new"]
    return out


def raised_after_normal_warmup(scores: np.ndarray, sigmas: float, **likelihood) -> list[int]:
    """Alerts raised on `scores` by a threshold calibrated on 2000 |N(0,1)| warm-up scores, its
    likelihood a 10-tick mean at `sigmas` with `likelihood`'s other keys."""
    cfg = ThresholdConfig(risk=1e-3, likelihood=LikelihoodConfig(mean_ticks=10, sigmas=sigmas, **likelihood))
    warm = np.abs(np.random.default_rng(0).standard_normal(2000))
    thr = AdaptiveThreshold(cfg, calibrate(warm, cfg))
    thr.seen_block(np.arange(warm.size) * TICK, warm)
    return raised_on(thr, scores)


def calm_then_busier(seed: int = 1) -> tuple[np.ndarray, int]:
    """|N(0,1)| scores; from tick 1500, 60 ticks at 2.2× — busier, but no tick as rare as the
    warm-up's own extremes."""
    scores = np.abs(np.random.default_rng(seed).standard_normal(3000))
    start = 1500
    scores[start:start + 60] *= 2.2
    scores[start:start + 60] = np.minimum(scores[start:start + 60], 2.5)
    return scores, start


def test_a_busier_stretch_alerts_only_with_the_mean_path():
    scores, start = calm_then_busier()
    off = threshold(0)
    assert off.mean is None
    assert not [i for i in raised_on(off, scores) if start <= i < start + 60]
    on = raised_on(threshold(20), scores)
    assert [i for i in on if start <= i < start + 60]
    assert len([i for i in on if not start <= i < start + 80]) <= 2      # calm stretches stay quiet


def test_the_level_is_the_score_that_puts_the_mean_in_the_tail():
    lk = MeanLikelihood(LikelihoodConfig(mean_ticks=5, sigmas=3.0, history_ticks=500))
    assert lk.level() == math.inf                      # no history yet
    scores = np.random.default_rng(3).gamma(2.0, 1.0, 700)
    lk.learn_block(scores)
    means = np.convolve(scores, np.ones(5) / 5, mode="valid")[-500:]
    expect = 5 * (means.mean() + 3.0 * means.std()) - scores[-4:].sum()
    assert lk.level() == pytest.approx(expect, rel=1e-9)
    lk.learn(float("nan"))                             # not finite: ignored
    assert lk.level() == pytest.approx(expect, rel=1e-9)


def test_silent_until_the_history_holds_enough_means():
    lk = MeanLikelihood(LikelihoodConfig(mean_ticks=10))
    lk.learn_block(np.ones(10 + MIN_HISTORY - 2))
    assert lk.level() == math.inf
    lk.learn(1.0)
    assert math.isfinite(lk.level())


def test_a_flat_score_does_not_make_every_blip_an_alert():
    """σ is floored at a fraction of μ: on a constant score the level stays above it."""
    lk = MeanLikelihood(LikelihoodConfig(mean_ticks=10, sigmas=4.0))
    lk.learn_block(np.full(500, 2.0))
    assert lk.level() > 2.0 * 1.5


def test_off_by_default_and_the_threshold_is_what_it_was():
    cfg = ThresholdConfig()
    assert cfg.likelihood.mean_ticks == 0
    thr = AdaptiveThreshold(cfg, calibrate(np.abs(np.random.default_rng(4).standard_normal(500)), cfg))
    assert thr.mean is None and thr.at(0.0) == thr.value and "likelihood" not in thr.state_dict()


def test_the_mean_path_survives_the_checkpoint_codec():
    from agent.checkpoint import decode, encode
    thr = threshold(20)
    for s in np.abs(np.random.default_rng(5).standard_normal(300)):
        thr.seen(0.0, float(s))
    _, state = decode(encode({}, {"thresholds": {"numpy": thr.state_dict()}}))
    back = AdaptiveThreshold.restored(thr.cfg, state["thresholds"]["numpy"], "thresholds.numpy")
    assert back.at(0.0) == pytest.approx(thr.at(0.0), rel=1e-9)
    assert math.isfinite(thr.mean_level) and back.mean_level == pytest.approx(thr.mean_level, rel=1e-9)
    bad = thr.state_dict()
    bad["likelihood"] = {"recent": np.array([1.0, np.nan]), "means": np.zeros(3)}
    with pytest.raises(ValueError, match=r"thresholds\.numpy\.likelihood\.recent: not finite"):
        AdaptiveThreshold.restored(thr.cfg, bad, "thresholds.numpy")
    old = {k: v for k, v in thr.state_dict().items() if k != "likelihood"}     # a checkpoint from before
    fresh = AdaptiveThreshold.restored(thr.cfg, old)                           # starts the mean path empty
    assert fresh.at(0.0) == thr.value and fresh.mean_level == math.inf


def test_likelihood_keys_are_checked_with_their_path(tmp_path):
    assert any(p.startswith("threshold.likelihood.mean_ticks: 0 (off) or at least 2")
               for p in threshold_problems(tmp_path, "{likelihood: {mean_ticks: 1}}"))
    assert any(p.startswith("threshold.likelihood.sigmas: ") for p in threshold_problems(tmp_path, "{likelihood: {sigmas: 0.5}}"))
    assert any(p.startswith("threshold.likelihood.history_ticks: ") for p in threshold_problems(tmp_path, "{likelihood: {history_ticks: 5}}"))
    assert any(p.startswith("threshold.likelihood.mean_tick: unknown key") for p in threshold_problems(tmp_path, "{likelihood: {mean_tick: 5}}"))


@pytest.mark.skipif(NAB_DISK is None, reason=f"needs the shared NAB copy ({NAB_FILE}) at /work/shared/data/nab "
                                              "or ../shared/data/nab (absent)")
def test_spikes_coming_more_often_on_nab_are_found_by_the_mean_path():
    """NAB's art_increase_spike_density: equal spikes, then more of them. No single spike is news;
    the mean of the last 10 scores (configs/nab.yaml, beside the mean of their surprisals) is."""
    from agent.evaluate.runner import replay
    import bench.accuracy as acc
    path = NAB_DISK / "data" / NAB_FILE
    labels = NAB_DISK / "labels" / "combined_windows.json"
    windows = {}
    for h in (0, 10):
        off = [f"threshold.likelihood.mean_ticks={h}", "threshold.likelihood.also_surprisal=false"] if h == 0 else []
        cfg = acc.nab_config(path, labels, acc.sampling_period_s(path), 32, off)
        assert cfg.threshold.likelihood.mean_ticks == h and cfg.threshold.likelihood.sigmas == 6
        run = replay(cfg, scorers=["numpy"])
        (windows[h],) = acc.nab_window_diagnosis(run.files[0], run.traces["numpy"][0])
    # Without the mean path the window is missed: no tick goes far over the threshold, and no alert
    # before it hid it. With it, the window is found in its first half.
    assert windows[0]["found_at"] is None and windows[0]["peak_ratio"] < 1.5 and windows[0]["alert_rows_before"] is None
    assert windows[10]["found_at"] is not None and windows[10]["found_at"] < 0.6


def test_a_further_mean_length_takes_the_lowest_level_of_both():
    """more_mean_ticks: each length has its own ring and history; the level is the lower one."""
    scores = np.random.default_rng(6).gamma(2.0, 1.0, 900)
    both = MeanLikelihood(LikelihoodConfig(mean_ticks=5, sigmas=3.0, history_ticks=500, more_mean_ticks=[40]))
    short = MeanLikelihood(LikelihoodConfig(mean_ticks=5, sigmas=3.0, history_ticks=500))
    long = MeanLikelihood(LikelihoodConfig(mean_ticks=40, sigmas=3.0, history_ticks=500))
    for lk in (both, short, long):
        lk.learn_block(scores)
    assert both.level() == pytest.approx(min(short.level(), long.level()), rel=1e-12)
    means = np.convolve(scores, np.ones(40) / 40, mode="valid")[-500:]
    assert long.level() == pytest.approx(40 * (means.mean() + 3.0 * means.std()) - scores[-39:].sum(), rel=1e-9)


def test_a_slow_long_rise_alerts_only_with_a_long_mean():
    """Scores 0.45 above their calm level (mean 0.8) for 300 ticks, no tick above 2.5: too little
    for a 10-tick mean's tail, plenty for a 100-tick one's."""
    scores = np.abs(np.random.default_rng(7).standard_normal(4000))
    start = 3000
    scores[start:start + 300] += 0.45
    scores[start:start + 300] = np.minimum(scores[start:start + 300], 2.5)

    assert not [i for i in raised_after_normal_warmup(scores, 5.5) if start <= i < start + 300]
    found = raised_after_normal_warmup(scores, 5.5, more_mean_ticks=[100])
    assert [i for i in found if start <= i < start + 300]
    assert not [i for i in found if i < start]


def test_the_log_transform_averages_log1p_and_maps_the_level_back():
    lk = MeanLikelihood(LikelihoodConfig(mean_ticks=5, sigmas=3.0, history_ticks=500, transform="log"))
    scores = np.random.default_rng(8).gamma(2.0, 1.0, 700)
    lk.learn_block(scores)
    x = np.log1p(scores)
    means = np.convolve(x, np.ones(5) / 5, mode="valid")[-500:]
    expect = np.expm1(5 * (means.mean() + 3.0 * means.std()) - x[-4:].sum())
    assert lk.level() == pytest.approx(expect, rel=1e-9)


def test_the_peak_rate_alerts_on_a_peak_when_peaks_come_more_often():
    """peak_rate_ticks: 1 for a score above peak_from, 0 under; the level is peak_from while one more
    peak puts the rate in its tail, +∞ otherwise; no other path is changed."""
    cfg = LikelihoodConfig(mean_ticks=10, sigmas=4.0, history_ticks=2000, peak_rate_ticks=50)
    lk = MeanLikelihood(cfg)
    rng = np.random.default_rng(9)
    calm = np.where(rng.random(1500) < 0.02, 5.0, 1.0)          # a peak (5 > 3) on 2 % of ticks
    lk.learn_block(calm, peak_from=3.0)
    raw_only = MeanLikelihood(LikelihoodConfig(mean_ticks=10, sigmas=4.0, history_ticks=2000))
    raw_only.learn_block(calm)
    rate = lk.scales[-1]
    assert rate.peaks and lk._score_level(rate, 3.0) == math.inf    # the rate is calm
    assert lk.level(3.0) == raw_only.level()                       # so the mean path decides
    for s in [5.0, 1.0, 1.0] * 6:                                   # then a peak every third tick
        lk.learn(s, 3.0)
        raw_only.learn(s)
    assert lk._score_level(rate, 3.0) == 3.0                        # one more peak is news
    assert lk.level(3.0) == min(3.0, raw_only.level())


def test_every_scale_survives_the_checkpoint_and_a_missing_one_starts_empty():
    from agent.checkpoint import decode, encode
    cfg = ThresholdConfig(risk=1e-3, likelihood=LikelihoodConfig(mean_ticks=10, more_mean_ticks=[30],
                                                                 peak_rate_ticks=20, transform="log"))
    warm = np.abs(np.random.default_rng(10).standard_normal(800))
    thr = AdaptiveThreshold(cfg, calibrate(warm, cfg))
    thr.seen_block(np.arange(warm.size) * TICK, warm)
    state = thr.state_dict()["likelihood"]
    assert set(state) == {"recent", "means", "recent_30", "means_30", "recent_peaks_20", "means_peaks_20"}
    _, back_state = decode(encode({}, {"thresholds": {"numpy": thr.state_dict()}}))
    back = AdaptiveThreshold.restored(cfg, back_state["thresholds"]["numpy"], "thresholds.numpy")
    assert back.at(0.0) == pytest.approx(thr.at(0.0), rel=1e-9)
    assert [len(s.means) for s in back.mean.scales] == [len(s.means) for s in thr.mean.scales]
    older = thr.state_dict()
    older["likelihood"] = {k: older["likelihood"][k] for k in ("recent", "means")}   # before the new scales
    resumed = AdaptiveThreshold.restored(cfg, older, "thresholds.numpy")
    assert [len(s.means) for s in resumed.mean.scales] == [len(thr.mean.first.means), 0, 0]
    bad = thr.state_dict()
    bad["likelihood"]["means_30"] = np.array([1.0, np.inf])
    with pytest.raises(ValueError, match=r"thresholds\.numpy\.likelihood\.means_30: not finite"):
        AdaptiveThreshold.restored(cfg, bad, "thresholds.numpy")


def test_new_likelihood_keys_are_checked_with_their_path(tmp_path):
    def problems(text):
        return threshold_problems(tmp_path, text)
    assert any(p.startswith("threshold.likelihood.more_mean_ticks: needs `mean_ticks`")
               for p in problems("{likelihood: {more_mean_ticks: [50]}}"))
    assert any(p.startswith("threshold.likelihood.more_mean_ticks[1]: a mean length is 2 to 10000")
               for p in problems("{likelihood: {mean_ticks: 10, more_mean_ticks: [50, 1]}}"))
    assert any(p.startswith("threshold.likelihood.more_mean_ticks[0]: 10 is already a scale")
               for p in problems("{likelihood: {mean_ticks: 10, more_mean_ticks: [10]}}"))
    assert any(p.startswith("threshold.likelihood.transform: ") for p in problems("{likelihood: {transform: sqrt}}"))
    assert any(p.startswith("threshold.likelihood.peak_rate_ticks: 0 (off) or at least 2")
               for p in problems("{likelihood: {mean_ticks: 10, peak_rate_ticks: 1}}"))
    assert any(p.startswith("threshold.likelihood.peak_rate_ticks: needs `mean_ticks`")
               for p in problems("{likelihood: {peak_rate_ticks: 50}}"))
    from agent import config
    ok = tmp_path / "ok.yaml"
    ok.write_text("sensors: [a]\nsources: [{type: stdin}]\nthreshold: {likelihood: {mean_ticks: 10, "
                  "more_mean_ticks: [50], transform: log, peak_rate_ticks: 100}}\n")
    lk = config.load(str(ok)).threshold.likelihood
    assert (lk.more_mean_ticks, lk.transform, lk.peak_rate_ticks) == ([50], "log", 100)
    ok.write_text("sensors: [a]\nsources: [{type: stdin}]\nthreshold: {likelihood: {mean_ticks: 10, transform: surprisal}}\n")
    assert config.load(str(ok)).threshold.likelihood.transform == "surprisal"


def test_the_surprisal_transform_averages_minus_log_tail_probabilities_and_maps_the_level_back():
    """transform surprisal: x = −log((scores at or above + 1) / (n + 1)) among the last history_ticks
    scores; the level is the score above which a tick's x reaches what the mean needs, and only there."""
    cfg = LikelihoodConfig(mean_ticks=5, sigmas=3.0, history_ticks=400, transform="surprisal")
    lk = MeanLikelihood(cfg)
    scores = np.round(np.random.default_rng(11).gamma(2.0, 1.0, 900), 1)     # ties too
    lk.learn_block(scores)
    xs = []
    for i, s in enumerate(scores):
        past = scores[max(0, i - 400):i]
        xs.append(-math.log((np.count_nonzero(past >= s) + 1) / (past.size + 1)))
    xs = np.array(xs)
    means = np.convolve(xs, np.ones(5) / 5, mode="valid")[-400:]
    needed = 5 * (means.mean() + 3.0 * means.std()) - xs[-4:].sum()
    assert lk.first.needed() == pytest.approx(needed, rel=1e-9)
    level = lk.level()
    assert level in scores[-400:]
    for probe in (level, np.nextafter(level, math.inf), level + 0.05, level - 0.05):
        assert (lk.ranks.surprisal(probe) >= needed - 1e-12) == (probe > level)


def test_surprisal_alerts_on_rare_ish_ticks_coming_more_often_that_the_raw_mean_misses():
    """Two ticks in five at the calm scores' 99th percentile: none is rare enough for the tick
    threshold, and the raw mean at 5.5 σ does not move enough; their surprisals add up."""
    rng = np.random.default_rng(12)
    warm = np.abs(rng.standard_normal(3000))
    calm = np.abs(rng.standard_normal(1500))
    busy = np.abs(rng.standard_normal(300))
    busy[::5] = busy[1::5] = np.quantile(warm, 0.995)
    stream = np.concatenate([calm, busy])

    def alerts(transform):
        cfg = ThresholdConfig(risk=1e-4, likelihood=LikelihoodConfig(mean_ticks=10, sigmas=5.5, transform=transform))
        thr = AdaptiveThreshold(cfg, calibrate(warm, cfg))
        thr.seen_block(np.arange(warm.size) * TICK, warm)
        assert np.quantile(warm, 0.995) < thr.value                  # no busy tick passes the tick threshold
        return raised_on(thr, stream)

    assert not [i for i in alerts("raw") if i >= calm.size]
    found = alerts("surprisal")
    assert [i for i in found if i >= calm.size]
    assert not [i for i in found if i < calm.size]


def test_the_surprisal_ranks_survive_the_checkpoint_and_an_older_one_starts_them_empty():
    cfg = ThresholdConfig(risk=1e-3, likelihood=LikelihoodConfig(mean_ticks=10, history_ticks=300,
                                                                 transform="surprisal"))
    warm = np.abs(np.random.default_rng(13).standard_normal(800))
    thr = AdaptiveThreshold(cfg, calibrate(warm, cfg))
    thr.seen_block(np.arange(warm.size) * TICK, warm)
    from agent.checkpoint import decode, encode
    state = thr.state_dict()
    assert state["likelihood"]["ranked_scores"].tolist() == warm[-300:].tolist()
    _, back_state = decode(encode({}, {"thresholds": {"numpy": state}}))
    back = AdaptiveThreshold.restored(cfg, back_state["thresholds"]["numpy"], "thresholds.numpy")
    assert back.at(0.0) == thr.at(0.0)
    assert back.mean.ranks.sorted == sorted(warm[-300:].tolist())
    older = thr.state_dict()
    del older["likelihood"]["ranked_scores"]
    assert AdaptiveThreshold.restored(cfg, older, "thresholds.numpy").mean.ranks.sorted == []
    bad = thr.state_dict()
    bad["likelihood"]["ranked_scores"] = np.array([1.0, np.nan])
    with pytest.raises(ValueError, match=r"thresholds\.numpy\.likelihood\.ranked_scores: not finite"):
        AdaptiveThreshold.restored(cfg, bad, "thresholds.numpy")


def test_also_surprisal_takes_the_lower_level_of_the_raw_and_the_surprisal_means():
    """also_surprisal: each mean length twice, raw and surprisal, each against its own history;
    the level is the lower of the two, and each view's checkpoint keys are its own."""
    scores = np.random.default_rng(14).gamma(2.0, 1.0, 1200)
    both = MeanLikelihood(LikelihoodConfig(mean_ticks=10, history_ticks=600, also_surprisal=True))
    raw = MeanLikelihood(LikelihoodConfig(mean_ticks=10, history_ticks=600))
    sur = MeanLikelihood(LikelihoodConfig(mean_ticks=10, history_ticks=600, transform="surprisal"))
    levels = []
    for s in scores:
        for lk in (both, raw, sur):
            lk.learn(float(s))
        levels.append((both.level(), raw.level(), sur.level()))
    assert all(b == min(r, u) for b, r, u in levels)
    assert any(u < r for _, r, u in levels) and any(r < u for _, r, u in levels)   # each view decides sometimes
    assert set(both.state_dict()) == {"recent", "means", "recent_surprisal_10", "means_surprisal_10", "ranked_scores"}


def test_also_surprisal_is_checked_with_its_path(tmp_path):
    assert any(p.startswith("threshold.likelihood.also_surprisal: needs `mean_ticks`")
               for p in threshold_problems(tmp_path, "{likelihood: {also_surprisal: true}}"))
    assert any(p.startswith("threshold.likelihood.also_surprisal: the means are surprisals already")
               for p in threshold_problems(tmp_path, "{likelihood: {mean_ticks: 10, transform: surprisal, "
                                                     "also_surprisal: true}}"))


def test_the_cusum_adds_up_surprisals_over_their_allowance_and_its_level_takes_it_past_the_limit():
    """cusum_limit h, cusum_allowance k: S ← min(2h, max(0, S + s − 1 − k)), s the tick's surprisal
    among the scores before it; the level is the score whose surprisal takes S past h, the lowest
    level beside the mean path's."""
    cfg = LikelihoodConfig(mean_ticks=10, history_ticks=400, cusum_limit=8.0, cusum_allowance=0.5)
    lk = MeanLikelihood(cfg)
    plain = MeanLikelihood(LikelihoodConfig(mean_ticks=10, history_ticks=400))
    scores = np.round(np.random.default_rng(15).gamma(2.0, 1.0, 900), 2)
    scores[600:700] += 1.5                          # a busier stretch: rarer-than-usual ticks for 100 ticks
    s_expect, largest = 0.0, 0.0
    for i, s in enumerate(scores):
        past = scores[max(0, i - 400):i]
        surprisal = -math.log((np.count_nonzero(past >= s) + 1) / (past.size + 1))
        if i >= MIN_HISTORY:
            needed = 8.0 - s_expect + 1.5
            level = lk.level()
            assert level == (min(plain.level(), lk.ranks.level(needed)) if needed > 0 else -math.inf)
            assert (surprisal >= needed) == (s > lk.ranks.level(needed))
        s_expect = min(16.0, max(0.0, s_expect + surprisal - 1.5))
        largest = max(largest, s_expect)
        lk.learn(float(s))
        plain.learn(float(s))
        assert lk.cusum == pytest.approx(s_expect, abs=1e-9)
    assert largest == 16.0                           # the busy stretch took it to its cap…
    assert lk.cusum < 8.0                            # …and it fell back under the limit after


def test_a_long_mildly_busier_stretch_alerts_only_with_the_cusum():
    """Scores 0.6 above their calm level for 400 ticks, no tick above 2.5: a 10-tick mean at 6 σ
    never reaches its tail; the rarer-than-usual ticks add up in the CUSUM. Calm stays quiet."""
    scores = np.abs(np.random.default_rng(16).standard_normal(4000))
    start = 3000
    scores[start:start + 400] += 0.6
    scores[start:start + 400] = np.minimum(scores[start:start + 400], 2.5)

    assert not [i for i in raised_after_normal_warmup(scores, 6.0) if start <= i < start + 400]
    found = raised_after_normal_warmup(scores, 6.0, cusum_limit=20.0)
    assert [i for i in found if start <= i < start + 400]
    assert not [i for i in found if i < start]


def test_the_cusum_survives_the_checkpoint_and_is_checked(tmp_path):
    from agent.checkpoint import decode, encode
    cfg = ThresholdConfig(risk=1e-3, likelihood=LikelihoodConfig(mean_ticks=10, history_ticks=300, cusum_limit=5.0))
    warm = np.abs(np.random.default_rng(17).standard_normal(800))
    thr = AdaptiveThreshold(cfg, calibrate(warm, cfg))
    thr.seen_block(np.arange(warm.size) * TICK, warm)
    for s in (3.0, 3.5, 4.0):                        # rare ticks: S > 0
        thr.seen(0.0, s)
    assert thr.mean.cusum > 0
    _, state = decode(encode({}, {"thresholds": {"numpy": thr.state_dict()}}))
    back = AdaptiveThreshold.restored(cfg, state["thresholds"]["numpy"], "thresholds.numpy")
    assert back.mean.cusum == thr.mean.cusum and back.at(0.0) == thr.at(0.0)
    older = thr.state_dict()
    del older["likelihood"]["cusum"]                 # taken with the CUSUM off: it starts at 0
    assert AdaptiveThreshold.restored(cfg, older, "thresholds.numpy").mean.cusum == 0.0
    bad = thr.state_dict()
    bad["likelihood"]["cusum"] = np.array([-1.0])
    with pytest.raises(ValueError, match=r"thresholds\.numpy\.likelihood\.cusum: one finite value"):
        AdaptiveThreshold.restored(cfg, bad, "thresholds.numpy")
    assert any(p.startswith("threshold.likelihood.cusum_limit: needs `mean_ticks`")
               for p in threshold_problems(tmp_path, "{likelihood: {cusum_limit: 20}}"))
    assert any(p.startswith("threshold.likelihood.cusum_allowance: ")
               for p in threshold_problems(tmp_path, "{likelihood: {mean_ticks: 10, cusum_limit: 20, cusum_allowance: -1}}"))
