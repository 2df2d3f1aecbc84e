"""A replay file with a line far too long — a power cut leaves an SD card's file tail as zeros
without a newline — is read past in pieces and counted as `line too long` with its file and line,
and the records after it are replayed. Before, the whole line was read into memory first (a 200 MB
one: 650 MB resident, against 40 MB now), then refused as bad JSON or bad CSV: a larger one was
more than a gateway has, and the agent died on it at every restart.

`stad-agent run` as a real process on real JSONL and CSV files.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from restart_helpers import row

ZEROS = 3 * 2**20           # over MAX_LINE_CHARS (1 MiB), no newline until the data resumes


def write(path, fmt: str) -> None:
    with open(path, "wb") as f:
        if fmt == "csv":
            f.write(b"timestamp,a,b,c\n")
        for i in range(400):
            if i == 150:
                f.write(b"\0" * ZEROS + b"\n")          # line 151 of the JSONL, 152 of the CSV
            r = json.loads(row(i))
            f.write((row(i) if fmt == "jsonl" else f"{r['ts']},{r['a']},{r['b']},{r['c']}\n").encode())


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_replay_line_too_long_is_skipped_in_pieces_and_counted(tmp_path, fmt):
    # On the old code it was read whole and counted as 'bad json' / 'bad csv' (field larger than field limit).
    data = tmp_path / f"data.{fmt}"
    write(data, fmt)
    cfg = {"node": {"id": "gw", "site": "lab"}, "tick_s": 1, "sensors": ["a", "b", "c"],
           "sources": [{"type": "replay", "path": str(data), "format": fmt}],
           "window": {"steps": 16, "carry_forward_s": 2}, "warmup": {"ticks": 60}, "scoring": {"chain": ["numpy"]},
           "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}], "state_dir": str(tmp_path / "state")}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    line = 151 if fmt == "jsonl" else 152
    assert f"rejected data.{fmt}:{line}: line too long — more than 1048576 characters; skipped" in res.stderr
    summary = res.stderr.strip().splitlines()[-1]
    assert summary.startswith("summary: 400 ticks, 400 records in, rejected 1 (line too long: 1)"), summary
