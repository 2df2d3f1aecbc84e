"""What a plant engineer meets training a bundle from their own recordings (README "The attention
model and the converter"): a recording whose clock steps back, training twice into one folder, a
folder that is not a bundle, and what `stad-convert train` / `inspect` say about the data they read.

The recordings are real CSV files replayed by the agent's own replay source (written to tmp_path).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from agent.config import from_dict
from convert.data import read_series, training_sources

TICK = 1.0
STEPS = 8


def write_csv(path: Path, ts: np.ndarray, seed: int) -> None:
    """Two sensors (a slow wave plus noise), one row per entry of `ts` (epoch seconds)."""
    rng = np.random.default_rng(seed)
    a = np.sin(np.arange(len(ts)) / 15.0) + 0.1 * rng.standard_normal(len(ts))
    b = 0.5 * a + 0.1 * rng.standard_normal(len(ts))
    path.write_text("timestamp,a,b\n" + "".join(f"{t:.0f},{x:.5f},{y:.5f}\n" for t, x, y in zip(ts, a, b)))


def config(folder: Path):
    return from_dict({"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
                      "sources": [{"type": "replay", "path": str(folder)}],
                      "window": {"steps": STEPS, "carry_forward_s": 2 * TICK}, "warmup": {"ticks": 50},
                      "sinks": []}, base_dir=str(folder))


def test_a_recording_whose_clock_steps_back_is_two_pieces_and_no_window_spans_the_step(tmp_path, caplog):
    """Fails on the code before this test: the file stayed one segment whose time went back an hour
    at row 300, so training windows (and the 70/15/15 split) ran across the step."""
    rec = tmp_path / "rec"
    rec.mkdir()
    t0 = 1_772_600_000.0
    ts = np.concatenate([t0 + np.arange(300), t0 - 3600 + np.arange(300, 600)])   # set back an hour at row 300
    write_csv(rec / "day1.csv", ts, seed=1)
    cfg = config(rec)
    with caplog.at_level(logging.WARNING, logger="stad.convert.data"):
        series = read_series(cfg, training_sources(cfg))
    assert [s["rows"] for s in series.segments] == [300, 300]
    for k in np.unique(series.segment):
        assert (np.diff(series.ts[series.segment == k]) > 0).all()      # time moves forward inside a piece
    said = [r.getMessage() for r in caplog.records if r.name == "stad.convert.data"]
    assert len(said) == 1 and said[0].startswith("day1.csv: its time steps back at tick 301 of 600")
