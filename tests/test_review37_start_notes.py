"""A config-notes.json whose `printed_at` is no time means the notes are said in full again, not a traceback.

review37: agent/start_notes.py keeps when `run` last printed check-config's notes in full, "not state the agent
needs: a record missing or unreadable only means that the notes are printed in full again". Its `printed_at` was
taken as any int or float, and said with iso(): 1e308, a 400-digit number or NaN there (a flipped bit, a hand edit)
stopped `run` with OverflowError / ValueError before the agent was built — at every start while the file was there.
A real `run` process on stdin (its input ends at once) with user14's warm-up recording, whose bound is the note.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import agent_env

CONFIG = """node: {id: n1, site: s1}
tick_s: 1
state_dir: state
sensors:
  - {name: a, group: g}
  - {name: b, group: g}
sources:
  - {type: stdin}
warmup: {ticks: 100, replay: hist.csv}
sinks:
  - type: terminal
"""


def run(directory: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=directory,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, env=agent_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return [line for line in done.stderr.splitlines() if line.startswith("agent.yaml: note: ")]


@pytest.mark.parametrize("printed_at", ["1e308", "1" + "0" * 400, "NaN", '"1796480000"'],
                         ids=["1e308", "400 digits", "NaN", "a string"])
def test_a_record_whose_printed_at_is_no_time_has_the_notes_said_in_full_again(tmp_path, printed_at):
    (tmp_path / "hist.csv").write_text("timestamp,a,b\n" + "".join(f"{1796480000 + i},{i % 7},{i * 3 % 11}\n"
                                                                   for i in range(400)))
    (tmp_path / "agent.yaml").write_text(CONFIG)
    first = run(tmp_path)
    assert len(first) == 1 and "warmup.replay: run warms up on the newest" in first[0], first
    record = tmp_path / "state" / "config-notes.json"
    doc = json.loads(record.read_text())
    record.write_text(json.dumps(doc).replace(json.dumps(doc["printed_at"]), printed_at))
    assert run(tmp_path) == first           # on main: a traceback (exit 1) but for the string
    assert json.loads(record.read_text())["printed_at"] > 0     # written again, a time
