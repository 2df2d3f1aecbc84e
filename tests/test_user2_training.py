"""What a plant engineer meets training a bundle from their own recordings (README "The attention
model and the converter"): a recording whose clock steps back, training twice into one folder, a
folder that is not a bundle, what `stad-convert train` / `inspect` say about the data they read, and
`stad-agent evaluate` on a config that warms up from a recording.

The recordings are real CSV files replayed by the agent's own replay source (written to tmp_path).
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from agent.bundle import load
from agent.config import from_dict
from conftest import convert_in_process
from convert.data import read_series, training_sources

REPO = Path(__file__).resolve().parent.parent
TICK = 1.0
STEPS = 8


def write_csv(path: Path, ts: np.ndarray, seed: int, blank_b: bool = False) -> None:
    """Two sensors (a slow wave plus noise), one row per entry of `ts` (epoch seconds); with
    `blank_b`, every cell of sensor b is empty."""
    rng = np.random.default_rng(seed)
    a = np.sin(np.arange(len(ts)) / 15.0) + 0.1 * rng.standard_normal(len(ts))
    b = 0.5 * a + 0.1 * rng.standard_normal(len(ts))
    path.write_text("timestamp,a,b\n" + "".join(f"{t:.0f},{x:.5f},{'' if blank_b else f'{y:.5f}'}\n"
                                                 for t, x, y in zip(ts, a, b)))


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


def mornings(folder: Path, days: int = 3, rows: int = 600, blank_b_on: int | None = None) -> Path:
    folder.mkdir()
    for d in range(days):
        write_csv(folder / f"day{d}.csv", 1_772_600_000.0 + d * 86400 + np.arange(rows), seed=d,
                  blank_b=d == blank_b_on)
    return folder


def train_cli(capsys, cfg_path: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """`stad-convert train`, small and quick: a small model, no export; its main run in this process (what it says
    and leaves is the claim: the torch import once per worker, suite9)."""
    return convert_in_process(capsys, "train", "-c", str(cfg_path), "-o", str(out), "--no-export", "--epochs", "10",
                              "--d-model", "8", "--ff-hidden", "8", "--threads", "1", "--windows-per-epoch", "1024",
                              "--quiet", *extra)


def write_config(tmp_path: Path, folder: Path) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
                                    "sources": [{"type": "replay", "path": str(folder)}],
                                    "window": {"steps": STEPS, "carry_forward_s": 2 * TICK},
                                    "warmup": {"ticks": 50}, "sinks": []}))
    return path


def test_training_into_a_bundle_replaces_it_whole_and_refuses_a_folder_that_is_not_one(tmp_path, capsys):
    """Fails on the code before this test: training again into a bundle's directory with
    --no-export left the old model's .onnx/.tflite files beside the new model.pt (listed nowhere),
    said nothing, and a folder of recordings given as -o got the bundle's files mixed in."""
    pytest.importorskip("torch")
    cfg_path = write_config(tmp_path, mornings(tmp_path / "rec"))
    out = tmp_path / "bundle"
    shutil.copytree(REPO / "agent" / "models" / "demo-corridor", out)     # a real exported bundle
    proc = train_cli(capsys, cfg_path, out)
    assert proc.returncode == 0, proc.stderr
    assert f"{out} holds bundle demo-corridor" in proc.stderr and "replaced when training succeeds" in proc.stderr
    bundle = load(out)
    assert bundle.sensors == ["a", "b"] and not bundle.manifest.artifacts
    listed = {f for f in bundle.manifest.files} | {"manifest.json"}
    assert {p.name for p in out.iterdir()} == listed        # nothing of the demo bundle is left

    recordings = tmp_path / "rec"
    before = sorted(p.name for p in recordings.iterdir())
    proc = train_cli(capsys, cfg_path, recordings)
    assert proc.returncode == 2
    assert "holds day0.csv, day1.csv, day2.csv, which no bundle has" in proc.stderr
    assert sorted(p.name for p in recordings.iterdir()) == before


def test_train_and_inspect_say_what_data_the_bundle_was_trained_on(tmp_path, capsys):
    """Fails on the code before this test: neither `train` nor `inspect` said how many ticks of which
    recording went into which part, nor that sensor b was blank in one file of three — a bundle
    trained on other data than meant looked like any other; nor did `train` say how many normal
    validation ticks score above the threshold it calibrated (a `risk` of 0.2: a fifth of them)."""
    pytest.importorskip("torch")
    cfg_path = write_config(tmp_path, mornings(tmp_path / "rec", blank_b_on=1))
    out = tmp_path / "bundle"
    proc = train_cli(capsys, cfg_path, out)
    assert proc.returncode == 0, proc.stderr
    inspected = convert_in_process(capsys, "inspect", str(out))
    assert inspected.returncode == 0, inspected.stderr
    for text in (proc.stdout, inspected.stdout):
        lines = text.splitlines()
        data = next(i for i, line in enumerate(lines) if line.startswith("data "))
        assert lines[data].startswith(f"data        1800 ticks (train 1260, validation 270, test 270) from replay "
                                      f"{tmp_path / 'rec'}")
        assert [line.split()[:3] for line in lines[data + 1:data + 4]] == [
            ["day0.csv", "600", "ticks"], ["day1.csv", "600", "ticks"], ["day2.csv", "600", "ticks"]]
        assert lines[data + 4].startswith("  missing on: b 33.3 % of the ticks")
    m = load(out).manifest
    assert not {"days", "seed", "anomalies"} & set(m.data)     # the simulator's settings: no simulator here
    share = m.training["val_share_above_threshold"]
    assert 0.0 <= share < 0.05
    assert (f"  threshold {m.threshold['value']:.3f} (pot, risk 0.001): {100 * share:.2f} % of the validation "
            f"ticks, normal data, score above it (about {share * 3600:.0f} ticks an hour)") in proc.stdout.splitlines()


