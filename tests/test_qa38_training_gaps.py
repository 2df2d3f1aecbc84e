"""qa38: how `stad-convert train` speaks of a recording with stretches without data.

Found (qa37, left): each gap was logged in the aligner's live wording — `time base moved: the data jumped +3.0 d,
from … to … (N records in step with it); the ticks between are missing`, WARNING, once per gap — which on a gateway
is a clock to look into, but in training is only where a recording's data stops for a while: the trainer cuts it
there (segment_bounds) and no window spans the gap. Now training says that, once per recording, at INFO:
`plant.csv: 2 gaps without data (the longest 3.0 d, …): trained as 3 pieces, no window spans a gap`. The
agent's own aligner (run, evaluate) keeps the live wording: there a jump is news.
Real CSV files through the replay source; `stad-convert train` by its main, in this process (suite9).
"""
from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from agent.config import from_dict
from agent.records import Record, Rejects
from agent.window import Aligner

from conftest import convert_in_process
from sine_recording import write_runs

T0, GAP = 1.7e9, 3 * 86400.0


def _train(capsys, tmp_path: Path) -> subprocess.CompletedProcess:
    """`stad-convert train` by its main in this process (its stderr as a process's: conftest.convert_in_process)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sensors: [a, b]\ntick_s: 1\ntopology: none\nwindow: {steps: 8, carry_forward_s: 3}\nsinks: []\n"
                   "sources: [{type: replay, path: rec}]\nwarmup: {ticks: 50}\n")
    return convert_in_process(capsys, "train", "-c", str(cfg), "-o", str(tmp_path / "b"), "--no-export", "--epochs",
                              "1", "--d-model", "8", "--heads", "1", "--ff-hidden", "8", "--windows-per-epoch", "64",
                              "--quiet")


def test_training_says_a_recordings_gaps_once_as_pieces_not_as_the_time_base_moving(tmp_path, capsys):
    pytest.importorskip("torch")
    rec = tmp_path / "rec"
    rec.mkdir()
    write_runs(rec / "plant.csv", [T0, T0 + GAP, T0 + 2 * GAP], 300)
    write_runs(rec / "other.csv", [T0 + 10 * GAP], 300)         # no gap: nothing said of it
    res = _train(capsys, tmp_path)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    # on main: two lines `time base moved: the data jumped +3.0 d, … the ticks between are missing` (WARNING)
    assert "time base moved" not in res.stderr and "jumped" not in res.stderr, res.stderr
    said = [line for line in res.stderr.splitlines() if "gap" in line]
    assert len(said) == 1, res.stderr
    assert said[0].startswith("plant.csv: 2 gaps without data (the longest 3.0 d, from 2023-11-14T22:"), said[0]
    assert "trained as 3 pieces, no window spans a gap" in said[0], said[0]


def test_a_gap_shorter_than_the_window_is_masked_and_not_said(tmp_path, capsys):
    """Five seconds without data at `steps` 8: the ticks between are missing, the model masks them; no piece is cut."""
    pytest.importorskip("torch")
    rec = tmp_path / "rec"
    rec.mkdir()
    write_runs(rec / "plant.csv", [T0, T0 + 305], 300)
    res = _train(capsys, tmp_path)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert "time base moved" not in res.stderr and " gap" not in res.stderr, res.stderr


def test_the_agents_aligner_keeps_the_live_wording(caplog):
    """Where the agent replays or runs (Aligner.for_agent: run, evaluate), a jump of the data is still a WARNING."""
    cfg = from_dict({"sensors": ["a"], "tick_s": 1, "topology": "none", "sinks": [],
                     "sources": [{"type": "replay", "path": "."}], "window": {"steps": 8}})
    aligner = Aligner.for_agent(cfg, Rejects())
    records = [Record(ts=T0 + i, values={"a": float(i % 5)}) for i in range(50)]
    records += [Record(ts=T0 + GAP + i, values={"a": float(i % 5)}) for i in range(50)]
    with caplog.at_level(logging.INFO, logger="stad.aligner"):
        aligner.align_all(records)
    moved = [r for r in caplog.records if "time base moved: the data jumped +3.0 d" in r.getMessage()]
    assert len(moved) == 1 and moved[0].levelno == logging.WARNING, [r.getMessage() for r in caplog.records]
