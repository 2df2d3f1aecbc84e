"""A sender fed to a real agent on stdin at a 0.25-s tick, stamped from this host's clock, and what the
agent leaves on disk (its alert events, its sign of life): shared by the restart-during-a-silence tests
(tests/test_restart_in_silence.py, tests/test_clock18_alive_kill.py)."""
from __future__ import annotations

import calendar
import json
import threading
import time

from agent.resume import ALIVE_FILE
from restart_helpers import AgentProcess

TICK = 0.25
STEPS = 120                 # a 30-s window: the downtime (a process start under load) stays shorter
WARMUP = STEPS + 10


def line(ts: float, step: float = 0.0) -> str:
    return json.dumps({"ts": round(ts, 3), "a": 10 + (ts * 7) % 1 + step, "b": 5 + (ts * 13) % 1}) + "\n"


def send(agent: AgentProcess, n: int, step: float = 0.0) -> list[float]:
    """n records on the device's cadence, stamped when sent; their stamps."""
    cadence = threading.Event()
    stamps = []
    for _ in range(n):
        stamps.append(time.time())
        agent.feed([line(stamps[-1], step)])
        cadence.wait(TICK)              # the device's cadence: the input, not a wait on the agent
    return stamps


def seconds(stamp: str) -> float:
    whole, frac = stamp.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def events(tmp) -> list[dict]:
    path = tmp / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines(keepends=True) if x.endswith("\n")]


def alive_at(tmp) -> float:
    try:
        return float(json.loads((tmp / "state" / ALIVE_FILE).read_text())["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
