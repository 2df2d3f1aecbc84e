"""The terminal sink of an agent started with stdout closed (`stad-agent run >&-`, a supervisor that closes it):
Python's sys.stdout is then None and print() writes nothing without a word. Each alert line was counted `written`
and lost, unsaid (review39); with `color: true` the agent ended at its start (`None.isatty()`, a traceback). Now
the lines are dropped and counted, said once, and the other sinks get every event. Real parts: `stad-agent run`
on a simulation with an incident, its stdout closed by the shell."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, agent_env


@pytest.mark.parametrize("color", [False, True])
def test_alerts_with_stdout_closed_are_counted_dropped_and_said(tmp_path, color):
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "node": {"id": "t"}, "tick_s": 1, "topology": "none", "sensors": ["S01_flow", "S01_occ", "S01_speed"],
        "sources": [{"type": "simulate", "duration_s": 400,
                     "anomalies": [{"kind": "incident", "at_s": 200, "duration_s": 100, "magnitude": 5}]}],
        "window": {"steps": 8}, "warmup": {"ticks": 32},
        "sinks": [{"type": "terminal", "color": color}, {"type": "jsonl", "path": "alerts.jsonl"}],
        "state_dir": "state"}))
    run = subprocess.run(["sh", "-c", f'exec "{sys.executable}" -m agent run -c agent.yaml >&-'], cwd=tmp_path,
                         env=agent_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    written = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    alerts = [e for e in written if e.get("kind") == "alert"]
    assert alerts, run.stderr[-2000:]
    assert run.stderr.count("terminal: cannot write to stdout (stdout was closed when the agent started)") == 1, \
        run.stderr[-3000:]
    assert f"events dropped this run: terminal: {len(alerts)} alert lines not written" in run.stderr, run.stderr[-1500:]
