"""--max-ticks: the records that closed the last tick sit in ticks still open; the summary says so, and the
checkpoint that keeps them has the next start score them (review42).

review41 saw `100 ticks, 102 records in` and no word of the 2: tick 100 closes on a record of tick 102
(lateness_ticks 1), and ticks 101-102 stay open at the stop — in the checkpoint, not in any count. Now the summary
says `ticks read and still open at the stop: 2 (kept in the checkpoint, the next start scores them)`, and the next
start does: the two lives' ticks add up to the records read. A real agent process replaying a recording, twice (the second recording the rows after the first).
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
window: {steps: 8, lateness_ticks: 1}
scoring: {chain: [numpy]}
sinks: [{type: jsonl, path: alerts.jsonl}]
state_dir: state
"""


def rows(first: int, last: int) -> str:
    """A recording, one row a second from `first` to `last`."""
    return "timestamp,a,b,c\n" + "".join(f"{1772409600 + i},{1 + i % 3},{2 + (i % 7) / 10},{i % 2}\n"
                                         for i in range(first, last))


def run(tmp: Path, recording: str, *args: str) -> str:
    (tmp / "recording.csv").write_text(recording)
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml", *args], cwd=tmp,
                         stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    return next(line for line in res.stderr.splitlines() if line.startswith("summary:"))


def test_the_ticks_left_open_by_max_ticks_are_said_kept_and_scored_by_the_next_start(tmp_path):
    (tmp_path / "agent.yaml").write_text(CONFIG)
    first = run(tmp_path, rows(0, 102), "--max-ticks", "100")
    assert first.startswith("summary: 100 ticks, 102 records in"), first
    assert "ticks read and still open at the stop: 2 (kept in the checkpoint, the next start scores them)" in first
    second = run(tmp_path, rows(102, 130))      # its end closes every tick
    ticks = int(re.match(r"summary: (\d+) ticks, 28 records in", second).group(1))
    assert 100 + ticks == 130, second
    assert "still open at the stop" not in second
