"""user36, a water utility's first week (docs/measured/first-week.md, the user36 round): what an operator met.

- `warmup.from:` (a recording to warm up on) said only `unknown key`: the key it meant, `replay`, was nowhere on the
  line. An unknown key no known one is close to now lists the keys of its mapping.
- A register map typo (a pump's vibration mapped to a spare register that reads 0) was told at the first score as an
  operating point elsewhere, with "move the checkpoint aside and start again" as the cure — which would have learnt
  the typo's 0 as normal — and its value as `5.156e-09`. A sensor held at one value through the first scored window
  is said on a line of its own, pointing at what it reads."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import agent_env

T0 = 1796480000


def check_config(directory: Path, text: str) -> subprocess.CompletedProcess:
    (directory / "agent.yaml").write_text(text)
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "--static", "-c", "agent.yaml"],
                          cwd=directory, capture_output=True, text=True, timeout=120, env=agent_env())


def test_an_unknown_key_no_known_one_is_close_to_lists_the_keys_of_its_mapping(tmp_path):
    done = check_config(tmp_path, "sensors: [a, b]\nsources: [{type: stdin}]\nwarmup: {ticks: 40, from: normal}\n")
    assert done.returncode == 2, done.stderr
    [line] = [ln for ln in done.stderr.splitlines() if "warmup.from" in ln]
    assert line.endswith("warmup.from: unknown key (keys of warmup: ticks, counts, fit_fraction, held_out, "
                         "flat_sensors, replay, replay_format, replay_max_ticks)"), line
    # a close one is still the one named, alone
    done = check_config(tmp_path, "sensors: [a, b]\nsources: [{type: stdin}]\nwarmup: {ticks: 40, replya: x}\n")
    assert "warmup.replya: unknown key (did you mean 'replay'?)" in done.stderr, done.stderr


CONFIG = """node: {id: n1, site: s1}
tick_s: 1
state_dir: state
sensors:
  - {name: flow, group: g}
  - {name: current, group: g}
  - {name: vib, group: g}
sources:
  - {type: stdin}
window: {steps: 16, max_clock_skew_s: 0}
warmup: {ticks: 100, replay: hist.csv}
sinks:
  - type: terminal
"""


def first_score_lines(directory: Path, vib: float | None, flow_level: float = 125.0, after: int = 600) -> list[str]:
    """A real `run` warmed on a recording of a pump (flow, current, vib moving); live, `vib` held at one value (None:
    moving as recorded) and the flow at `flow_level`: its 'first score' WARNINGs."""
    rng = np.random.default_rng(5)
    rows = ["timestamp,flow,current,vib"] + [
        f"{T0 + i},{125 + rng.normal(0, 1.5):.3f},{40 + rng.normal(0, 0.3):.3f},{2.3 + rng.normal(0, 0.16):.3f}"
        for i in range(600)]
    (directory / "hist.csv").write_text("\n".join(rows) + "\n")
    (directory / "agent.yaml").write_text(CONFIG)
    live = "".join(json.dumps({"ts": T0 + after + i, "values": {
        "flow": flow_level + rng.normal(0, 1.5), "current": 40 + rng.normal(0, 0.3),
        "vib": vib if vib is not None else 2.3 + rng.normal(0, 0.16)}}) + "\n" for i in range(60))
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=directory, input=live,
                          capture_output=True, text=True, timeout=300, env=agent_env())
    assert done.returncode == 0 and "first tick" in done.stderr, done.stderr
    return [ln for ln in done.stderr.splitlines() if "first score:" in ln]


def test_a_sensor_held_at_one_value_at_the_first_score_is_not_told_as_an_operating_point(tmp_path):
    [line] = first_score_lines(tmp_path, vib=0.0)
    assert "WARNING" in line and "1 of 3 sensor(s) read one value on every tick of the first scored window" in line
    assert "vib (reads 0, normal 2.3" in line and "e-0" not in line, line
    assert "its address in the config: a register" in line, line
    assert "operating point" not in line and "warmup.replay" not in line and "checkpoint" not in line, line
    # a restart that resumes the checkpoint: the same, never "move the checkpoint aside"
    lines = first_score_lines(tmp_path, vib=0.0, after=700)
    assert len(lines) == 1 and "read one value on every tick" in lines[0], lines
    assert "move the checkpoint aside" not in lines[0], lines


def test_a_held_sensor_and_an_operating_point_elsewhere_are_said_each_with_its_own_cure(tmp_path):
    held, moved = first_score_lines(tmp_path, vib=0.0, flow_level=32.0)
    assert "vib (reads 0" in held and "flow" not in held.split("window")[1].split(";")[0], held
    assert "for 1 of 3 sensor(s): flow (live median 3" in moved and "vib" not in moved, moved
    assert f"warmup.replay is {tmp_path / 'hist.csv'}" in moved, moved
