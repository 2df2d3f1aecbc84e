"""A sensor read from two CSV columns (review38): a header naming one column twice (`timestamp,a,a`, a spreadsheet
export of two probes both called `Temp`), or a `columns` mapping of two columns to one sensor, gave the sensor the
last column's reading and dropped the first's on every row, and nothing said so (check-config ok, no reject). Now
the mapping is a config problem at its key, and such a file is skipped whole (`duplicate column`, naming the fields)
and noted by check-config; a column the replay does not read may be named twice."""
from __future__ import annotations

from pathlib import Path


from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource
from config_mutants import check_config
from small_config import small_config


def _read(path: Path, sensors: list[str], **cfg) -> tuple[list[dict], Rejects]:
    rejects = Rejects()
    return [r.values for r in ReplaySource(ReplayConfig(path=str(path), **cfg), sensors, rejects).records()], rejects


def test_a_header_naming_a_sensor_twice_skips_the_file_saying_which_fields(tmp_path):
    (tmp_path / "d.csv").write_text("timestamp,a,b,a\n1767225600,1,5,2\n1767225630,3,6,4\n")
    values, rejects = _read(tmp_path / "d.csv", ["a", "b"])
    assert values == [] and dict(rejects.counts) == {"duplicate column": 1}
    where, detail = rejects.first["duplicate column"]
    assert where == "d.csv:1" and "'a' (fields 2, 4)" in detail, detail


def test_a_time_column_named_twice_skips_the_file(tmp_path):
    (tmp_path / "t.csv").write_text("time,a,time\n1767225600,1,1767225630\n")
    values, rejects = _read(tmp_path / "t.csv", ["a"], time_column="time")
    assert values == [] and "'time' (fields 1, 3)" in rejects.first["duplicate column"][1]


def test_a_column_not_read_may_be_named_twice(tmp_path):
    (tmp_path / "n.csv").write_text("timestamp,a,note,note\n1767225600,1,x,y\n")
    values, rejects = _read(tmp_path / "n.csv", ["a"])
    assert values == [{"a": 1.0}] and dict(rejects.counts) == {}


def _config(tmp_path: Path, header: str, **source) -> Path:
    (tmp_path / "r.csv").write_text(f"{header}\n1767225600,1,2\n")
    return small_config(tmp_path, {"type": "replay", "path": "r.csv", **source}, ["a"])


def test_columns_mapping_two_columns_to_one_sensor_is_a_problem_at_its_key(tmp_path):
    code, err = check_config(_config(tmp_path, "timestamp,T1,T2", columns={"T1": "a", "T2": "a"}))
    assert code == 2, err
    assert "sources[0].columns.T2: sensor 'a' is read from column 'T1' already" in err, err


def test_check_config_notes_a_file_whose_header_names_a_sensor_twice(tmp_path):
    code, err = check_config(_config(tmp_path, "timestamp,a,a"))
    assert code == 0, err
    assert "note: sources[0]: 1 of its 1 CSV file(s) have a header naming a column it reads more than once " \
           "(first: r.csv: 'a' (fields 2, 3))" in err, err
