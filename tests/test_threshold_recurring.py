"""threshold.recurring_*: a spike at about the same time of day on earlier days is not news; an
unprecedented one, or one at another time, still alerts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.config import AlertConfig, ThresholdConfig
from agent.detector import Detector
from agent.threshold import AdaptiveThreshold, RecurringLevel, calibrate

from conftest import shared_dataset, threshold_problems

DAY = 86400.0
TICK = 300.0
NAB_FILE = Path("realAWSCloudwatch") / "ec2_cpu_utilization_c6585a.csv"
NAB_DISK = shared_dataset("nab", Path("data") / NAB_FILE)


def detector(cfg: ThresholdConfig) -> Detector:
    calm = np.abs(np.random.default_rng(0).standard_normal(2000))
    thr = AdaptiveThreshold(cfg, calibrate(calm, cfg))
    return Detector(AlertConfig(min_duration_ticks=1, clear_ticks=1, cooldown_ticks=0), "gw", "lab", TICK,
                    {"numpy": thr})


def daily_job(days: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Calm |N(0,1)| scores every 5 min, and a 3-tick spike of 40 each night at 03:00 ± 30 min."""
    rng = np.random.default_rng(seed)
    ts = np.arange(int(days * DAY / TICK)) * TICK
    scores = np.abs(rng.standard_normal(ts.size))
    starts = []
    for d in range(days):
        i = int((d * DAY + 3 * 3600 + rng.uniform(-1800, 1800)) // TICK)
        scores[i:i + 3] = 40.0
        starts.append(i)
    return ts, scores, starts


def raised_on(det: Detector, ts: np.ndarray, scores: np.ndarray) -> list[int]:
    """Tick indices at which an alert was raised."""
    out = []
    for i, (t, s) in enumerate(zip(ts, scores)):
        d = det.step(float(t), float(s), "numpy", dict, lambda: {"top_sensors": [], "top_steps": [], "origin": None})
        out += [i for ev in d.events if ev.event == "new"]
    return out


def test_a_daily_job_alerts_on_the_first_days_only():
    ts, scores, starts = daily_job(8)
    off = raised_on(detector(ThresholdConfig(risk=1e-3)), ts, scores)
    on = raised_on(detector(ThresholdConfig(risk=1e-3, recurring_period_s=DAY, recurring_tolerance_s=3600,
                                            recurring_cycles=2)), ts, scores)
    assert set(starts) <= set(off)                      # without it: every night
    assert [i for i in on if i in starts] == starts[:2]  # with it: the first two nights, then it is the pattern


def test_a_new_spike_at_another_hour_or_a_larger_one_still_alerts():
    ts, scores, starts = daily_job(6)
    odd = int((4 * DAY + 15 * 3600) // TICK)            # day 4, 15:00: nothing like it before at this hour
    scores[odd] = 40.0
    bigger = starts[5]
    scores[bigger:bigger + 3] = 90.0                    # day 5's job, more than twice as large
    on = raised_on(detector(ThresholdConfig(risk=1e-3, recurring_period_s=DAY, recurring_cycles=2)), ts, scores)
    assert odd in on and bigger in on
    assert not set(starts[2:5]) & set(on)


def test_the_level_looks_across_the_cycle_boundary():
    """A job at 23:50 one day and 00:10 the next: both within 30 min of midnight."""
    rec = RecurringLevel(DAY, 1800, 2)
    rec.learn(0 * DAY + DAY - 600, 7.0)                 # day 0, 23:50
    rec.learn(2 * DAY + 600, 9.0)                       # day 2, 00:10
    assert rec.level(3 * DAY + 60) == 7.0               # day 3, 00:01: the 2nd largest of days 2 and 0/1
    assert rec.level(3 * DAY + 5 * 3600) == 0.0         # 05:00: nothing there
    assert RecurringLevel(DAY, 1800, 1).level(DAY) == 0.0


def test_the_level_forgets_after_seven_cycles():
    rec = RecurringLevel(DAY, 1800, 1)
    rec.learn(3 * 3600, 5.0)
    assert rec.level(7 * DAY + 3 * 3600) == 5.0
    assert rec.level(8 * DAY + 3 * 3600) == 0.0


def test_the_level_survives_the_checkpoint_codec():
    from agent.checkpoint import decode, encode
    cfg = ThresholdConfig(recurring_period_s=DAY, recurring_cycles=1)
    thr = AdaptiveThreshold(cfg, calibrate(np.abs(np.random.default_rng(2).standard_normal(400)), cfg))
    thr.seen(3 * 3600, 12.0)
    _, state = decode(encode({}, {"thresholds": {"numpy": thr.state_dict()}}))
    back = AdaptiveThreshold.restored(cfg, state["thresholds"]["numpy"], "thresholds.numpy")
    assert back.at(DAY + 3 * 3600) == thr.at(DAY + 3 * 3600) == 12.0
    old = {k: v for k, v in thr.state_dict().items() if k != "recurring"}     # a checkpoint from before
    assert AdaptiveThreshold.restored(cfg, old).at(DAY + 3 * 3600) == thr.value
    bad = thr.state_dict()
    bad["recurring"] = {"peak": np.zeros((3, 3)), "cycle": np.zeros(8, np.int64)}
    with pytest.raises(ValueError, match=r"thresholds\.numpy\.recurring\.peak"):
        AdaptiveThreshold.restored(cfg, bad, "thresholds.numpy")


def test_recurring_keys_are_checked_with_their_path(tmp_path):
    assert "threshold.recurring_period_s: 0 (off) or at least 3600 s, got 60.0" in threshold_problems(tmp_path, "{recurring_period_s: 60}")
    assert any(p.startswith("threshold.recurring_tolerance_s: must be under half the period")
               for p in threshold_problems(tmp_path, "{recurring_period_s: 3600, recurring_tolerance_s: 1800}"))
    assert any(p.startswith("threshold.recurring_cycles: ") for p in threshold_problems(tmp_path, "{recurring_cycles: 8}"))
    assert any(p.startswith("threshold.recurring_cycle: unknown key") for p in threshold_problems(tmp_path, "{recurring_cycle: 1}"))


def test_a_tick_only_the_recurring_level_lets_pass_raises_nothing_and_teaches_the_models_nothing():
    """The pattern is not news for alerting, but it is not normal data for the forecaster either."""
    det = detector(ThresholdConfig(risk=1e-3, recurring_period_s=DAY, recurring_cycles=1))
    thr = det.thresholds["numpy"]
    thr.seen(3 * 3600, 40.0)                            # yesterday 03:00
    learned = []
    d = det.step(DAY + 3 * 3600 + 600, 30.0, "numpy", dict, lambda: {}, learn=lambda: learned.append(1))
    assert d.threshold == 40.0 and not d.above and not d.events
    assert not d.calm and learned == []
    d = det.step(DAY + 3 * 3600 + 900, 1.0, "numpy", dict, lambda: {}, learn=lambda: learned.append(1))
    assert d.calm and learned == [1]


@pytest.mark.skipif(NAB_DISK is None, reason=f"needs the shared NAB copy ({NAB_FILE}) at /work/shared/data/nab "
                                              "or ../shared/data/nab (absent)")
def test_a_nightly_job_on_nab_alerts_once_instead_of_every_night():
    """NAB's ec2_cpu_utilization_c6585a (no labelled anomaly): a spike every night between 03:00 and
    04:05. Without the recurring level the fallback alerts on 10 nights; with it, on the first only."""
    from agent.evaluate.runner import replay
    import bench.accuracy as acc
    path = NAB_DISK / "data" / NAB_FILE
    labels = NAB_DISK / "labels" / "combined_windows.json"
    alerts = {}
    for period in (0, DAY):
        cfg = acc.nab_config(path, labels, acc.sampling_period_s(path), 32, [f"threshold.recurring_period_s={period}"])
        (trace,) = replay(cfg, scorers=["numpy"]).traces["numpy"]
        alerts[period] = len(trace.onsets)
    assert alerts[0] >= 8
    assert alerts[DAY] <= 2
