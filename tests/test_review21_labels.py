"""review21: `stad-agent evaluate` on a SKAB file whose source names a label column the file does
not have (`label_columns: [anomally]`, the header says `anomaly`) exited 1 with `no labelled file to
evaluate under the configured source (skipped: 3.csv (no labels))` — the file has labels, in a
column named otherwise; the message must name the column asked for and the header's columns."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent import config
from agent.evaluate import evaluate


def _write_skab_like(path: Path) -> None:
    rows = [f"2020-03-09 10:{i // 60:02d}:{i % 60:02d};{1.0 + (i % 7) * 0.01};{2.0 + (i % 5) * 0.01};"
            f"{1.0 if 500 <= i < 560 else 0.0}" for i in range(900)]
    path.write_text("datetime;Pressure;Current;anomaly\n" + "\n".join(rows) + "\n")


def _cfg(tmp_path: Path, label_columns: list[str]) -> config.AgentConfig:
    return config.from_dict({
        "sensors": ["pressure", "current"],
        "sources": [{"type": "replay", "path": "3.csv", "separator": ";", "time_column": "datetime",
                     "columns": {"Pressure": "pressure", "Current": "current"}, "label_columns": label_columns}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 300}, "sinks": []}, base_dir=str(tmp_path))


def test_a_label_column_not_in_the_header_is_named_with_the_header(tmp_path):
    _write_skab_like(tmp_path / "3.csv")
    with pytest.raises(ValueError) as err:
        evaluate(_cfg(tmp_path, ["anomally"]), scorers=["numpy"])
    message = str(err.value)
    assert "3.csv" in message and "'anomally'" in message and "'anomaly'" in message, message


def test_a_source_without_label_columns_is_told_to_name_one(tmp_path):
    _write_skab_like(tmp_path / "3.csv")
    with pytest.raises(ValueError) as err:
        evaluate(_cfg(tmp_path, []), scorers=["numpy"])
    assert "label_columns" in str(err.value) and "'anomaly'" in str(err.value), str(err.value)


def test_the_right_label_column_is_evaluated(tmp_path):
    _write_skab_like(tmp_path / "3.csv")
    report = evaluate(_cfg(tmp_path, ["anomaly"]), scorers=["numpy"])
    assert [f["name"] for f in report["files"]] == ["3.csv"] and not report["skipped_files"]
