"""`stad-agent run` says check-config's notes in full at the first start, one line at a restart with the same
notes, in full again once they change (user13: the same `note:` paragraph in the journal at every restart).
A real `run` process on stdin (its input ends at once), a real warm-up recording whose bound is the note."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import agent_env


CONFIG = """node: {{id: n1, site: s1}}
tick_s: 1
state_dir: state
sensors:
  - {{name: a, group: g}}
  - {{name: b, group: g}}
sources:
  - {{type: stdin}}
warmup: {{ticks: 100, replay: hist.csv{extra}}}
sinks:
  - type: terminal
"""


def run(directory: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=directory,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                          env=agent_env())
    assert done.returncode == 0, done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("agent.yaml: note: ")]


def test_the_same_notes_are_said_in_full_once_then_in_one_line_until_they_change(tmp_path):
    (tmp_path / "hist.csv").write_text("timestamp,a,b\n" + "".join(f"{1796480000 + i},{i % 7},{i * 3 % 11}\n"
                                                                   for i in range(400)))
    config = tmp_path / "agent.yaml"
    config.write_text(CONFIG.format(extra=""))
    first = run(tmp_path)
    assert len(first) == 1 and "warmup.replay: run warms up on the newest 691,200 ticks" in first[0], first
    again = run(tmp_path)
    assert len(again) == 1, again
    assert again[0].startswith("agent.yaml: note: the 1 note(s) check-config gives this config are the ones printed "
                               "at the start of 20") and again[0].endswith(
        "(not repeated; stad-agent check-config -c agent.yaml prints them)"), again
    assert run(tmp_path) == again           # still the first start's time: the one whose journal holds them
    config.write_text(CONFIG.format(extra=", replay_max_ticks: 5000"))      # another bound: another note
    changed = run(tmp_path)
    assert len(changed) == 1 and "on the newest 5,000 ticks" in changed[0], changed
    # check-config says them every time: it is asked for them
    done = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", "agent.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=agent_env())
    assert "on the newest 5,000 ticks" in done.stderr, done.stderr


@pytest.mark.parametrize("printed_at", ["1e308", "1" + "0" * 400, "NaN", '"1796480000"'],
                         ids=["1e308", "400 digits", "NaN", "a string"])
def test_a_record_whose_printed_at_is_no_time_has_the_notes_said_in_full_again(tmp_path, printed_at):
    """review37: the record is "not state the agent needs: missing or unreadable, the notes are printed in full
    again". Its `printed_at` was taken as any int or float and said with iso(): 1e308, a 400-digit number or NaN
    there (a flipped bit, a hand edit) stopped `run` with OverflowError / ValueError before the agent was built — at
    every start while the file was there. Now such a record is none."""
    (tmp_path / "hist.csv").write_text("timestamp,a,b\n" + "".join(f"{1796480000 + i},{i % 7},{i * 3 % 11}\n"
                                                                   for i in range(400)))
    (tmp_path / "agent.yaml").write_text(CONFIG.format(extra=""))
    first = run(tmp_path)
    assert len(first) == 1 and "warmup.replay: run warms up on the newest" in first[0], first
    record = tmp_path / "state" / "config-notes.json"
    doc = json.loads(record.read_text())
    record.write_text(json.dumps(doc).replace(json.dumps(doc["printed_at"]), printed_at))
    assert run(tmp_path) == first           # on main: a traceback (exit 1) but for the string
    assert json.loads(record.read_text())["printed_at"] > 0     # written again, a time
