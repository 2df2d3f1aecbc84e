"""`check-config` says each wrong value once (agent/typed.py's rule): a sensor name in `scoring.profile.drifting`
or a sensor's `neighbours` that is no string was said twice — "expected a string" and "unknown sensor 1" —
and counted as two problems. The config is a real file; check-config runs in-process as the CLI runs it, and
`run` (the CLI, exit 2) refuses the same file with the same words.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from config_mutants import check_config
from conftest import REPO, agent_env


def _config(tmp_path, **over) -> object:
    d = {"sensors": ["temp_motor", "pressure"], "sources": [{"type": "simulate", "scenario": "pump"}], "sinks": []}
    d.update(over)
    f = tmp_path / "agent.yaml"
    f.write_text(yaml.safe_dump(d))
    return f


@pytest.mark.parametrize("where", ["drifting", "neighbours"])
def test_a_sensor_name_that_is_no_string_is_one_problem(tmp_path, where):
    if where == "drifting":
        f = _config(tmp_path, scoring={"profile": {"drifting": [1]}})
        key = "scoring.profile.drifting[0]"
    else:
        f = _config(tmp_path, sensors=[{"name": "temp_motor", "neighbours": [1]}, "pressure"])
        key = "sensors[0].neighbours[0]"
    code, err = check_config(f)
    assert code == 2
    assert f"{key}: expected a string, got int 1" in err, err
    assert "unknown sensor 1" not in err and "1 problem(s); nothing started" in err, err
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(f)], capture_output=True, text=True,
                         cwd=REPO, env=agent_env(), timeout=120)
    assert run.returncode == 2 and f"{key}: expected a string, got int 1" in run.stderr, run.stderr[-2000:]
