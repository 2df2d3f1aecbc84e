"""qa37: `stad-convert train` on recordings a historian or a hand really produces, as the replay source reads them.

Found: one recording (a file, or several sources merged by time) with a long stretch without data — a plant shut
down for weeks in a year's export, readings an hour apart at tick_s 1 — was aligned tick by tick over the whole
stretch before `segment_bounds` dropped those empty ticks again: about 600 bytes and 20 µs a tick, so a month
without data at 1 s ticks took ~1.5 GB and a minute, a year ~19 GB (a probe of 2000 rows one a day reached 23 GB
in 5 minutes on a 24 GB machine before it was stopped). The pieces trained on were the same; only the empty
ticks between them, which no window may span, were built and thrown away.
"""
from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from agent.config import from_dict
from convert.data import read_series, training_sources

from sine_recording import write_runs

STEPS = 8
REPO = Path(__file__).resolve().parent.parent


def _config(folder, carry_forward_s: float = 3.0):
    return from_dict({"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sinks": [],
                      "sources": [{"type": "replay", "path": str(folder)}],
                      "window": {"steps": STEPS, "carry_forward_s": carry_forward_s}, "warmup": {"ticks": 50}},
                     base_dir=str(folder))


@pytest.mark.parametrize("carry_forward_s", [0.0, 3.0, 30.0])
def test_a_recording_with_days_without_data_costs_its_rows_not_its_span(tmp_path, carry_forward_s):
    rec = tmp_path / "rec"
    rec.mkdir()
    t0, gap = 1.7e9, 3 * 86400.0
    write_runs(rec / "plant.csv", [t0, t0 + gap, t0 + 2 * gap], 300)
    cfg = _config(rec, carry_forward_s)
    tracemalloc.start()
    try:
        series = read_series(cfg, training_sources(cfg), split="time")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the three runs are three pieces, each whole with its carried ticks (no window across a gap), no empty tick
    carried = int(carry_forward_s)
    assert [s["rows"] for s in series.segments] == [300 + carried, 300 + carried, 300]
    assert len(series) == 900 + 2 * carried and not series.missing.all(axis=1).any()
    assert np.unique((series.ts - t0) // gap).tolist() == [0, 1, 2]
    # on main: every one of the 518 400 empty ticks was built as a row first (~300 MB here)
    assert peak < 40e6, f"{peak / 1e6:.0f} MB traced for 900 rows"


@pytest.mark.parametrize("days", ["nan", "inf", "-1", "0", "1e300"])
def test_train_refuses_days_that_are_no_span_of_simulated_time(tmp_path, capsys, days):
    # on main: nan a ValueError traceback; -1 and 0 "the sources produced no rows"; 1e300 filled memory
    # (a MemoryError traceback under a 4 GB limit, the whole machine without one)
    from convert.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["train", "-c", str(REPO / "configs" / "demo.yaml"), "-o", str(tmp_path / "b"), "--days", days])
    assert exit_.value.code == 2
    assert "--days" in capsys.readouterr().err and not (tmp_path / "b").exists()


def _train_in_address_space(gib: int, tmp_path, *options: str) -> subprocess.CompletedProcess:
    """`stad-convert train` on the demo config in a process whose address space is `gib` GiB: the limit set by the
    shell it execs from (`ulimit -v`), not by a preexec_fn — forking this process, which may hold other threads
    (JAX's, torch's), to run Python before the exec can deadlock the child (review31)."""
    return subprocess.run(["sh", "-c", f'ulimit -v {gib * 2**20} && exec "$@"', "sh", sys.executable, "-m",
                           "convert.cli", "train", "-c", str(REPO / "configs" / "demo.yaml"), "-o", str(tmp_path / "b"),
                           *options], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_a_model_too_big_for_memory_is_said_not_a_traceback(tmp_path):
    # on main: RuntimeError from torch's allocator (d_model 100 000: a 40 GB weight matrix), a traceback, exit 1.
    # A process of its own under an address-space limit, so that the allocation fails on any machine.
    res = _train_in_address_space(6, tmp_path, "--days", "1", "--quiet", "--d-model", "100000", "--heads", "1",
                                  "--ff-hidden", "8", "--epochs", "1")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert "out of memory" in res.stderr and "--d-model" in res.stderr, res.stderr[-3000:]


def test_pythons_own_memory_error_is_said_by_its_name():
    # review31: Python's own MemoryError (a list that cannot grow: the aligner's rows of a year of simulated data)
    # carries no message, and the out-of-memory line took the first line of it: an IndexError traceback from inside
    # the handler, exit 1. Shown by a real run under an address-space limit at first, but where a process runs out
    # is the machine's: under load CPython also ran out inside its own error path ("SystemError: error return
    # without exception set", ci61), a traceback no handler of ours can turn into a line. So the line is checked
    # on a real, message-less MemoryError, and the run-out path by the test above (torch's allocator refusing).
    from convert.cli import out_of_memory, out_of_memory_line
    from convert.train_options import TrainOptions
    try:
        bytearray(1 << 62)       # CPython refuses this size before asking the system: MemoryError, no text
    except MemoryError as exc:
        assert str(exc) == "" and out_of_memory(exc)
        line = out_of_memory_line(exc, TrainOptions())
    assert line.startswith("stad-convert train: out of memory (MemoryError): less data (--days") and "--d-model" in line



def test_readings_further_apart_than_the_tick_are_named_when_the_model_loses_to_repeating(tmp_path, capsys):
    # one reading every 2 min at tick_s 1: every tick of a piece is the reading carried forward (carry_forward_s 60),
    # so repeating the last value is exact (MSE 0). On main the refusal said only "more data, more epochs, or a
    # longer window" — none of which helps.
    from convert.cli import main
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "day.csv").write_text("timestamp,a,b\n" + "".join(
        f"{1.7e9 + i * 120:.0f},{10 + (i % 7) * 0.1:.3f},{5 + (i % 5) * 0.2:.3f}\n" for i in range(400)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sensors: [a, b]\ntick_s: 1\ntopology: none\nwindow: {steps: 8}\nsinks: []\n"
                   "sources: [{type: replay, path: rec}]\nwarmup: {ticks: 50}\n")
    code = main(["train", "-c", str(cfg), "-o", str(tmp_path / "b"), "--epochs", "1", "--d-model", "8", "--heads", "1",
                 "--ff-hidden", "8", "--windows-per-epoch", "64", "--quiet"])
    said = capsys.readouterr().err
    assert code == 2 and "no better than repeating the last value" in said, said
    assert "every validation target repeats the tick before it" in said and "tick_s" in said, said
