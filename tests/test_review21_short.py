"""review21: `stad-convert train` on one recording of 300 ticks (window 64) refused with `47 rows
cannot fill a window of 64 steps (314 rows; training needs validation windows …)` — not how long a
recording must be, which README promises a refusal for too little data says (`in one piece, a
recording of at least 662 ticks (each further piece: 62 more)` at 32 steps) and which the
threshold's refusal did say."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from convert.cli import main          # noqa: E402
from convert.data_checks import minimum_calibration_ticks, minimum_recording_ticks  # noqa: E402


def test_a_recording_too_short_for_a_window_is_told_the_length_it_needs(tmp_path, capsys):
    rows = [f"2020-03-09 10:{i // 60:02d}:{i % 60:02d};{1.0 + (i % 7) * 0.01};{2.0 + (i % 5) * 0.01}"
            for i in range(300)]
    (tmp_path / "short.csv").write_text("datetime;Pressure;Current\n" + "\n".join(rows) + "\n")
    (tmp_path / "pump.yaml").write_text(
        "tick_s: 1\nsensors: [pressure, current]\nwindow: {steps: 64}\nsinks: []\n"
        "sources:\n  - {type: replay, path: short.csv, separator: ';', time_column: datetime,\n"
        "     columns: {Pressure: pressure, Current: current}}\n")
    rc = main(["train", "-c", str(tmp_path / "pump.yaml"), "-o", str(tmp_path / "b"), "--quiet", "--threads", "1"])
    err = capsys.readouterr().err
    needed = minimum_recording_ticks(minimum_calibration_ticks(0.98), 64)
    assert rc == 2, err
    assert f"in one piece, a recording of at least {needed} ticks (each further piece: 126 more)" in err, err
