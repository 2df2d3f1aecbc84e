"""The agent config and the process the entries-twice tests share (chaos5: an entry given twice; chaos6: one file
named two ways): a numpy agent of a few sensors whose sources and sinks the test writes, run as a real process."""
from __future__ import annotations

import subprocess
import sys

from conftest import agent_env

CONFIG = """
tick_s: 1
sensors: {sensors}
sources: {sources}
warmup: {{ticks: 100}}
window: {{steps: 8}}
scoring: {{chain: [numpy]}}
sinks: {sinks}
state_dir: state
"""


def config_text(sensors: str, sources: str, sinks: str) -> str:
    """The shared config with these sensors, sources and sinks (YAML flow text)."""
    return CONFIG.format(sensors=sensors, sources=sources, sinks=sinks)


def run_agent(*args: str, cwd) -> subprocess.CompletedProcess:
    """`stad-agent ARGS` in `cwd`, its output captured."""
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=cwd, env=agent_env(), text=True, timeout=300,
                          capture_output=True, stdin=subprocess.DEVNULL)
