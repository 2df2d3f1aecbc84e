"""`stad-convert train --split` (convert3) on folders a hostile or unlucky user hands it: 0, 1, 3, 4 recordings,
one empty file, and recordings that cover the same time — a day exported twice (`day-3.csv`, `day-3 (1).csv`),
a file that overlaps the next. Split by recording, the newest recording is the test part and the one before it
the validation part: with a copy of the newest day, validation *was* the test day, and verify's held-out
figures judged a day the threshold was calibrated on. The recordings are real CSV files read by the agent's
own replay source.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from agent.config import load
from convert.data import TrainingError, read_series, training_sources

DAY = 86400.0
TICK = 240.0            # 360 ticks a day: small files
START = 1.7e9 - 1.7e9 % DAY


def _day(path: Path, t0: float, seed: int, rows: int = int(DAY / TICK)) -> None:
    rng = np.random.default_rng(seed)
    t = t0 + TICK * np.arange(rows)
    a = np.cos(2 * np.pi * (t % DAY) / DAY) + 0.1 * rng.standard_normal(rows)
    path.write_text("timestamp,a,b\n" + "".join(f"{t[i]:.0f},{a[i]:.4f},{0.5 * a[i]:.4f}\n" for i in range(rows)))


def _folder(tmp_path: Path, days: int) -> Path:
    rec = tmp_path / "rec"
    rec.mkdir()
    for d in range(days):
        _day(rec / f"day-{d}.csv", START + d * DAY, seed=d)
    return rec


def _series(tmp_path: Path, rec: Path, split: str):
    f = tmp_path / "train.yaml"
    f.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
                                 "sources": [{"type": "replay", "path": str(rec)}],
                                 "window": {"steps": 8, "carry_forward_s": 2 * TICK}, "warmup": {"ticks": 50},
                                 "sinks": []}))
    cfg = load(str(f))
    return read_series(cfg, training_sources(cfg), split=split)


@pytest.mark.parametrize("split", ["auto", "recording"])
def test_a_copy_of_the_newest_day_is_not_split_off_as_its_own_validation(tmp_path, split, caplog):
    rec = _folder(tmp_path, 4)
    shutil.copy(rec / "day-3.csv", rec / "day-3 (1).csv")
    if split == "recording":
        # On the old code: validation 'day-3 (1).csv', test 'day-3.csv' — the same rows.
        with pytest.raises(TrainingError, match=r"day-3 \(1\)\.csv and day-3\.csv overlap by 86400 s"):
            _series(tmp_path, rec, split)
        return
    s = _series(tmp_path, rec, split)
    assert s.split_by == "time"
    assert "split by time, not by recording: day-3 (1).csv and day-3.csv overlap" in caplog.text


def test_a_recording_overlapping_the_newest_day_by_half_is_refused_for_a_split_by_recording(tmp_path):
    rec = _folder(tmp_path, 4)
    _day(rec / "late.csv", START + 3.5 * DAY, seed=9)
    with pytest.raises(TrainingError, match="day-3.csv and late.csv overlap by 43200 s"):
        _series(tmp_path, rec, "recording")


def test_day_files_that_repeat_the_next_midnight_tick_still_split_by_recording(tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    for d in range(4):           # 00:00 to 00:00 of the next day, both included: one tick shared
        _day(rec / f"day-{d}.csv", START + d * DAY, seed=d, rows=int(DAY / TICK) + 1)
    s = _series(tmp_path, rec, "auto")
    assert s.split_by == "recording"
    assert [g["part"] for g in s.segments] == ["train", "train", "validation", "test"]


@pytest.mark.parametrize("days", [0, 1, 3, 4])
def test_zero_one_three_four_recordings_and_an_empty_file(tmp_path, days):
    rec = _folder(tmp_path, days)
    (rec / "empty.csv").write_text("")
    (rec / "header-only.csv").write_text("timestamp,a,b\n")
    if days == 0:
        with pytest.raises(TrainingError, match="the sources produced no rows"):
            _series(tmp_path, rec, "auto")
        return
    s = _series(tmp_path, rec, "auto")
    assert s.split_by == ("recording" if days == 4 else "time")
    assert sorted(g["recording"] for g in s.segments) == [f"day-{d}.csv" for d in range(days)]
    if days < 3:
        with pytest.raises(TrainingError, match=f"needs three recordings or more .* there are {days}"):
            _series(tmp_path, rec, "recording")
    else:
        assert _series(tmp_path, rec, "recording").segments[-1]["part"] == "test"
