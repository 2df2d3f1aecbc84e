"""`stad-convert train` on bad training data, the real CLI on real files (convert6): each case ends with a line
naming the file (and the line, the column) and exit 2, or is read as the replay reads it and said by name — never a
traceback, never a bundle written from data that was not read. (The CLI's main, in this process: suite9.)

Found by fuzzing the CLI (the note's table): a file of a folder that the replay skipped whole (a comment line above
its header, a binary file named .csv, a trailing separator on every row) was left out of the model with exit 0 and
one count in the summary; a file whose second half was in another time layout, or written newest first, lost those
rows the same way (or, alone, was refused as "too little data" without its name); a file of a header only, one
row or fewer ticks than a window, and a sensor without a column in one file, were trained around unsaid.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import convert_in_process

T0 = 1_767_225_600
ROWS = 1200
STEPS = 8
# The smallest model the convert tests train (test_qa8_training_inputs), three epochs: enough to beat repeating the
# last value on the fast waves below.
TINY = ["--epochs", "3", "--d-model", "8", "--heads", "2", "--ff-hidden", "8", "--windows-per-epoch", "256",
        "--threads", "1", "--no-export", "--quiet"]


def readings(n: int, start: float = T0, seed: int = 7) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    a = np.sin(i * 1.1) + 0.05 * rng.standard_normal(n)
    b = np.cos(i * 0.7) + 0.05 * rng.standard_normal(n)
    return [(start + k, float(a[k]), float(b[k])) for k in range(n)]


def csv_text(rows, header=("timestamp", "a", "b"), stamp=lambda t: f"{t:.0f}", tail: str = "") -> str:
    cells = lambda t, a, b: {"timestamp": stamp(t), "a": f"{a:.4f}", "b": f"{b:.4f}"}
    return "\n".join([",".join(header), *(",".join(cells(*r)[c] for c in header) + tail for r in rows)]) + "\n"


def train(capsys, tmp_path: Path, folder: Path, **source) -> tuple[subprocess.CompletedProcess, Path]:
    cfg = {"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sinks": [],
           "sources": [{"type": "replay", "path": str(folder), **source}],
           "window": {"steps": STEPS, "carry_forward_s": 3}, "warmup": {"ticks": 50}}
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "bundle"
    proc = convert_in_process(capsys, "train", "-c", str(path), "-o", str(out), *TINY)      # main, in this process
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, out


def folder_with(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, body in files.items():
        (folder / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    return folder


def good(seed: int = 7, start: float = T0) -> str:
    return csv_text(readings(ROWS, start, seed))


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def dmy(t: float) -> str:
    return time.strftime("%d/%m/%Y %H:%M:%S", time.gmtime(t))


DAY = 86400.0
# name -> (files of the folder, source keys, what the refusal (the last stderr line) must say, in order)
REFUSED = {
    "a comment line above the header of one file": (
        {"1.csv": good(), "2.csv": "# exported by the historian\n" + good(8, T0 + DAY)}, {},
        ["2.csv: none of its rows could be read", "2.csv:1: missing time column",
         "remove the comment line(s) above the header"]),
    "a binary file named .csv": (
        {"1.csv": good(), "2.csv": bytes(range(256)) * 20}, {},
        ["2.csv: none of its rows could be read", "2.csv:1: missing time column"]),
    "a separator at the end of every row": (
        {"1.csv": good(), "2.csv": csv_text(readings(ROWS, T0 + DAY, 8), tail=",")}, {},
        ["2.csv: none of its rows could be read", "2.csv:2: wrong column count",
         "expected 3 fields, got 4"]),
    "a file of the wrong separator": (
        {"1.csv": good().replace(",", ";")}, {},
        ["1.csv: none of its rows could be read", "set the source's separator: ';'"]),
    "a time column in two layouts": (
        {"1.csv": good(), "2.csv": csv_text(readings(ROWS, T0 + DAY)[:600], stamp=iso)
         + csv_text(readings(ROWS, T0 + DAY)[600:], stamp=dmy).split("\n", 1)[1]}, {},
        ["2.csv: 600 of its 1200 rows could not be read (600 bad time", "2.csv:602: bad time",
         "a second time layout in the file? set the source's time_format"]),
    "a file written newest first": (
        {"1.csv": good(), "2.csv": csv_text(readings(ROWS, T0 + DAY, 8)[::-1])}, {},
        ["2.csv: 1197 of its 1200 rows could not be read (1197 late", "2.csv:5: late",
         "a file written newest first? sort it oldest first"]),
    "times in milliseconds": (
        {"1.csv": csv_text(readings(ROWS), stamp=lambda t: f"{t * 1000:.0f}")}, {},
        ["1.csv: 1200 of its 1200 rows could not be read (1200 bad timestamp", "1.csv:2: bad timestamp"]),
    "JSON lines, every other one cut short": (
        {"1.csv": good(), "2.jsonl": "".join(f'{{"ts": {t:.0f}, "a": {a:.4f}, "b": {b:.4f}}}\n' if k % 2 else
                                             f'{{"ts": {t:.0f}, "a": {a:.4f}\n'
                                             for k, (t, a, b) in enumerate(readings(ROWS, T0 + DAY, 8)))}, {},
        ["2.jsonl: 600 of its 1200 rows could not be read (600 bad json", "2.jsonl:1: bad json",
         "lines that are no JSON object"]),
    "a sensor all NaN": (
        {"1.csv": "timestamp,a,b\n" + "".join(f"{t:.0f},{a:.4f},nan\n" for t, a, _ in readings(ROWS))}, {},
        ["sensor b has no observed, normal value in the training part", "1200 non-finite value"]),
    "a file of a header only": (
        {"1.csv": "timestamp,a,b\n"}, {},
        ["the sources produced no rows (1.csv: no data rows (empty, or a header only)"]),
    "a file of one row": (
        {"1.csv": csv_text(readings(1))}, {},
        ["the sources produced no rows (1.csv: 1 row read, 0 ticks aligned: fewer than a window of 8 ticks"]),
    "a recording shorter than the window": (
        {"1.csv": csv_text(readings(5))}, {},
        ["not enough data for windows of 8 ticks"]),
}


def _label_text_file() -> str:
    rows = [f"{t:.0f},{a:.4f},{b:.4f},{'fault' if k % 100 == 0 else 'normal'}"
            for k, (t, a, b) in enumerate(readings(ROWS))]
    return "\n".join(["timestamp,a,b,anomaly", *rows]) + "\n"


REFUSED["a label column of text"] = ({"1.csv": _label_text_file()}, {"label_columns": ["anomaly"]},
                                     ["1200 rows with a label that is not a number (the first: 1.csv:2, "
                                      "field 'anomaly': 'fault')"])


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_training_data_is_refused_by_file_and_line(tmp_path, case, capsys):
    files, source, says = REFUSED[case]
    proc, out = train(capsys, tmp_path, folder_with(tmp_path, files), **source)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("stad-convert train: "), last
    at = 0
    for part in says:                   # each in the line, in order
        found = last.find(part, at)
        assert found >= 0, (part, last)
        at = found + len(part)
    assert not out.exists(), "no bundle from data that was not read"


def test_a_folder_of_odd_files_trains_on_what_it_can_and_says_each_by_name(tmp_path, capsys):
    """Read as the replay reads them, and said: columns in another order (read by name), a sensor's column missing
    in one file, a header only, an empty file, one row, fewer ticks than a window, duplicate stamps and a step back
    inside one file, a README and a .csv.gz beside them. The bundle rests on the three files with data (their
    segments in the manifest), its threshold on their validation ticks."""
    dup = readings(ROWS, T0 + 4 * DAY, 11)
    dup = [(t - 1 if k % 50 == 0 else t, a, b) for k, (t, a, b) in enumerate(dup)]          # a stamp again, 22 times
    back = dup[:600] + [(t - 3600, a, b) for t, a, b in dup[600:]]                          # one step back of 1 h
    files = {
        "1-good.csv": good(),
        "2-reordered.csv": csv_text(readings(ROWS, T0 + DAY, 8), header=("b", "timestamp", "a")),
        "3-no-b.csv": "timestamp,a,b_renamed\n" + "".join(f"{t:.0f},{a:.4f},{b:.4f}\n"
                                                         for t, a, b in readings(ROWS, T0 + 2 * DAY, 9)),
        "4-header-only.csv": "timestamp,a,b\n",
        "5-empty.csv": "",
        "6-one-row.csv": csv_text(readings(1, T0 + 3 * DAY)),
        "7-short.csv": csv_text(readings(5, T0 + 3.5 * DAY)),
        "8-dup-and-back.csv": csv_text(back),
        "README.txt": "recordings of pump 3",
        "9-old.csv.gz": b"\x1f\x8b\x08\x00",
    }
    proc, out = train(capsys, tmp_path, folder_with(tmp_path, files))
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    for said in ["3-no-b.csv: sensor b never observed in it (no column for b in its header 'timestamp', 'a', "
                 "'b_renamed'; read for no sensor: 'b_renamed' — a renamed column? map it with the source's "
                 "`columns`)",
                 "4-header-only.csv: no data rows (empty, or a header only): nothing of it is trained on",
                 "5-empty.csv: no data rows (empty, or a header only): nothing of it is trained on",
                 "6-one-row.csv: 1 row read, 0 ticks aligned: fewer than a window of 8 ticks",
                 "7-short.csv: 5 rows read, 5 ticks aligned: fewer than a window of 8 ticks",
                 "8-dup-and-back.csv: its time steps back at tick 602",
                 "1 file(s) named like recordings not read: 9-old.csv.gz"]:
        assert said in err, (said, err)
    assert "time base moved back" not in err    # the running agent's words for the step: training says its own
    assert "2-reordered.csv" not in err         # read by its names: nothing to say
    assert "README" not in err                  # no recording: not named (replay.walk_replay)
    assert "rejected while reading: 22 duplicate" in proc.stdout, proc.stdout      # 22 rows, a record counted once (qa54)
    manifest = json.loads((out / "manifest.json").read_text())
    recordings = {s["recording"] for s in manifest["data"]["segments"]}
    assert recordings == {"1-good.csv", "2-reordered.csv", "3-no-b.csv", "8-dup-and-back.csv", "7-short.csv"}
    assert manifest["threshold"]["value"] > 0 and np.isfinite(manifest["threshold"]["value"])


def test_many_files_without_a_sensor_are_said_in_eleven_lines_not_one_each(tmp_path, caplog):
    """A sensor added to the plant in the middle of a year of daily files: ten lines name files, one sums up."""
    import logging
    from agent.config import from_dict
    from convert.data import read_series, training_sources
    files = {f"{k:02d}.csv": "timestamp,a\n" + "".join(f"{t:.0f},{a:.4f}\n" for t, a, _ in
                                                       readings(60, T0 + k * DAY, k)) for k in range(16)}
    folder = folder_with(tmp_path, {**files, "99.csv": good(start=T0 + 20 * DAY)})
    cfg = from_dict({"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sinks": [],
                     "sources": [{"type": "replay", "path": str(folder)}],
                     "window": {"steps": STEPS, "carry_forward_s": 3}, "warmup": {"ticks": 50}}, base_dir=str(folder))
    caplog.set_level(logging.WARNING, logger="stad.convert")
    read_series(cfg, training_sources(cfg), split="time")
    said = [r.getMessage() for r in caplog.records if r.name == "stad.convert.data"]
    assert len(said) == 11, said
    assert all("sensor b never observed in it (no column for b" in line for line in said[:10]), said
    assert said[10] == "… and 6 more lines like these, for 10.csv, 11.csv, 12.csv, 13.csv, 14.csv and others", said
