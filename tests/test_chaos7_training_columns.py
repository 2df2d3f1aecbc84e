"""`stad-convert train` on two layouts convert6 left unsaid (the chaos7 round), the real CLI (its main, in this
process: suite9) on real files:
- a label written as text (`anomaly: normal / anomaly`, `state: Normal / Anomaly`) beside numeric sensors and not in
  `label_columns`: the label scan read numbers only (a text cell is no reading), so the column was passed over and
  its anomalous rows trained on as normal running, unsaid. Now said, naming the column, its words and the file, and
  what to write (0/1 and `label_columns`); training goes on, as for a 0/1 column (review21's rule: said, not
  refused). A `state` of machine words (`running` / `stopped`) is no label: nothing said.
- a header again mid-file whose columns map no sensor (two recordings of other columns joined): the replay skipped
  the rows after it, said on the log, and training went on with the file half read. Now refused (exit 2) by file,
  line and count, as a file that loses more than 1 % of its rows to reading is (convert6's rule)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import yaml

from conftest import convert_in_process

T0 = 1_767_225_600
ROWS = 1200
# The smallest model the convert tests train (test_qa8_training_inputs, test_convert6_bad_training_data)
TINY = ["--epochs", "3", "--d-model", "8", "--heads", "2", "--ff-hidden", "8", "--windows-per-epoch", "256",
        "--threads", "1", "--no-export", "--quiet"]


def readings(n: int) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(7)
    i = np.arange(n)
    a = np.sin(i * 1.1) + 0.05 * rng.standard_normal(n)
    b = np.cos(i * 0.7) + 0.05 * rng.standard_normal(n)
    return [(T0 + k, float(a[k]), float(b[k])) for k in range(n)]


def folder_with(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, body in files.items():
        (folder / name).write_text(body)
    return folder


def train(capsys, tmp_path: Path, folder: Path) -> tuple[subprocess.CompletedProcess, Path]:
    cfg = {"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sinks": [],
           "sources": [{"type": "replay", "path": str(folder)}],
           "window": {"steps": 8, "carry_forward_s": 3}, "warmup": {"ticks": 50}}
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "bundle"
    proc = convert_in_process(capsys, "train", "-c", str(path), "-o", str(out), *TINY)     # main, in this process
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, out


def _rows(extra=lambda k: None, start: int = 0, n: int = ROWS) -> list[str]:
    out = []
    for k, (t, a, b) in enumerate(readings(n + start)[start:], start):
        cell = extra(k)
        out.append(f"{t:.0f},{a:.4f},{b:.4f}" + ("" if cell is None else f",{cell}"))
    return out


def _warnings(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if "looks like a label" in line]


def test_a_label_written_as_text_is_said_by_column_words_and_file(tmp_path, capsys):
    word = lambda k: "anomaly" if 500 <= k < 600 else "normal"
    folder = folder_with(tmp_path, {"r.csv": "\n".join(["timestamp,a,b,anomaly", *_rows(word)]) + "\n"})
    proc, out = train(capsys, tmp_path, folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = _warnings(proc)
    assert len(said) == 1, proc.stderr[-3000:]
    assert ("column 'anomaly' looks like a label written as text ('normal' on 1,100 rows, 'anomaly' on 100 rows; in "
            "r.csv)") in said[0] and "add label_columns: [anomaly]" in said[0], said


def test_a_state_column_of_label_words_is_said_and_one_of_machine_words_is_not(tmp_path, capsys):
    state = lambda k: "Anomaly" if 500 <= k < 600 else "Normal"
    running = lambda k: "stopped" if 500 <= k < 600 else "running"
    folder = folder_with(tmp_path, {"a.csv": "\n".join(["timestamp,a,b,state", *_rows(state)]) + "\n",
                                    "b.csv": "\n".join(["timestamp,a,b,state", *_rows(running, ROWS + 100)]) + "\n"})
    proc, _ = train(capsys, tmp_path, folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = _warnings(proc)
    assert len(said) == 1 and "column 'state' looks like a label written as text ('Normal' on 1,100 rows, 'Anomaly' " \
        "on 100 rows; in a.csv)" in said[0], proc.stderr[-3000:]     # the running/stopped words counted with them?
    assert "'running'" not in said[0] and "b.csv" not in said[0], said


def test_a_header_again_mapping_no_sensor_refuses_the_half_read_file_by_name_and_line(tmp_path, capsys):
    lines = ["timestamp,a,b", *_rows(), "timestamp,x,y", *_rows(start=ROWS, n=600)]
    folder = folder_with(tmp_path, {"r.csv": "\n".join(lines) + "\n"})
    proc, out = train(capsys, tmp_path, folder)
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert ("r.csv: 600 of its 1800 rows were skipped after a header again whose columns map no sensor (r.csv:1202: "
            "none of ['timestamp', 'x', 'y'] maps to a sensor)") in last, last
    assert not out.exists()
