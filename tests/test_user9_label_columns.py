"""review21's finding 5: `check-config` passed a replay source whose `label_columns` names a column
no file's header has (`[anomally]` against SKAB's `anomaly`); `evaluate` then skipped every file.
check-config must say so, naming the key path, a file and its header's columns — and pass a
column that some files have and others not (SKAB's anomaly-free.csv has no `anomaly`)."""
from __future__ import annotations

from pathlib import Path

import yaml

from config_mutants import check_config

HEADER = "datetime;Pressure;Current"


def _write(folder: Path, name: str, extra: str = "") -> None:
    rows = [f"2020-03-09 10:{i // 60:02d}:{i % 60:02d};{1.0 + (i % 7) * 0.01};{2.0 + (i % 5) * 0.01}"
            + (";0" if extra else "") for i in range(50)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(HEADER + (f";{extra}" if extra else "") + "\n" + "\n".join(rows) + "\n")


def _config(tmp_path: Path, label_columns: list[str]) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "sensors": ["pressure", "current"], "state_dir": str(tmp_path / "state"),
        "sources": [{"type": "replay", "path": str(tmp_path / "data"), "separator": ";", "time_column": "datetime",
                     "columns": {"Pressure": "pressure", "Current": "current"}, "label_columns": label_columns}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 30}, "sinks": []}))
    return path


def test_a_label_column_in_no_header_is_a_problem_naming_the_file_and_its_columns(tmp_path):
    _write(tmp_path / "data", "0-free.csv")
    _write(tmp_path / "data", "1.csv", extra="anomaly")
    code, err = check_config(_config(tmp_path, ["anomaly", "anomally"]))
    assert code == 2, err
    line = next((ln for ln in err.splitlines() if "sources[0].label_columns[1]" in ln), None)
    assert line is not None, err
    assert "'anomally'" in line and "1.csv" in line and "'anomaly'" in line, line
    assert "label_columns[0]" not in err, err          # in one file's header: SKAB's anomaly-free file has none


def test_label_columns_that_a_header_has_pass(tmp_path):
    _write(tmp_path / "data", "0-free.csv")
    _write(tmp_path / "data", "1.csv", extra="anomaly")
    code, err = check_config(_config(tmp_path, ["anomaly"]))
    assert code == 0, err