def labelled_config(tmp_path: Path, **warmup) -> Path:
    """A labelled recording (rows 250-279 anomalous) and an evaluate config replaying it."""
    labelled = tmp_path / "test.csv"
    write_csv(labelled, 1_772_900_000.0 + np.arange(400), seed=9)
    rows = labelled.read_text().splitlines()
    labelled.write_text("\n".join([rows[0] + ",anomaly"] + [r + (",1" if 250 <= i < 280 else ",0")
                                                           for i, r in enumerate(rows[1:])]) + "\n")
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
                                   "sources": [{"type": "replay", "path": str(labelled), "label_columns": ["anomaly"]}],
                                   "window": {"steps": STEPS, "carry_forward_s": 2 * TICK},
                                   "warmup": {"ticks": 100, **warmup}, "sinks": []}))
    return cfg


def test_evaluate_says_it_does_not_use_warmup_replay(tmp_path, capsys):
    """Fails on the code before this test: with warmup.replay in the config, `run` warmed up on the
    recording while `evaluate` silently fitted each file on its own first warmup.ticks ticks — the
    figures were for another warm-up than the one the config runs, and nothing said so."""
    from agent.cli import main
    recorded = mornings(tmp_path / "rec", days=1)
    cfg = labelled_config(tmp_path, replay=str(recorded))
    assert main(["evaluate", "-c", str(cfg), "--scorer", "numpy"]) == 0
    out, err = capsys.readouterr()
    assert f"evaluate: warmup.replay ({recorded}) is not used: every file warms up on its own training part" in err
    assert "protocol warmup" in out


def test_a_sensor_whose_column_never_matched_is_refused_with_what_reading_rejected(tmp_path, capsys):
    """Fails on the code before this test: the refusal named the sensor but not why it was never
    observed — a column name in `columns` with a space the files' header does not have."""
    pytest.importorskip("torch")
    folder = mornings(tmp_path / "rec")
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
                                    "sources": [{"type": "replay", "path": str(folder),
                                                 "columns": {"a": "a", "b ": "b"}}],
                                    "window": {"steps": STEPS, "carry_forward_s": 2 * TICK},
                                    "warmup": {"ticks": 50}, "sinks": []}))
    proc = train_cli(capsys, path, tmp_path / "bundle")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("stad-convert train: sensor b has no observed, normal value in the training part")
    assert "; 3 file header(s) read without a mapped column (missing column: 3; their rows read" in last   # user32


def test_too_short_a_recording_is_refused_with_the_length_that_would_do(tmp_path, capsys):
    """Fails on the code before this test: the refusal said '… at least 500 scored ticks' of a
    recording of 400 rows, and a plant engineer who then recorded 550 was refused again — it now
    says how long one recording must be, and a recording that long trains."""
    pytest.importorskip("torch")
    needed = 605            # (500 scored + 2 × (8 − 1)) / 0.85, rounded up: TimeSplit's 70 % + 15 %
    short, enough = tmp_path / "short", tmp_path / "enough"
    for folder, rows in ((short, needed - 1), (enough, needed)):
        folder.mkdir()
        write_csv(folder / "one.csv", 1_772_600_000.0 + np.arange(rows), seed=4)
    proc = train_cli(capsys, write_config(tmp_path, short), tmp_path / "b1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith(
        f"— in one piece, a recording of at least {needed} ticks (each further piece: 14 more)")
    proc = train_cli(capsys, write_config(tmp_path, enough), tmp_path / "b2")
    assert "too little data" not in proc.stderr and proc.returncode == 0, proc.stderr


def test_evaluate_into_a_closed_pipe_ends_without_a_traceback(tmp_path):
    """Fails on the code before this test: `stad-agent evaluate … | head` ended in a BrokenPipeError
    traceback when head had gone before the table was written."""
    cfg = labelled_config(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "evaluate", "-c", str(cfg), "--scorer", "numpy"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()                 # the reader is gone before anything is written
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_a_short_first_piece_does_not_fail_verify_s_tick_check(tmp_path, capsys):
    """Fails on the code before this test: a recording that begins with a short piece (62 ticks, then
    the logger gone 2 min) has only 9 test rows in that piece, so the manifest's 16-row raw sample ran on
    into the next piece, and verify refused the bundle: "tick_s: 1 in the manifest, but the training
    rows are 1 s apart" — the time between the pieces read as a tick. The sample now says where a new
    piece begins and the tick is checked inside each."""
    pytest.importorskip("torch")
    from convert.provenance import provenance_problems
    rec = tmp_path / "rec"
    rec.mkdir()
    t0 = 1_772_600_000.0
    write_csv(rec / "day0.csv", np.concatenate([t0 + np.arange(60), t0 + 200 + np.arange(700)]), seed=1)
    out = tmp_path / "bundle"
    proc = train_cli(capsys, write_config(tmp_path, rec), out)
    assert proc.returncode == 0, proc.stderr
    bundle = load(out)
    sample = bundle.manifest.data["raw_sample"]
    assert sample["piece_starts"] == [9] and len(sample["ts"]) == 16
    holdout = np.load(str(out / "holdout.npy"), allow_pickle=False)
    assert provenance_problems(bundle.manifest, holdout) == []
    # …and a tick_s that is wrong is still found inside the pieces
    bundle.manifest.tick_s = 2.0
    assert any(p.startswith("tick_s: 2 in the manifest") for p in provenance_problems(bundle.manifest, holdout))
