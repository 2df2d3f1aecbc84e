"""A `duplicate` reject says what it most often means (user24).

Loop-detector controllers reporting every 20 s, read at configs/roadside.yaml's 30-s tick: every third report fell in
a tick that already had one, a third of the readings were rejected `duplicate` under WARNING lines that named the
sensor and the tick only. The first lines now say the first value is kept and ask whether a sender reports more
often than tick_s. A real agent replaying a real CSV file."""
from __future__ import annotations

import subprocess
import sys

import yaml

from conftest import REPO

SENSORS = ["K012_flow", "K012_occ", "K014_flow", "K014_occ"]


def test_reports_more_often_than_the_tick_are_rejected_saying_why(tmp_path):
    rows = ["timestamp," + ",".join(SENSORS)]
    for i in range(300):                                    # 20-s reports, 100 minutes
        t = 1_764_892_800 + 20 * i
        rows.append(f"{t}," + ",".join(f"{100 + (i * 7 + j * 3) % 11}" for j in range(len(SENSORS))))
    (tmp_path / "reports.csv").write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "tick_s": 30, "topology": "corridor", "sensors": SENSORS,
        "sources": [{"type": "replay", "path": "reports.csv"}], "warmup": {"ticks": 100},
        "scoring": {"chain": ["numpy"]}, "sinks": [], "state_dir": "state"}))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [ln for ln in run.stderr.splitlines() if ": duplicate — " in ln]
    assert lines, run.stderr[-2000:]
    assert all("(the first is kept; a sender reporting more often than tick_s (30 s)? set tick_s to its reporting "
               "period)" in ln for ln in lines), lines
    # every third report, counted once a report (its 4 sensors' values: 400 before qa54, beside "300 records in")
    assert "duplicate: 100" in run.stderr
