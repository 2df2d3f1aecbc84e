"""check-config reads a replay CSV's header by the replay's own rule (review38's left item, replay.first_header).

preflight.csv_header read each line with the csv module on its own terms: a header with a quote left open was one
field (`['timestamp,a,b']`) where the replay skips that line as `bad csv` and takes the next for its header; and a
first line of blank fields (` , `) was passed over by check-config (the header found on line 2: ok) while the
replay took it for its header and skipped the file whole (`missing time column`): check-config ok, nothing read."""
from __future__ import annotations

from agent.preflight import csv_header
from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource
from config_mutants import check_config
from small_config import small_config

ROWS = "1767225600,1,2\n1767225630,3,4\n"


def _replay(tmp_path) -> tuple[list[dict], Rejects]:
    rejects = Rejects()
    src = ReplaySource(ReplayConfig(path=str(tmp_path / "d.csv")), ["a", "b"], rejects)
    return [r.values for r in src.records()], rejects


def _check(tmp_path) -> tuple[int, str]:
    return check_config(small_config(tmp_path, {"type": "replay", "path": "d.csv"}, ["a", "b"]))


def test_a_first_line_of_blank_fields_is_no_header_for_either(tmp_path):
    (tmp_path / "d.csv").write_text(" , ,\ntimestamp,a,b\n" + ROWS)
    assert csv_header(tmp_path / "d.csv", ",") == ["timestamp", "a", "b"]
    values, rejects = _replay(tmp_path)
    assert values == [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 4.0}], rejects.as_dict()
    code, err = _check(tmp_path)
    assert code == 0, err


def test_a_header_with_a_quote_left_open_is_skipped_by_both(tmp_path):
    (tmp_path / "d.csv").write_text('"timestamp,a,b\n' + ROWS)
    header = csv_header(tmp_path / "d.csv", ",")
    assert header == ["1767225600", "1", "2"], header       # the replay's header: the line after the bad one
    values, rejects = _replay(tmp_path)
    assert values == [] and rejects.counts["bad csv"] == 1 and rejects.counts["missing time column"] == 1
    code, err = _check(tmp_path)      # check-config names the header the replay reads (before: 'timestamp,a,b')
    assert "d.csv: 1767225600,1,2" in err, err
