"""Training's split by recording (convert/data.py `split_by`, `split_recordings`; `stad-convert train
--split`): with one file per day, the 70/15/15 split by time made every validation part the same evening
hours and every test part the night, so the threshold never saw a morning peak (user11). With four or
more recordings of a day or more, `auto` keeps the newest whole for test and the one before it whole for
validation; fewer, shorter (SKAB's runs of minutes) or one long recording keep the split by time, row for
row as before.

The recordings are real CSV files read by the agent's own replay source (written to tmp_path); the
end-to-end test is the real `stad-convert train` (small model, no export) and `stad-convert inspect`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from agent.config import load
from conftest import convert_in_process
from convert.data import (SPLIT_MIN_RECORDINGS, TrainingError, holdout_runs, read_series, split_by,
                          split_segments, training_sources)

DAY = 86400
TICK = 120.0            # 720 ticks a day: a day-long recording stays small; a day fills the threshold's 500
STEPS = 8


def write_day(path: Path, t0: float, rows: int, seed: int) -> None:
    """Two sensors: a daily wave (a peak in the morning) plus noise, one row a tick from `t0`."""
    rng = np.random.default_rng(seed)
    t = t0 + TICK * np.arange(rows)
    a = np.sin(2 * np.pi * ((t % DAY) / DAY - 0.25)) + 0.1 * rng.standard_normal(rows)
    b = 0.5 * a + 0.1 * rng.standard_normal(rows)
    path.write_text("timestamp,a,b\n" + "".join(f"{t[i]:.0f},{a[i]:.5f},{b[i]:.5f}\n" for i in range(rows)))


def folder(tmp_path: Path, days: int, rows: int = int(DAY / TICK), start: float = 1.7e9 - 1.7e9 % DAY) -> Path:
    """`days` recordings of `rows` ticks, one a day; named so that name order is not time order."""
    rec = tmp_path / "rec"
    rec.mkdir()
    for d in range(days):
        write_day(rec / f"{'zyxwvu'[d]}-day.csv", start + d * DAY, rows, seed=d)
    return rec


def config(tmp_path: Path, rec: Path) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
                                    "sources": [{"type": "replay", "path": str(rec)}],
                                    "window": {"steps": STEPS, "carry_forward_s": 2 * TICK},
                                    "warmup": {"ticks": 50}, "sinks": []}))
    return path


def series(tmp_path: Path, rec: Path, split: str):
    cfg = load(str(config(tmp_path, rec)))
    return read_series(cfg, training_sources(cfg), split=split)


def test_auto_splits_day_files_by_recording_newest_for_test(tmp_path):
    s = series(tmp_path, folder(tmp_path, SPLIT_MIN_RECORDINGS + 1), "auto")
    assert s.split_by == "recording"
    parts = {seg["recording"]: seg["part"] for seg in s.segments}
    # by first tick, not by name: zyxwvu → z is the oldest day, u the newest
    assert parts == {"z-day.csv": "train", "y-day.csv": "train", "x-day.csv": "train",
                     "w-day.csv": "validation", "v-day.csv": "test"}
    day = int(DAY / TICK)
    assert (s.split.train_end, s.split.val_end, s.split.n) == (3 * day, 4 * day, 5 * day)
    # validation and test each hold every hour of a day
    for lo, hi in ((s.split.train_end, s.split.val_end), (s.split.val_end, s.split.n)):
        hours = set(((s.ts[lo:hi] % DAY) // 3600).astype(int))
        assert hours == set(range(24))
    # verify's held-out windows are from the newest recording only, spread over its every hour (not its night)
    runs = holdout_runs(s, STEPS, 240)
    assert runs and all(s.segments[int(s.segment[lo])]["recording"] == "v-day.csv" for lo, _ in runs)
    assert all(hi - lo >= STEPS for lo, hi in runs) and all(b[0] >= a[1] for a, b in zip(runs, runs[1:]))
    assert sum(hi - lo - STEPS + 1 for lo, hi in runs) <= 240
    held = np.concatenate([np.arange(lo, hi) for lo, hi in runs])
    assert set(((s.ts[held] % DAY) // 3600).astype(int)) == set(range(24))
    # no window spans two recordings: segment ids change only between recordings
    assert len(np.flatnonzero(np.diff(s.segment))) == 4


@pytest.mark.parametrize("days, rows", [(SPLIT_MIN_RECORDINGS - 1, int(DAY / TICK)),   # too few days
                                        (SPLIT_MIN_RECORDINGS + 1, 60),               # runs of two hours (SKAB-like)
                                        (1, 6 * int(DAY / TICK))])                    # one long recording
def test_auto_keeps_the_time_split_row_for_row(tmp_path, days, rows):
    rec = folder(tmp_path, days, rows)
    auto, time = series(tmp_path, rec, "auto"), series(tmp_path, rec, "time")
    assert auto.split_by == time.split_by == "time"
    assert auto.split == time.split
    for name in ("ts", "raw", "missing", "anomalous", "segment"):
        np.testing.assert_array_equal(getattr(auto, name), getattr(time, name))
    assert auto.segments == time.segments and all("part" not in seg for seg in auto.segments)


def test_one_short_recording_among_days_keeps_time(tmp_path):
    rec = folder(tmp_path, SPLIT_MIN_RECORDINGS + 1)
    write_day(rec / "short.csv", 1.7e9 - 1.7e9 % DAY + 10 * DAY, 200, seed=9)      # 6.7 h
    assert series(tmp_path, rec, "auto").split_by == "time"


def test_recording_split_refused_on_two_recordings_and_forced_on_three(tmp_path):
    rec = folder(tmp_path, 2)
    with pytest.raises(TrainingError, match="three recordings or more"):
        series(tmp_path, rec, "recording")
    write_day(rec / "third.csv", 1.7e9 - 1.7e9 % DAY + 5 * DAY, 20, seed=5)
    s = series(tmp_path, rec, "recording")
    assert {seg["recording"]: seg["part"] for seg in s.segments} == {"z-day.csv": "train", "y-day.csv": "validation",
                                                                     "third.csv": "test"}
    with pytest.raises(ValueError, match="none of"):
        split_by([], TICK, "days")


def test_a_part_without_a_window_is_refused(tmp_path):
    rec = folder(tmp_path, 3)
    write_day(rec / "last.csv", 1.7e9 - 1.7e9 % DAY + 5 * DAY, STEPS - 1, seed=5)
    with pytest.raises(TrainingError, match="test part .*last.csv.* no piece of 8 ticks"):
        series(tmp_path, rec, "recording")


def test_split_segments_unchanged_for_one_piece(tmp_path):
    """The time split itself is untouched: one recording → TimeSplit.of's boundaries."""
    s = series(tmp_path, folder(tmp_path, 1), "time")
    again = split_segments([("x", s)], STEPS)
    assert again.split == s.split


def test_train_and_inspect_say_which_part_each_recording_went_to(tmp_path, capsys):
    pytest.importorskip("torch")
    cfg = config(tmp_path, folder(tmp_path, SPLIT_MIN_RECORDINGS))
    out = tmp_path / "bundle"
    trained = convert_in_process(capsys, "train", "-c", str(cfg), "-o", str(out), "--no-export", "--epochs", "6",
                                 "--d-model", "8", "--ff-hidden", "8", "--threads", "1", "--windows-per-epoch", "512",
                                 "--quiet")         # train and inspect by their main, in this process (suite9)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    data = json.loads((out / "manifest.json").read_text())["data"]
    assert data["split_by"] == "recording"
    assert {seg["recording"]: seg["part"] for seg in data["segments"]} == {
        "z-day.csv": "train", "y-day.csv": "train", "x-day.csv": "validation", "w-day.csv": "test"}
    assert all(run["recording"] == "w-day.csv" for run in data["holdout_runs"])
    shown = convert_in_process(capsys, "inspect", str(out))
    for text in (trained.stdout, shown.stdout):
        assert "split by recording" in text
        assert "(validation 720, whole)" in text and "(test 720, whole)" in text
