"""perf72: the systemd unit runs the agent as `python -OO` (PYTHONOPTIMIZE=2 in its Environment=): the docstrings
of every module — the agent's, the standard library's, numpy's — are not kept in memory, 2.5 MiB of the demo's peak
RSS in every tier (docs/measured/speed.md). What that must not change, checked in fresh processes with the unit's own
environment: the agent starts, warms up, scores with the tflite tier and raises its alerts, and check-config answers;
the docstrings really are gone there; bench/rss.py measures the agent as the unit runs it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, agent_env, bench_module, demo_dict

UNIT = REPO / "systemd" / "stad-agent.service"


def unit_environment() -> dict[str, str]:
    """The variables the unit's Environment= lines set."""
    out: dict[str, str] = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("Environment="):
            out.update(word.split("=", 1) for word in line.partition("=")[2].split())
    return out


def test_the_unit_runs_the_agent_without_docstrings():
    assert unit_environment()["PYTHONOPTIMIZE"] == "2"
    assert bench_module("rss").unit_optimize(UNIT) == "2"       # the bench reads the same line


RUN = """
import json, sys
from agent.cli import main
rc = main(sys.argv[1:])
import agent.pipeline, agent.scorers.numpy_fallback, numpy
print(json.dumps({"rc": rc, "optimize": sys.flags.optimize, "scorer_tiers": "agent.scorers.tflite" in sys.modules,
                  "docstrings": [m.__doc__ for m in (agent.pipeline, agent.scorers.numpy_fallback, numpy)]}))
"""


def test_the_demo_runs_and_alerts_under_the_units_environment(tmp_path):
    pytest.importorskip("ai_edge_litert")
    cfg = demo_dict(tmp_path, chain=["tflite", "numpy"])
    cfg["sources"][0].update(speed=0)
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    env = agent_env(**unit_environment())
    check = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(tmp_path / "agent.yaml")],
                           capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    res = subprocess.run([sys.executable, "-c", RUN, "run", "-c", str(tmp_path / "agent.yaml"), "--max-ticks", "4200",
                          "--log-level", "warning"], capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    said = json.loads(res.stdout.splitlines()[-1])
    assert said["rc"] == 0 and said["optimize"] == 2 and said["scorer_tiers"]
    assert said["docstrings"] == [None, None, None]         # -OO took effect: the agent's and numpy's
    summary = next(line for line in res.stderr.splitlines() if line.startswith("summary:"))
    assert "tier tflite" in summary, summary
    events = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "new" for e in events), events[:3]
