"""review21's finding 9: `stad-convert train` on recordings with labelled anomalies (SKAB's valve1/:
`anomaly` and `changepoint` columns of 0/1) and no `label_columns` trained on the anomalies as normal
running without a word. Reading the training data must say so — the file, the column, how many rows,
and the option that leaves them out (`label_columns`: rows labelled 1 are context only, never a
target nor in the normaliser's fit) — without refusing; with the option given, nothing is said and
the rows are marked. No training here: the data reading (`read_series`) is where it is said."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("torch")

from agent import config  # noqa: E402
from convert.data import read_series, training_sources  # noqa: E402


def _write(folder: Path, name: str, anomalous: range, extra: str = "anomaly") -> None:
    """300 rows at 1 s: two sensors, `extra` 1 on the rows of `anomalous`, a changepoint at its
    first and last row (as SKAB's files: inside the anomaly), and a 0/1/2 `mode` column."""
    marks = {anomalous.start, anomalous.stop - 1} if len(anomalous) else set()
    rows = [f"2020-03-09 10:{i // 60:02d}:{i % 60:02d};{1.0 + (i % 7) * 0.01};{2.0 + (i % 5) * 0.01};"
            f"{1 if i in anomalous else 0};{1 if i in marks else 0};{i % 3}" for i in range(300)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"datetime;Pressure;Current;{extra};changepoint;mode\n" + "\n".join(rows) + "\n")


def _cfg(tmp_path: Path, **src) -> config.AgentConfig:
    return config.from_dict({
        "sensors": ["pressure", "current"],
        "sources": [{"type": "replay", "path": "data", "separator": ";", "time_column": "datetime",
                     "columns": {"Pressure": "pressure", "Current": "current"}, **src}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 30}, "sinks": []}, base_dir=str(tmp_path))


def _read(cfg, caplog) -> tuple:
    caplog.set_level(logging.WARNING)
    series = read_series(cfg, training_sources(cfg))
    return series, [r.getMessage() for r in caplog.records if "label" in r.getMessage()]


def test_a_label_like_column_not_in_label_columns_is_said_with_the_option(tmp_path, caplog):
    _write(tmp_path / "data", "1.csv", range(100, 160))
    _write(tmp_path / "data", "2.csv", range(0))
    series, lines = _read(_cfg(tmp_path), caplog)
    assert len(lines) == 2, lines                     # anomaly, changepoint; not mode (0/1/2: no label)
    line = next(ln for ln in lines if "'anomaly'" in ln)
    assert "1 on 60 of 600 rows, in 1.csv)" in line and "label_columns: [anomaly]" in line, line
    assert not any("'mode'" in ln for ln in lines), lines
    assert not series.anomalous.any()                 # said, not refused: trained as before


def test_with_label_columns_the_rows_are_left_out_and_nothing_is_said(tmp_path, caplog):
    """The changepoints lie on rows `anomaly` marks: nothing more would be left out by naming them."""
    _write(tmp_path / "data", "1.csv", range(100, 160))
    series, lines = _read(_cfg(tmp_path, label_columns=["anomaly"]), caplog)
    assert lines == [] and series.anomalous.sum() == 60


def test_a_column_of_zeros_is_not_said(tmp_path, caplog):
    _write(tmp_path / "data", "1.csv", range(0), extra="fault")
    assert _read(_cfg(tmp_path), caplog)[1] == []
