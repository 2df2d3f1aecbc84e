"""verify's calm held-out windows: taken per recording, none across a join, none holding a labelled row
(convert/data.py `holdout_runs`, the manifest's `data.holdout_runs`); a bundle written before keeps its
one run, said; and when verify fails, a line on which recordings the failing windows came from and
whether their level lies outside training's (user10's finding: four recordings of a pump plus one at
another operating point, verify FAILED with 34 % of the "calm" windows over PyTorch's own threshold).

The recordings are real CSV files replayed by the agent's own replay source (written to tmp_path);
training is the real `stad-convert train` on a small model (its main, in this process).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from agent.config import from_dict
from agent.bundle import read_manifest
from agent.manifest import write as write_manifest
from conftest import convert_in_process
from convert.data import Series, TimeSplit, holdout_runs, read_series, training_sources

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "tests" / "fixtures" / "demo-corridor-1001"   # the demo bundle shipped until corridor24: no holdout_runs
TICK = 1.0
STEPS = 8


def write_csv(path: Path, t0: float, rows: int, seed: int, labelled: range = range(0), shift_from: int | None = None,
              level: float = 0.0) -> None:
    """Two sensors (a slow wave plus noise), one row a tick; rows in `labelled` carry anomaly 1; from
    row `shift_from` on, both sensors run `level` higher and ten times as noisy (another operating point)."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    a = np.sin(t / 15.0) + 0.1 * rng.standard_normal(rows)
    b = 0.5 * a + 0.1 * rng.standard_normal(rows)
    if shift_from is not None:
        a[shift_from:] += level + rng.standard_normal(rows - shift_from)
        b[shift_from:] += level + rng.standard_normal(rows - shift_from)
    path.write_text("timestamp,a,b,anomaly\n" + "".join(f"{t0 + i:.0f},{a[i]:.5f},{b[i]:.5f},{int(i in labelled)}\n"
                                                          for i in range(rows)))


def write_config(tmp_path: Path, folder: Path) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": TICK, "topology": "none",
                                    "sources": [{"type": "replay", "path": str(folder), "label_columns": ["anomaly"]}],
                                    "window": {"steps": STEPS, "carry_forward_s": 2 * TICK},
                                    "warmup": {"ticks": 50}, "sinks": []}))
    return path


def train_cli(capsys, cfg_path: Path, out: Path) -> subprocess.CompletedProcess:
    """`stad-convert train`, small and quick: a small model, no export (verify then checks PyTorch alone); its main
    in this process, as verify's (what they say and write is the claim: the torch import once per worker, suite9)."""
    return convert_in_process(capsys, "train", "-c", str(cfg_path), "-o", str(out), "--no-export", "--epochs", "6",
                              "--d-model", "8", "--ff-hidden", "8", "--threads", "1", "--windows-per-epoch", "512",
                              "--quiet")


def verify_cli(capsys, bundle: Path) -> subprocess.CompletedProcess:
    return convert_in_process(capsys, "verify", str(bundle))


def series_of(rows: int, segment: np.ndarray, anomalous: np.ndarray, split: TimeSplit) -> Series:
    return Series(sensors=["a"], ts=np.arange(rows, dtype=float), raw=np.zeros((rows, 1)),
                  missing=np.zeros((rows, 1), bool), anomalous=anomalous, segment=segment, split=split)


def test_holdout_runs_one_recording_is_today_s_slice_and_several_are_cut_at_joins_and_labels():
    # one recording, no labels: rows [val_end, val_end + windows + steps − 1), as before this change
    n = 10_000
    one = series_of(n, np.zeros(n, int), np.zeros(n, bool), TimeSplit.of(n))
    assert holdout_runs(one, STEPS, 720) == [(8500, 8500 + 720 + STEPS - 1)]
    short = series_of(100, np.zeros(100, int), np.zeros(100, bool), TimeSplit.of(100))
    assert holdout_runs(short, STEPS, 720) == [(85, 100)]
    # test rows 100–159 of recording 0, 160–259 of recording 1 (labelled 200–204), 260–263 of 2 (too short)
    segment = np.r_[np.zeros(100, int), np.zeros(60, int), np.ones(100, int), np.full(4, 2)]
    anomalous = np.zeros(264, bool)
    anomalous[200:205] = True
    several = series_of(264, segment, anomalous, TimeSplit(n=264, train_end=50, val_end=100))
    assert holdout_runs(several, STEPS, 720) == [(100, 160), (160, 200), (205, 260)]
    capped = holdout_runs(several, STEPS, 60)            # 53 + 33 + 48 windows held; 60 in proportion
    assert [hi - lo - STEPS + 1 for lo, hi in capped] == [23, 14, 21]
    assert [lo for lo, _ in capped] == [100, 160, 205]
    assert holdout_runs(series_of(264, segment, np.ones(264, bool), several.split), STEPS, 720) == []


