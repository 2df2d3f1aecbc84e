"""A labelled replay (NAB's `labels_file`) whose rows or windows lie past any calendar (review38). At the file's end
the replay says which labels window holds no row, with the rows' first and last time, through gmtime:
- rows stamped in nanoseconds since 1970 (pandas' integer export of a datetime column, 1.7e18): gmtime's OSError
  (EOVERFLOW) was taken for the file failing to read — `unreadable file`, "cannot read it from line 52 on … Value
  too large for defined data type" — and `stad-convert train` refuses a recording it could not read;
- a window at 1e20: gmtime's OverflowError ended the source, `run` with exit 3 (a source failed).
The rows are refused by the aligner as before (`bad timestamp`, with its unit hint); the line is said with the
numbers."""
from __future__ import annotations

import json
import logging

from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource


def replay(tmp_path, rows: str, windows: list) -> list[float]:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.csv").write_text("timestamp,value\n" + rows)
    (tmp_path / "windows.json").write_text(json.dumps({"cat/a.csv": windows}))
    rejects = Rejects()
    source = ReplaySource(ReplayConfig(path=str(tmp_path / "cat"), labels_file=str(tmp_path / "windows.json")),
                          ["v"], rejects)
    ts = [r.ts for r in source.records()]
    assert dict(rejects.counts) == {} and source.unreadable == []
    return ts


def test_rows_stamped_in_nanoseconds_end_the_file_with_its_window_line(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, "stad.replay"):
        ts = replay(tmp_path, "1767225600000000000,1\n1767225660000000000,2\n",
                    [["2026-01-01 00:00:00", "2026-01-02 00:00:00"]])
    assert ts == [1767225600000000000.0, 1767225660000000000.0]
    said = [r.getMessage() for r in caplog.records if "holds no row" in r.getMessage()]
    assert len(said) == 1 and "rows from 1.7672256e+18 s since 1970 to 1.76722566e+18 s since 1970" in said[0]


def test_a_window_past_any_calendar_is_said_with_its_numbers(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, "stad.replay"):
        ts = replay(tmp_path, "2026-01-01 00:00:00,1\n", [[1e20, 2e20]])
    assert ts == [1767225600.0]
    said = [r.getMessage() for r in caplog.records if "holds no row" in r.getMessage()]
    assert len(said) == 1 and "(1e+20 s since 1970 to 2e+20 s since 1970)" in said[0]
