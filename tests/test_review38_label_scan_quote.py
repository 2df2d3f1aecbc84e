"""The converter's scan for label-like columns (convert/data.py `label_like_columns`, review21) read a CSV with one
csv reader over the whole file, as the replay did before qa21: a stray quote in a cell took the lines after it into
one field, and past the csv module's field limit (131,072 characters: ~6,500 rows here) its `field larger than field
limit` error ended `stad-convert train` with a traceback, after the replay had read the same file, counting the line
as `bad csv` and skipping it (review38). The scan now reads each line as the replay does (agent/sources/replay.py
`csv_fields`): the file is read, its label-like column said with the rows the replay read."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("torch")

from agent import config  # noqa: E402
from convert.data import read_series, training_sources  # noqa: E402

ROWS = 20_000


def test_a_stray_quote_is_one_bad_line_for_the_label_scan_too(tmp_path: Path, caplog):
    (tmp_path / "data").mkdir()
    quote = '"'
    rows = [f"{1767225600 + i},{quote if i == 100 else ''}{1.0 + (i % 7) * 0.01},{1 if 5000 <= i < 5100 else 0}"
            for i in range(ROWS)]
    (tmp_path / "data" / "a.csv").write_text("timestamp,x,anomaly_flag\n" + "\n".join(rows) + "\n")
    cfg = config.from_dict({"sensors": ["x"], "sources": [{"type": "replay", "path": "data"}], "tick_s": 1,
                            "window": {"steps": 16}, "warmup": {"ticks": 30}, "sinks": []}, base_dir=str(tmp_path))
    caplog.set_level(logging.WARNING)
    series = read_series(cfg, training_sources(cfg))
    assert series.rejected == {"bad csv": 1}                # the stray quote's line, as the replay reads it
    assert len(series) == ROWS                              # (its tick carried over from the row before)
    said = [r.getMessage() for r in caplog.records if "looks like a label" in r.getMessage()]
    assert len(said) == 1 and "1 on 100 of 19,999 rows, in a.csv" in said[0], said
