"""`stad-convert train` on odd recordings (QA pass 8): what must be refused is refused with the
reason on stderr and exit 2, never a traceback, and never a bundle trained on nothing.

Real CSV files replayed by the agent's own replay source, written to tmp_path.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")

from agent.config import from_dict  # noqa: E402
from convert.data import read_series, training_sources  # noqa: E402
from convert.train import TrainingError, TrainOptions, train  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TICK = 10.0
STEPS = 8
TINY = TrainOptions(epochs=1, d_model=8, heads=2, ff_hidden=8, threads=1, progress=False, windows_per_epoch=256)


def write_csv(path: Path, rows: int, columns: dict[str, str], seed: int = 0, time_of=None) -> None:
    """columns: name → 'wave' (a slow sine plus noise), 'nan' (every cell `nan`) or 'const'."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    time_of = time_of or (lambda i: f"{1.7e9 + i * TICK:.0f}")
    cells = {"wave": lambda: np.sin(t / 15.0) + 0.1 * rng.standard_normal(rows),
             "nan": lambda: np.full(rows, np.nan), "const": lambda: np.full(rows, 2.5)}
    data = {name: cells[kind]() for name, kind in columns.items()}
    lines = [",".join(["timestamp", *columns])]
    lines += [",".join([time_of(i), *(f"{data[c][i]:.5f}" for c in columns)]) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def config_dict(folder: Path, sensors: list[str]) -> dict:
    return {"sensors": sensors, "tick_s": TICK, "topology": "none",
            "sources": [{"type": "replay", "path": str(folder)}],
            "window": {"steps": STEPS, "carry_forward_s": 2 * TICK}, "warmup": {"ticks": 50}, "sinks": []}


def run_train(tmp_path: Path, d: dict) -> subprocess.CompletedProcess:
    cfg_path = tmp_path / "train.yaml"
    cfg_path.write_text(yaml.safe_dump(d))
    return subprocess.run([sys.executable, "-m", "convert.cli", "train", "-c", str(cfg_path), "-o",
                           str(tmp_path / "bundle"), "--epochs", "1", "--no-export", "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_a_sensor_never_observed_is_refused_by_name(tmp_path):
    """A column of `nan` (or a sensor no file has) used to train: mean 0, std 1e-6, residual
    scale 1.0 — a bundle whose first real value of that sensor scores in the millions."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "x.csv", 2000, {"a": "wave", "b": "wave", "c": "nan"})
    cfg = from_dict(config_dict(folder, ["a", "b", "c"]), base_dir=str(folder))
    with pytest.raises(TrainingError, match=r"sensor c has no observed, normal value in the training part"):
        train(read_series(cfg, training_sources(cfg)), STEPS, cfg.threshold, TINY)
    proc = run_train(tmp_path, config_dict(folder, ["a", "b", "d"]))     # d: no column at all
    assert proc.returncode == 2, proc.stderr
    assert "sensor d has no observed, normal value in the training part" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "bundle").exists()
    assert "RuntimeWarning" not in proc.stderr, proc.stderr     # numpy's "Mean of empty slice" came first


def test_a_sensor_observed_only_in_training_is_refused_for_validation(tmp_path):
    """Observed in training but not in validation: its residual scale would default to 1.0."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "x.csv", 2000, {"a": "wave", "b": "wave"})
    cfg = from_dict(config_dict(folder, ["a", "b"]), base_dir=str(folder))
    series = read_series(cfg, training_sources(cfg))
    lo, hi = series.split.train_end, series.split.val_end
    series.missing[lo:hi, 1] = True
    series.raw[lo:hi, 1] = np.nan
    with pytest.raises(TrainingError, match=r"sensor b has no observed, normal value in the validation part"):
        train(series, STEPS, cfg.threshold, TINY)


def refused_recording(tmp_path: Path, rows: int, time_of) -> tuple[subprocess.CompletedProcess, str]:
    """`stad-convert train` on one two-sensor recording whose time column is `time_of(row)`: the
    process, which must have exited 2, and its last stderr line (the reason)."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "x.csv", rows, {"a": "wave", "b": "wave"}, time_of=time_of)
    proc = run_train(tmp_path, config_dict(folder, ["a", "b"]))
    assert proc.returncode == 2, proc.stderr
    return proc, proc.stderr.strip().splitlines()[-1]


def test_no_row_at_all_is_a_clear_refusal_with_the_rejects(tmp_path):
    """Epoch milliseconds (or any unreadable time column): every record rejected. It used to end
    in a ValueError traceback with exit 1; now exit 2 and what was rejected, by reason."""
    proc, last = refused_recording(tmp_path, 300, lambda i: f"{(1.7e9 + i * TICK) * 1000:.0f}")
    assert last.startswith("stad-convert train: x.csv: 300 of its 300 rows could not be read"), proc.stderr
    assert "300 bad timestamp" in last                  # (convert6: the file named; was "the sources produced no rows")
    assert "Traceback" not in proc.stderr


def test_a_sensor_constant_in_training_is_named(tmp_path, caplog):
    """A flat sensor trains (a setpoint may be flat) but is said: its normaliser's std is a floor,
    so any change of it in the field scores far above the threshold."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "x.csv", 2000, {"a": "wave", "b": "wave", "c": "const"})
    cfg = from_dict(config_dict(folder, ["a", "b", "c"]), base_dir=str(folder))
    with caplog.at_level("WARNING", logger="stad.convert"):
        try:
            train(read_series(cfg, training_sources(cfg)), STEPS, cfg.threshold, TINY)
        except TrainingError:
            pass                        # one epoch may not beat repeating the last value: not the point here
    said = [r.getMessage() for r in caplog.records if r.name == "stad.convert"]
    assert any("sensor c is constant (2.5) in the training part" in m for m in said), said
    assert not any("sensor a" in m or "sensor b" in m for m in said), said


@pytest.mark.parametrize("steps", ["0", "1", "-3", "5000"])
def test_steps_override_is_checked_like_window_steps(tmp_path, steps):
    """`--steps` bypassed window.steps' range (4..4096): 0 was silently ignored, 1 ended in an
    IndexError traceback, -3 in a numpy message about `window_shape`."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "x.csv", 400, {"a": "wave", "b": "wave"})
    cfg_path = tmp_path / "train.yaml"
    cfg_path.write_text(yaml.safe_dump(config_dict(folder, ["a", "b"])))
    proc = subprocess.run([sys.executable, "-m", "convert.cli", "train", "-c", str(cfg_path), "-o",
                           str(tmp_path / "bundle"), f"--steps={steps}", "--epochs", "1", "--no-export", "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith("--steps (window.steps): steps: must be "), proc.stderr
    assert proc.stderr.strip().endswith(f"got {steps}") and "Traceback" not in proc.stderr


def test_too_little_data_says_what_was_rejected(tmp_path):
    """A recording exported newest-first: every row but the first few is 'late' for the aligner.
    Training said only '3 rows cannot fill a window'; now the file, its rows lost and why (convert6)."""
    proc, last = refused_recording(tmp_path, 600, lambda i: f"{1.7e9 + (599 - i) * TICK:.0f}")
    assert last.startswith("stad-convert train: x.csv: 597 of its 600 rows could not be read (597 late"), last
    assert "newest first" in last, last


def test_a_live_source_is_refused_not_listened_to_forever(tmp_path):
    """`stad-convert train -c configs/roadside.yaml` (a udp source) sat listening, silent, forever."""
    d = config_dict(tmp_path, ["a", "b"])
    d["sources"] = [{"type": "udp", "port": 47999}]
    proc = run_train(tmp_path, d)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("stad-convert train: sources[0]: a udp source waits for live data and never ends: "
                                   "training reads recordings — a replay source (a file, or a folder of them), a "
                                   "simulate source, or stdin from a file"), proc.stderr


def test_a_plugin_source_that_ends_is_trained_on_and_one_that_never_ends_is_refused(tmp_path):
    """The live-source refusal was a fixed list of the built-in recorded kinds, so a recorded-file
    source added as a plugin (README: one module, nothing else edited) was refused as 'never ends'
    (review8). A source says so itself: `SourceConfig.endless`."""
    from dataclasses import dataclass
    from typing import ClassVar

    from agent.sources.base import SourceConfig

    @dataclass(frozen=True)
    class JsonFileConfig(SourceConfig):
        TYPE: ClassVar[str] = "jsonfile"
        path: str = "x.jsonl"

    @dataclass(frozen=True)
    class SerialConfig(SourceConfig):
        TYPE: ClassVar[str] = "serial"
        endless: ClassVar[bool] = True

    cfg = from_dict(config_dict(tmp_path, ["a", "b"]))
    cfg.sources = [JsonFileConfig()]
    assert training_sources(cfg) == [JsonFileConfig()]
    cfg.sources = [JsonFileConfig(), SerialConfig()]
    with pytest.raises(TrainingError, match=r"^sources\[1\]: a serial source waits for live data and never ends"):
        training_sources(cfg)


@pytest.mark.parametrize("args, says", [
    (["export", "B", "--only", "bogus"], "argument --only: unknown artifact kind(s) bogus"),
    (["verify", "B", "--min-agreement", "1.5"], "argument --min-agreement: expected a share in [0, 1], got 1.5"),
    (["train", "-c", "B", "-o", "B", "--only", "tflite_fp32,bogus"], "argument --only: unknown artifact kind(s) bogus"),
    (["train", "-c", "B", "-o", "B", "--no-export", "--only", "onnx_fp32"],
     "argument --only: not allowed with argument --no-export"),
    (["export", "B", "--tflite-int8-recipes", "dynamic_range_int8_per_channel,bogus"],
     "argument --tflite-int8-recipes: unknown TFLite int8 recipe(s) bogus (known: weight_only_int8_per_channel, "
     "dynamic_range_int8_per_channel, static_int8_per_channel_minmax)"),
    (["train", "-c", "B", "-o", "B", "--tflite-int8-recipes", ","],
     "argument --tflite-int8-recipes: unknown TFLite int8 recipe(s) (none given)"),
])
def test_export_and_verify_options_are_checked_before_any_work(tmp_path, args, says):
    """`export --only bogus` ended in a ValueError traceback; `verify --min-agreement 1.5` ran the
    whole verification to fail a bar no bundle can pass."""
    proc = subprocess.run([sys.executable, "-m", "convert.cli", *[str(tmp_path) if a == "B" else a for a in args]],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_training_options_out_of_range_are_refused_by_flag(tmp_path):
    """--batch-size 0, --lr -1, --d-model 0 and --heads 3 (with d_model 32) ended in ValueError /
    ZeroDivisionError tracebacks after the data was read; --windows-per-epoch -5 trained silently."""
    d = config_dict(tmp_path, ["a", "b"])
    cfg_path = tmp_path / "train.yaml"
    cfg_path.write_text(yaml.safe_dump(d))
    proc = subprocess.run([sys.executable, "-m", "convert.cli", "train", "-c", str(cfg_path), "-o",
                           str(tmp_path / "bundle"), "--batch-size", "0", "--lr", "-1", "--heads", "3",
                           "--windows-per-epoch", "-5", "--no-export", "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "stad-convert train: --batch-size: must be at least 1, got 0",
        "stad-convert train: --d-model: must be divisible by --heads (3), got 32",
        "stad-convert train: --lr: must be a positive number, got -1.0",
        "stad-convert train: --windows-per-epoch: must be at least 1 (0: all), got -5"], proc.stderr
    with pytest.raises(TrainingError, match="--d-model: must be at least 1, got 0"):
        train(None, STEPS, None, TrainOptions(d_model=0))         # checked before anything is read
