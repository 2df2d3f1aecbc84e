"""Training from separate recordings: segments, no window across a gap, split inside segments,
and training that fails loudly (TrainingError, `stad-convert train` exit 2) instead of shipping
a bundle calibrated on nothing.

The data are real CSV files replayed by the agent's own replay source (written to tmp_path).
"""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")

from agent.config import from_dict  # noqa: E402
from convert.data import (Series, TimeSplit, read_series, segment_bounds, training_sources,  # noqa: E402
                          windows_between)
from convert.data_checks import MIN_CALIBRATION_PEAKS  # noqa: E402
from convert.train import TrainingError, TrainOptions, check_trained, train  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TICK = 10.0
STEPS = 8


def write_recording(path: Path, start: float, rows: int, seed: int, anomalous_from: int | None = None,
                    anomalous_to: int | None = None) -> None:
    """A morning of two sensors (a slow wave plus noise), one row per tick, epoch-second times; rows
    [anomalous_from, anomalous_to) labelled 1 (to the end without anomalous_to)."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    a = np.sin(t / 15.0) + 0.1 * rng.standard_normal(rows)
    b = 0.5 * a + 0.1 * rng.standard_normal(rows)
    lines = ["timestamp,a,b,anomaly"]
    for i in range(rows):
        label = 1 if anomalous_from is not None and anomalous_from <= i < (anomalous_to or rows) else 0
        lines.append(f"{start + i * TICK:.0f},{a[i]:.5f},{b[i]:.5f},{label}")
    path.write_text("\n".join(lines) + "\n")


def config(folder: Path, **extra):
    d = {"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
         "sources": [{"type": "replay", "path": str(folder), "label_columns": ["anomaly"]}],
         "window": {"steps": STEPS, "carry_forward_s": 2 * TICK}, "warmup": {"ticks": 50}, "sinks": [], **extra}
    return from_dict(d, base_dir=str(folder))


def mornings(folder: Path, days: int = 4, rows: int = 240) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for day in range(days):            # one file per weekday morning, a day apart
        write_recording(folder / f"morning-{day}.csv", 1.7e9 + day * 86400.0, rows, seed=day)
    return folder


def test_segments_split_at_long_gaps_only():
    missing = np.zeros((40, 2), bool)
    missing[5:8] = True                 # 3 empty ticks: short, kept (the model masks them)
    missing[15:30] = True               # 15 empty ticks > steps: a segment boundary
    missing[38:] = True                 # trailing empties dropped
    missing[32, 0] = True               # one sensor missing is not a gap
    assert segment_bounds(missing, STEPS) == [(0, 15), (30, 38)]
    assert segment_bounds(np.ones((5, 2), bool), STEPS) == []


def test_separate_recordings_are_segments_and_no_window_spans_two(tmp_path):
    cfg = config(mornings(tmp_path / "mornings"))
    series = read_series(cfg, training_sources(cfg))
    assert len(series) == 4 * 240                      # no day of empty ticks between the mornings
    assert not series.missing.all(axis=1).any()
    assert [s["rows"] for s in series.segments] == [240] * 4
    split = series.split
    # each morning is split by time on its own: every part holds rows of every morning
    for lo, hi in ((0, split.train_end), (split.train_end, split.val_end), (split.val_end, split.n)):
        assert set(series.segment[lo:hi]) == {0, 1, 2, 3}
        assert (np.diff(series.ts[lo:hi]) != TICK).sum() == 3     # only the jumps between mornings
    for lo, hi in ((0, split.train_end), (split.train_end, split.val_end)):
        w = windows_between(np.nan_to_num(series.raw), series.missing, series.anomalous, STEPS, lo, hi,
                            series.segment)
        starts = np.flatnonzero(np.isin(np.arange(lo, hi), np.arange(lo, hi)))
        assert len(w) == sum(max(0, (series.segment[lo:hi] == k).sum() - STEPS + 1) for k in range(4))
        assert len(w) < len(starts) - STEPS + 1      # the windows across a boundary are gone
    first = series.segments[0]
    assert first["train"] + first["validation"] + first["test"] == 240 and first["validation"] == 36


def test_a_bundle_trains_from_separate_recordings(tmp_path):
    cfg = config(mornings(tmp_path / "mornings", days=6, rows=300))
    series = read_series(cfg, training_sources(cfg))
    result = train(series, STEPS, cfg.threshold, TrainOptions(epochs=10, d_model=8, heads=2, ff_hidden=8,
                                                             threads=1, progress=False, windows_per_epoch=1024))
    s = result.summary
    assert s["val_mse_model"] < s["val_mse_naive_repeat_last"]
    assert math.isfinite(result.threshold["value"]) and result.threshold["value"] > 0
    assert s["val_windows"] == 6 * (45 - STEPS + 1)


def series_of(z: np.ndarray, missing: np.ndarray | None = None) -> Series:
    n = len(z)
    missing = np.zeros(z.shape, bool) if missing is None else missing
    return Series(sensors=["a", "b"], ts=np.arange(n) * TICK, raw=np.where(missing, np.nan, z), missing=missing,
                  anomalous=np.zeros(n, bool))


def test_training_fails_when_validation_has_no_observed_rows():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((1000, 2))
    missing = np.zeros(z.shape, bool)
    split = TimeSplit.of(1000)
    missing[split.train_end:split.val_end] = True      # validation inside a gap: the old silent failure
    with pytest.raises(TrainingError, match="validation part has no observed"):
        train(series_of(z, missing), STEPS, from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}]}).threshold,
              TrainOptions(epochs=1, d_model=8, heads=2, ff_hidden=8, threads=1, progress=False))


def test_a_zero_or_non_finite_threshold_and_a_model_no_better_than_repeating_fail():
    summary = {"val_tick_score_p50": 0.0, "val_tick_score_p99": 0.0, "val_mse_model": 0.1,
               "val_mse_naive_repeat_last": 0.2}
    for value in (0.0, float("nan"), float("inf")):
        with pytest.raises(TrainingError, match="threshold calibrated to"):
            check_trained(summary, {"value": value})
    check_trained(summary, {"value": 3.0})
    with pytest.raises(TrainingError, match="no better than repeating the last value"):
        check_trained({**summary, "val_mse_model": 0.2}, {"value": 3.0})


def test_short_streams_pool_their_calibration_or_fail_with_the_minimum(tmp_path):
    cfg = config(tmp_path)
    options = TrainOptions(epochs=8, d_model=8, heads=2, ff_hidden=8, threads=1, progress=False,
                           windows_per_epoch=1024)
    t = np.arange(2000)
    rng = np.random.default_rng(1)
    z = np.stack([np.sin(t / 15.0), np.cos(t / 15.0)], axis=1) + 0.3 * rng.standard_normal((2000, 2))
    result = train(series_of(z), STEPS, cfg.threshold, options)   # 300 validation ticks: < 10 peaks
    assert result.summary["threshold_calibrated_on"].startswith("training + validation pooled")
    assert result.threshold["n_peaks"] >= MIN_CALIBRATION_PEAKS
    with pytest.raises(TrainingError, match="too little data to calibrate") as err:
        train(series_of(z[:300]), STEPS, cfg.threshold, options)
    assert "at least 500 scored ticks" in str(err.value)


def test_stad_convert_train_exits_2_with_the_reason(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    # validation (rows 840–1019) all anomalous; the test part calm (else verify's held-out windows fail first)
    write_recording(folder / "only.csv", 1.7e9, 1200, seed=3, anomalous_from=800, anomalous_to=1020)
    cfg_path = tmp_path / "train.yaml"
    d = {"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
         "sources": [{"type": "replay", "path": str(folder), "label_columns": ["anomaly"]}],
         "window": {"steps": STEPS, "carry_forward_s": 2 * TICK}, "warmup": {"ticks": 50}, "sinks": []}
    cfg_path.write_text(yaml.safe_dump(d))
    proc = subprocess.run([sys.executable, "-m", "convert.cli", "train", "-c", str(cfg_path), "-o",
                           str(tmp_path / "bundle"), "--epochs", "1", "--no-export"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    assert "validation part has no observed, normal rows" in proc.stderr