def test_two_recordings_held_out_windows_never_cross_the_join_nor_hold_a_labelled_row(tmp_path, capsys):
    pytest.importorskip("torch")
    rec = tmp_path / "rec"
    rec.mkdir()
    write_csv(rec / "a.csv", 1.77e9, 400, seed=1)
    write_csv(rec / "b.csv", 1.78e9, 400, seed=2, labelled=range(360, 372))     # inside b's test part
    cfg_path, out = write_config(tmp_path, rec), tmp_path / "bundle"
    proc = train_cli(capsys, cfg_path, out)
    assert proc.returncode == 0, proc.stderr
    data = read_manifest(out).data
    cfg = from_dict(yaml.safe_load(cfg_path.read_text()), base_dir=str(rec))
    series = read_series(cfg, training_sources(cfg))
    runs = [tuple(r["rows"]) for r in data["holdout_runs"]]
    assert [r["recording"] for r in data["holdout_runs"]] == ["a.csv", "b.csv", "b.csv"]
    for lo, hi in runs:
        assert lo >= series.split.val_end and hi - lo >= STEPS
        assert len(set(series.segment[lo:hi])) == 1                    # one recording
        assert not series.anomalous[lo:hi].any()                       # no labelled row
        assert np.all(np.diff(series.ts[lo:hi]) == TICK)               # consecutive ticks
    labelled = np.flatnonzero(series.anomalous)
    assert labelled.size == 12 and all(not lo <= i < hi for i in labelled for lo, hi in runs)
    holdout = np.load(str(out / "holdout.npy"), allow_pickle=False)
    assert len(holdout) == sum(hi - lo for lo, hi in runs)
    assert data["holdout_rows"] == [runs[0][0], runs[-1][1]]
    assert data["raw_sample"]["ts"] == [float(t) for t in series.ts[runs[0][0]:runs[0][0] + 16]]
    done = verify_cli(capsys, out)
    assert done.returncode == 0, done.stderr
    assert "held-out windows of one run" not in done.stderr


def test_an_old_bundle_verifies_as_before_and_says_its_windows_are_one_run(tmp_path):
    """The demo bundle shipped until corridor24 has no holdout_runs: it verifies with the note, and gives the same
    figures (latency aside) as the same rows stated as one run of one recording."""
    pytest.importorskip("torch")
    from convert.verify import verify_bundle
    said = []
    ok, old = verify_bundle(DEMO, log=said.append)
    assert ok and any("held-out windows of one run (bundle written before" in s for s in said)
    copy = tmp_path / "demo"
    shutil.copytree(DEMO, copy)
    manifest = read_manifest(copy)
    manifest.data = {**manifest.data, "holdout_runs": [{"recording": "sources", "rows": manifest.data["holdout_rows"]}]}
    write_manifest(copy, manifest)
    said.clear()
    ok, new = verify_bundle(copy, log=said.append)
    assert ok and not any("one run" in s for s in said)

    def figures(parity):            # every figure but the latencies (the machine is loaded)
        if isinstance(parity, dict):
            return {k: figures(v) for k, v in parity.items() if not k.startswith("latency") and k != "pytorch"}
        return parity
    assert figures(new) == figures(old)


def test_training_without_a_calm_held_out_window_fails_with_the_reason(tmp_path, capsys):
    pytest.importorskip("torch")
    rec = tmp_path / "rec"
    rec.mkdir()
    write_csv(rec / "a.csv", 1.77e9, 200, seed=1, labelled=range(160, 200))      # the whole test part
    proc = train_cli(capsys, write_config(tmp_path, rec), tmp_path / "bundle")
    assert proc.returncode == 2, proc.stderr
    assert "no calm held-out window for verify" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "bundle").exists()


def test_verify_says_the_failing_windows_come_from_a_recording_at_another_level(tmp_path, capsys):
    pytest.importorskip("torch")
    rec = tmp_path / "rec"
    rec.mkdir()
    write_csv(rec / "a.csv", 1.77e9, 300, seed=1)
    # b: its training and validation parts like a's; its test part (rows 510–599) at another operating point
    write_csv(rec / "b.csv", 1.78e9, 600, seed=2, shift_from=510, level=20.0)
    out = tmp_path / "bundle"
    proc = train_cli(capsys, write_config(tmp_path, rec), out)
    assert proc.returncode == 0, proc.stderr
    done = verify_cli(capsys, out)
    assert done.returncode == 1
    advice = [line for line in done.stderr.splitlines() if line.startswith("why it may be the data")]
    assert len(advice) == 1, done.stderr
    assert "held-out rows of b.csv (" in advice[0]
    assert "b.csv's a (median" in advice[0] or "b.csv's b (median" in advice[0]
    assert "an operating point not in training" in advice[0]
