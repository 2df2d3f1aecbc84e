"""evaluate's replay hint (qa30) on a CSV whose header ends in a separator — what a spreadsheet exports when a
column past the data was ever touched: `timestamp,a,b,`. The empty name after the last comma was taken as the
one candidate label column: the hint proposed `label_columns: ['']` (while saying the file's other columns
were "none"), and the config made from it passed check-config and then rejected every row ("bad label —
field ''"): evaluate had no labels. A real CSV file, the real `stad-agent evaluate` CLI.
"""
from __future__ import annotations

import subprocess
import sys

import yaml

from conftest import REPO, agent_env


def test_a_header_ending_in_a_separator_gives_no_empty_label_column(tmp_path):
    data = tmp_path / "today.csv"
    data.write_text("timestamp,a,b,\n" + "".join(f"{1.7e9 + i:.0f},{i % 7},{i % 5},\n" for i in range(100)))
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": 1, "sources": [{"type": "udp", "port": 0}],
                                   "window": {"steps": 8}, "warmup": {"ticks": 50}, "sinks": [],
                                   "state_dir": str(tmp_path / "state")}))
    res = subprocess.run([sys.executable, "-m", "agent", "evaluate", "-c", str(cfg), "--data", str(data)],
                         capture_output=True, text=True, cwd=REPO, env=agent_env(), timeout=120)
    assert "label_columns: [LABEL]" in res.stderr, res.stderr[-2000:]
    assert "''" not in res.stderr and "its columns besides the time and the sensors': none" in res.stderr
