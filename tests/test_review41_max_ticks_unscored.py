"""--max-ticks: the log's count of records not scored is the summary's (review41; user30 found 64 against 65).

An unpaced replay keeps the intake queue full, so when --max-ticks is reached its source waits for room with
one more record read. The stop refuses it and counts it (`dropped_at_stop`); the log line said only the 64
records left queued, the summary all 65. A real agent process on a real CSV recording.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = """
tick_s: 1
topology: group
sensors: [a, b, c]
sources: [{type: replay, path: recording.csv}]
warmup: {ticks: 40}
window: {steps: 8}
scoring: {chain: [numpy]}
sinks: [{type: jsonl, path: alerts.jsonl}]
state_dir: state
"""


def test_the_log_and_the_summary_count_the_same_records_not_scored(tmp_path):
    with open(tmp_path / "recording.csv", "w") as f:
        f.write("timestamp,a,b,c\n")
        for i in range(3000):
            f.write(f"{1772409600 + i},{1 + i % 3},{2 + (i % 7) / 10},{i % 2}\n")
    (tmp_path / "agent.yaml").write_text(CONFIG)
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml", "--max-ticks", "100"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    said = re.search(r"(\d+) record\(s\) the sources had queued beyond --max-ticks 100 were not scored", res.stderr)
    summary = re.search(r"records read but not scored at the stop: (\d+)", res.stderr)
    assert said and summary, res.stderr
    assert int(said.group(1)) == int(summary.group(1)) > 0, res.stderr
