"""A replay of JSON lines given keys only a CSV file is read by (review38): `columns`, `label_columns`,
`time_format`, `separator`, `time_column` did nothing, and nothing said so — check-config said ok, a `columns`
mapping left every reading an `unknown sensor`, `label_columns` left evaluate without labels. check-config (and
run's start, which prints its notes) now says each as a note at its key; a CSV replay, or a folder holding a
CSV, is said nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from config_mutants import check_config
from small_config import small_config


def _config(tmp_path: Path, name: str, **source) -> Path:
    (tmp_path / "data").mkdir()
    for one in name.split("+"):
        (tmp_path / "data" / one).write_text('{"ts": 1767225600, "flow": 1}\n' if one.endswith("l")
                                             else "timestamp,flow,anomaly\n1767225600,1,0\n")
    return small_config(tmp_path, {"type": "replay", "path": "data", **source}, ["S01_flow"])


NOTE = "read from CSV files only, and this replay reads JSON lines only: not used"


def test_csv_keys_on_a_json_lines_replay_are_said_at_their_keys(tmp_path):
    code, err = check_config(_config(tmp_path, "a.jsonl+b.ndjson", columns={"flow": "S01_flow"},
                                     label_columns=["anomaly"], time_format="%Y", separator=";", time_column="time"))
    assert code == 0, err
    said = [line.split("note: ", 1)[1] for line in err.splitlines() if NOTE in line]
    assert [s.split(":", 1)[0] for s in said] == [f"sources[0].{k}" for k in
                                                  ("columns", "label_columns", "time_format", "separator",
                                                   "time_column")], err


@pytest.mark.parametrize("name", ["a.csv", "a.jsonl+b.csv"])
def test_a_replay_reading_a_csv_is_said_nothing(tmp_path, name):
    code, err = check_config(_config(tmp_path, name, columns={"flow": "S01_flow"}, label_columns=["anomaly"]))
    assert code == 0 and NOTE not in err, err


def test_json_lines_with_the_default_keys_or_time_column_ts_are_said_nothing(tmp_path):
    code, err = check_config(_config(tmp_path, "a.jsonl", time_column="ts", format="jsonl"))
    assert code == 0 and NOTE not in err, err
