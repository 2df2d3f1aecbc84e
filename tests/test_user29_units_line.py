"""A historian's units line under a CSV header (`;A;V`) is said to be one, not `missing time — empty time field`
(user29: the plant's export said so for a line no reading was ever on, and `stad-convert train`'s summary counted it
as a missing time). Only the line under the header, and only when its time cell is no time and no sensor cell is a
number: a row with an empty time and readings further down is the data's fault, and said as before. A real agent
on a real file."""
from __future__ import annotations

import subprocess
import sys

import yaml

from conftest import agent_env

CONFIG = {"tick_s": 1, "sensors": ["a", "b"], "warmup": {"ticks": 50}, "scoring": {"chain": ["numpy"]},
          "sinks": [], "state_dir": "st",
          "sources": [{"type": "replay", "path": "rec.csv", "separator": ";", "time_column": "datetime",
                       "columns": {"Current": "a", "Voltage": "b"}}]}


def test_a_units_line_under_the_header_is_said_to_be_one(tmp_path):
    rows = [f"2026-11-03 07:{i // 60:02d}:{i % 60:02d};{(i * 7) % 11 / 10:.2f};{230 + (i * 3) % 7 / 10:.2f}"
            for i in range(120)]
    rows[60] = ";0.5;230.1"                         # readings without a time: the data's fault
    (tmp_path / "rec.csv").write_text("datetime;Current;Voltage\n;A;V\n" + "\n".join(rows) + "\n")
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(CONFIG))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "a.yaml"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=agent_env())
    assert run.returncode == 0, run.stderr[-3000:]
    assert ("rejected rec.csv:2: missing time — a units line under the header ('A', 'V'): no time and no number on "
            "it; read past, nothing to do") in run.stderr, run.stderr
    assert "rejected rec.csv:63: missing time — empty time field (column 1)" in run.stderr, run.stderr
