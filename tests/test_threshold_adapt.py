"""The threshold follows scores that change after calibration (threshold.learn_above,
threshold.memory_ticks): bursty streams stop alarming for days, a warm-up burst stops blinding it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.config import ThresholdConfig
from agent.threshold import AdaptiveThreshold, calibrate

from conftest import shared_dataset, threshold_problems

NAB_DISK = shared_dataset("nab", Path("data") / "realAWSCloudwatch" / "ec2_disk_write_bytes_1ef3de.csv")


def run(thr: AdaptiveThreshold, scores) -> np.ndarray:
    """The threshold in force at each score, learning every score as the Detector does outside alerts."""
    out = np.empty(len(scores))
    for i, s in enumerate(scores):
        out[i] = thr.value
        thr.update(float(s))
    return out


def test_learn_above_follows_a_stream_whose_scores_grew():
    """Scores three times as spread as at calibration: learning only calm scores, the fit is
    censored at the threshold and the stream keeps exceeding it ~10× the risk; with learn_above 1
    the threshold rises and the exceedance rate falls back near the risk."""
    rng = np.random.default_rng(1)
    cal = np.abs(rng.standard_normal(3000))
    live = 3.0 * np.abs(rng.standard_normal(40000))
    rates = {}
    for learn_above in (0.0, 1.0):
        cfg = ThresholdConfig(risk=1e-3, learn_above=learn_above)
        values = run(AdaptiveThreshold(cfg, calibrate(cal, cfg)), live)
        rates[learn_above] = float((live[-10000:] > values[-10000:]).mean())
    assert rates[0.0] > 0.01
    assert rates[1.0] < rates[0.0] / 3


def test_learn_above_caps_what_one_score_teaches():
    """One huge score teaches at most learn_above × the threshold: the threshold moves by a bounded step."""
    cfg = ThresholdConfig(risk=1e-3, learn_above=1.0)
    cal = np.abs(np.random.default_rng(2).standard_normal(3000))
    a, b = AdaptiveThreshold(cfg, calibrate(cal, cfg)), AdaptiveThreshold(cfg, calibrate(cal, cfg))
    a.update(1e6)
    b.update(b.value)
    assert a.value == pytest.approx(b.value)


def test_memory_forgets_a_warm_up_burst():
    """A burst in the calibration data sets the threshold far above calm scores; with memory_ticks
    the fit is redone on recent scores and comes back down, without it stays blind."""
    rng = np.random.default_rng(3)
    cal = np.abs(rng.standard_normal(2000))
    cal[1000:1080] = 300.0
    calm = np.abs(rng.standard_normal(3000))
    end = {}
    for memory in (0, 1000):
        cfg = ThresholdConfig(risk=1e-3, memory_ticks=memory)
        thr = AdaptiveThreshold(cfg, calibrate(cal, cfg))
        assert thr.value > 100
        run(thr, calm)
        end[memory] = thr.value
    assert end[0] > 100
    assert 2.0 < end[1000] < 10.0


def test_threshold_state_round_trips_with_its_window():
    cfg = ThresholdConfig(learn_above=1.5, memory_ticks=300)
    rng = np.random.default_rng(4)
    thr = AdaptiveThreshold(cfg, calibrate(np.abs(rng.standard_normal(500)), cfg))
    run(thr, np.abs(rng.standard_normal(450)) * 2)
    state = thr.state_dict()
    back = AdaptiveThreshold.restored(cfg, state, "thresholds.numpy")
    more = np.abs(rng.standard_normal(400)) * 2
    assert np.array_equal(run(thr, more), run(back, more))
    state["window"] = np.array([1.0, np.nan])
    with pytest.raises(ValueError, match=r"thresholds\.numpy\.window"):
        AdaptiveThreshold.restored(cfg, state, "thresholds.numpy")
    old = {k: v for k, v in thr.state_dict().items() if k != "window"}     # a checkpoint from before
    assert AdaptiveThreshold.restored(cfg, old).window == type(thr.window)()


def test_threshold_keys_are_checked_with_their_path(tmp_path):
    assert "threshold.memory_ticks: 0 (off) or at least 256 ticks, got 100" in threshold_problems(tmp_path, "{memory_ticks: 100}")
    assert any(p.startswith("threshold.learn_above: must be >= 0") for p in threshold_problems(tmp_path, "{learn_above: -1}"))
    assert any(p.startswith("threshold.learn_abov: unknown key") for p in threshold_problems(tmp_path, "{learn_abov: 1}"))


@pytest.mark.skipif(NAB_DISK is None, reason="needs the shared NAB copy (realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv) "
                                              "at /work/shared/data/nab or ../shared/data/nab (absent)")
def test_a_nab_warm_up_burst_no_longer_blinds_the_fallback():
    """NAB's ec2_disk_write_bytes_1ef3de: a write burst inside the warm-up puts the POT threshold
    near 600 while calm scores stay under 10; with memory_ticks the threshold is back among the
    calm scores a week later."""
    from agent.evaluate.runner import replay
    import bench.accuracy as acc
    path = NAB_DISK / "data" / "realAWSCloudwatch" / "ec2_disk_write_bytes_1ef3de.csv"
    labels = NAB_DISK / "labels" / "combined_windows.json"
    end = {}
    for memory in (0, 1000):
        cfg = acc.nab_config(path, labels, acc.sampling_period_s(path), 32,
                             [f"threshold.memory_ticks={memory}", "faults.enabled=false"])
        (trace,) = replay(cfg, scorers=["numpy"]).traces["numpy"]
        thr = trace.threshold[np.isfinite(trace.threshold)]
        end[memory] = float(thr[-1])
        assert thr[0] > 200
    assert end[0] > 200
    assert end[1000] < 30


def test_the_window_survives_the_checkpoint_codec():
    """Through agent/checkpoint.py's own encode/decode, as the pipeline saves its thresholds."""
    from agent.checkpoint import decode, encode
    cfg = ThresholdConfig(learn_above=1.0, memory_ticks=256)
    rng = np.random.default_rng(5)
    thr = AdaptiveThreshold(cfg, calibrate(np.abs(rng.standard_normal(400)), cfg))
    run(thr, np.abs(rng.standard_normal(300)) * 3)
    _, state = decode(encode({}, {"thresholds": {"numpy": thr.state_dict()}}))
    back = AdaptiveThreshold.restored(cfg, state["thresholds"]["numpy"], "thresholds.numpy")
    assert list(back.window) == list(thr.window) and len(back.window) == 256
    more = np.abs(rng.standard_normal(600)) * 3
    assert np.array_equal(run(thr, more), run(back, more))
