"""`stad-convert train` reads a CSV by the replay's rules, every line of it: the file the agent replays is the file
train reads the same way (convert6).

Training's rows always came through the replay source; its scan for label-like columns (convert/data.py
`label_like_columns`, review21) read the file again by a reader of its own, whose header was the first non-blank
row and whose every later row was data. A header again mid-file (two recordings joined) was a row of text, and the
column was taken for no label: the scan said nothing (a reordered header read the columns at the first header's
places); a units line under the header did the same; a row the replay rejects (a bad time, the wrong width) was
counted. The scan now reads its columns through a replay source of its own. Each variant below is read by the
agent's replay, by train's series and by the scan, and all three agree with what the file holds.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from agent.config import from_dict
from agent.records import Rejects
from agent.sources.replay import ReplaySource
from convert.data import TrainingError, read_series, training_sources

ROWS = 400
T0 = 1_767_225_600
FLAGGED = range(100, 130)           # rows whose fault_flag is 1


def _rows(start: int = 0, stop: int = ROWS, order=("timestamp", "a", "b", "fault_flag"), sep=",") -> list[str]:
    cells = lambda i: {"timestamp": str(T0 + i), "a": f"{np.sin(i / 7):.4f}", "b": f"{np.cos(i / 5):.4f}",
                       "fault_flag": "1" if i in FLAGGED else "0"}
    return [sep.join(cells(i)[c] for c in order) for i in range(start, stop)]


HEADER = "timestamp,a,b,fault_flag"
HALF = ROWS // 2

#: name -> (file bytes, source keys, data rows the replay reads): each the same 400 readings, written another way.
VARIANTS = {
    "plain": ("\n".join([HEADER, *_rows()]) + "\n", {}),
    "bom": ("\ufeff" + "\n".join([HEADER, *_rows()]) + "\n", {}),
    "crlf": ("\r\n".join([HEADER, *_rows()]) + "\r\n", {}),
    "cr only": ("\r".join([HEADER, *_rows()]) + "\r", {}),
    "semicolons": ("\n".join([HEADER.replace(",", ";"), *_rows(sep=";")]) + "\n", {"separator": ";"}),
    "blank lines and a blank-field line first": (
        "\n \n , ,\n" + "\n\n".join([HEADER, *_rows()]) + "\n\n", {}),
    "header again": ("\n".join([HEADER, *_rows(0, HALF), HEADER, *_rows(HALF)]) + "\n", {}),
    "header again with a BOM": ("\n".join([HEADER, *_rows(0, HALF)]) + "\n\ufeff" +
                                "\n".join([HEADER, *_rows(HALF)]) + "\n", {}),
    "header again reordered": ("\n".join([HEADER, *_rows(0, HALF), "fault_flag,b,timestamp,a",
                                          *_rows(HALF, order=("fault_flag", "b", "timestamp", "a"))]) + "\n", {}),
    "units line under the header": ("\n".join([HEADER, ",g,g,-", *_rows()]) + "\n", {}),
}


def _cfg(folder: Path, keys: dict):
    return from_dict({"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sinks": [],
                      "sources": [{"type": "replay", "path": str(folder), **keys}],
                      "window": {"steps": 8}, "warmup": {"ticks": 50}}, base_dir=str(folder))


def _write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    (folder / "r.csv").write_bytes(text.encode("utf-8"))
    return folder


def _replayed(cfg) -> list:
    """The records `stad-agent run` replays from the config's source."""
    source = ReplaySource(cfg.sources[0], cfg.sensor_names(), Rejects(), base_dir=cfg.base_dir)
    try:
        return list(source.records())
    finally:
        source.close()


@pytest.fixture(scope="module")
def plain_series(tmp_path_factory):
    folder = _write(tmp_path_factory.mktemp("plain"), VARIANTS["plain"][0])
    cfg = _cfg(folder, {})
    return read_series(cfg, training_sources(cfg), split="time")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_train_reads_each_layout_as_the_replay_does(tmp_path, caplog, plain_series, variant):
    text, keys = VARIANTS[variant]
    cfg = _cfg(_write(tmp_path, text), keys)
    records = _replayed(cfg)
    assert len(records) == ROWS                                         # the agent's replay: every reading
    assert [r.ts for r in records] == [float(T0 + i) for i in range(ROWS)]
    caplog.set_level(logging.WARNING)
    series = read_series(cfg, training_sources(cfg), split="time")
    assert np.array_equal(series.ts, plain_series.ts)                   # train: the same rows as the plain file
    assert np.array_equal(series.raw, plain_series.raw, equal_nan=True)
    said = [r.getMessage() for r in caplog.records if "looks like a label" in r.getMessage()]
    # the scan: the flag column, its 30 ones among the 400 rows the replay reads (on main: nothing said for a
    # header again or a units line — the header's text was a row, the column taken for no label)
    assert len(said) == 1 and f"1 on {len(FLAGGED)} of {ROWS} rows, in r.csv" in said[0], (variant, said)


def test_rows_the_replay_rejects_are_not_counted_by_the_scan_either(tmp_path, caplog):
    """A row with a time the replay cannot read, and one of the wrong width: the replay skips both, and so does the
    scan's count (on main: 402 rows, the bad-time row's 1 among the ones)."""
    rows = _rows()
    bad_time = rows[120].replace(str(T0 + 120), "yesterday", 1)
    text = "\n".join([HEADER, *rows[:120], bad_time, rows[120] + ",7", *rows[121:]]) + "\n"
    cfg = _cfg(_write(tmp_path, text), {})
    assert len(_replayed(cfg)) == ROWS - 1
    caplog.set_level(logging.WARNING)
    series = read_series(cfg, training_sources(cfg), split="time")
    assert series.rejected == {"bad time": 1, "wrong column count": 1}
    said = [r.getMessage() for r in caplog.records if "looks like a label" in r.getMessage()]
    assert len(said) == 1 and f"1 on {len(FLAGGED) - 1} of {ROWS - 1} rows" in said[0], said


def test_a_comment_line_above_the_header_is_the_header_for_both(tmp_path):
    """The replay takes the first line that is not blank as the header (replay.first_header): a comment line there
    leaves the file unread by `run` (`missing time column`), and train refuses it by name and line, saying why."""
    cfg = _cfg(_write(tmp_path, "# exported by the historian\n" + VARIANTS["plain"][0]), {})
    assert _replayed(cfg) == []
    with pytest.raises(TrainingError) as refused:
        read_series(cfg, training_sources(cfg), split="time")
    said = str(refused.value)
    assert said.startswith("r.csv: none of its rows could be read") and "r.csv:1: missing time column" in said
    assert "remove the comment line(s) above the header" in said


def test_a_comment_line_mid_file_is_one_rejected_line_for_both(tmp_path):
    rows = _rows()
    text = "\n".join([HEADER, *rows[:200], "# pump swapped here", *rows[200:]]) + "\n"
    cfg = _cfg(_write(tmp_path, text), {})
    assert len(_replayed(cfg)) == ROWS
    series = read_series(cfg, training_sources(cfg), split="time")
    assert len(series) == ROWS and series.rejected == {"wrong column count": 1}
