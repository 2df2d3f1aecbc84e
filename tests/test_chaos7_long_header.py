"""A CSV header longer than the replay's line bound (MAX_LINE_CHARS, 1 MiB: a historian's export of 200,000 tags) is
said as the header, by file and line (chaos6's "left"; the chaos7 round). Before, the header was read past as `line
too long` and the first data row taken for the header: the file refused for a `missing time column` named by line 2
and its numbers (`no column 'timestamp' in ['1796614136', '0', …]`), and check-config said "ok" with a note of a
header mapping no sensor that quoted a data row. Now the replay skips the file at its line 1, saying why, and reads
the folder's other files; check-config names it — a problem when it is the replay's only file, a note beside others.
The real agent on real files."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

from conftest import REPO, agent_env
from agent.sources.replay_lines import MAX_LINE_CHARS

T0 = int(time.time()) - 3600


def _long_header_file(path: Path) -> None:
    columns = ["timestamp", "a"] + [f"tag{i:06d}" for i in range(MAX_LINE_CHARS // 9)]
    path.write_text(",".join(columns) + "\n" + "".join(f"{T0 + k},{k % 7}\n" for k in range(100)))
    assert path.stat().st_size > MAX_LINE_CHARS


def _agent(tmp_path: Path, replay_path: Path, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "tick_s": 1, "sensors": ["a"], "sources": [{"type": "replay", "path": str(replay_path)}],
        "window": {"steps": 8}, "warmup": {"ticks": 50}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}], "state_dir": str(tmp_path / "state")}))
    return subprocess.run([sys.executable, "-m", "agent", *args, "-c", str(config)], cwd=REPO, env=agent_env(),
                          text=True, capture_output=True, timeout=300)


def test_a_replays_only_file_with_a_header_past_the_bound_is_refused_at_its_line(tmp_path):
    _long_header_file(tmp_path / "wide.csv")
    for args in (("check-config",), ("run",)):
        done = _agent(tmp_path, tmp_path / "wide.csv", *args)
        assert done.returncode == 2, (args, done.stderr[-2000:])
        assert ("sources[0].path: wide.csv: line 1, its first line with fields, is longer than 1,048,576 characters: "
                "that is its header") in done.stderr, (args, done.stderr[-2000:])
        assert "1796" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_beside_other_files_it_is_skipped_by_name_and_line_and_the_others_read(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    _long_header_file(folder / "a_wide.csv")
    (folder / "b_good.csv").write_text("timestamp,a\n" + "".join(f"{T0 + 200 + k},{k % 5}\n" for k in range(120)))
    check = _agent(tmp_path, folder, "check-config")
    assert check.returncode == 0, check.stderr[-2000:]
    assert "note: sources[0].path: a_wide.csv: line 1, its first line with fields" in check.stderr, check.stderr[-2000:]
    assert "maps no sensor" not in check.stderr, check.stderr[-2000:]       # (a data row quoted as the header)
    run = _agent(tmp_path, folder, "run")
    assert run.returncode == 0, run.stderr[-2000:]
    said = [line for line in run.stderr.splitlines() if "a_wide.csv:" in line and "rejected" in line]
    assert len(said) == 1, run.stderr[-3000:]
    assert "a_wide.csv:1: line too long — line 1, its first line with fields, is longer than" in said[0], said
    assert "missing time column" not in run.stderr, run.stderr[-3000:]
    summary = run.stderr.strip().splitlines()[-1]
    assert "120 records in" in summary and "line too long: 1)" in summary, summary
