"""The first score says so when the live data lies far from the normal it is scored against (user13, user14: a
`warmup.replay` recording of another operating point made the first score an alert on normal running, with nothing
pointing at the recording). A real `run` process: a warm-up recording at one level, live rows on stdin at that
level (nothing said) or at another (one WARNING naming the sensor, its figures and the recording)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import agent_env
from operating_point_pump import CONFIG, T0


def run(directory: Path, flow_level: float, after: int = 600) -> str:
    rng = np.random.default_rng(3)
    history = ["timestamp,flow,current"] + [f"{T0 + i},{125 + rng.normal(0, 1.5):.3f},{2.5 + rng.normal(0, 0.1):.3f}"
                                            for i in range(600)]
    (directory / "hist.csv").write_text("\n".join(history) + "\n")
    (directory / "agent.yaml").write_text(CONFIG)
    live = "".join(json.dumps({"ts": T0 + after + i, "values": {"flow": flow_level + rng.normal(0, 1.5),
                                                               "current": 2.5 + rng.normal(0, 0.1)}}) + "\n"
                   for i in range(60))
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=directory, input=live,
                          capture_output=True, text=True, timeout=300, env=agent_env())
    assert done.returncode == 0, done.stderr
    assert "first tick" in done.stderr, done.stderr
    return done.stderr


def test_live_running_far_from_the_warm_up_s_normal_is_said_at_the_first_score(tmp_path):
    err = run(tmp_path, flow_level=32.0)
    [line] = [ln for ln in err.splitlines() if "first score: the live data lies far" in ln]
    assert "WARNING" in line and "for 1 of 2 sensor(s): flow (live median 3" in line, line
    assert "normal 125" in line and "current" not in line.split("sensor(s):")[1].split(";")[0], line
    assert f"warmup.replay is {tmp_path / 'hist.csv'}" in line, line
    # a restart resumes the checkpoint's normal: a changed warmup.replay is not read, so the cure is another
    err = run(tmp_path, flow_level=32.0, after=700)
    assert "checkpoint" in err and "loaded" in err, err
    [line] = [ln for ln in err.splitlines() if "first score: the live data lies far" in ln]
    assert f"this normal is the one {tmp_path / 'state' / 'checkpoint.bin'} keeps from its first warm-up" in line, line
    assert "move the checkpoint aside" in line and "warmup.replay is" not in line, line


def test_live_running_at_the_warm_up_s_operating_point_says_nothing(tmp_path):
    err = run(tmp_path, flow_level=125.0)
    assert "first score: the live data" not in err, err
