"""A sender fed to a real agent on stdin at a 0.25-s tick, stamped from this host's clock, and what the
agent leaves on disk (its alert events, its sign of life): shared by the restart-during-a-silence tests
(tests/test_restart_in_silence.py, tests/test_clock18_alive_kill.py)."""
from __future__ import annotations

import calendar
import json
import shutil
import threading
import time

import yaml

from agent.checkpoint import CheckpointRefused, decode
from agent.resume import ALIVE_FILE
from conftest import wait_for
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


def warm_and_live(agent: AgentProcess, state_dir) -> float:
    """A first life up to its kill: ready, the warm-up's backlog at once, then live records on the device's cadence
    — 16, and on until a checkpoint holds live ticks (sent while it is waited for: the sender is not silent for
    the wait, a silence the agent would claim and the next start close as missing ticks). When the live data
    began."""
    agent.ready()
    start = time.time() - (WARMUP + 10) * TICK
    agent.feed([line(start + i * TICK) for i in range(WARMUP + 10)])      # the backlog, at once
    live_from = time.time()
    send(agent, 16)
    checkpoint = state_dir / "checkpoint.bin"

    def checkpointed_live():
        if checkpoint.exists() and checkpoint.stat().st_mtime > live_from + 2.0:
            return True
        send(agent, 1)                  # the device's cadence goes on while the checkpoint is waited for
        return False
    wait_for(checkpointed_live, "a checkpoint holding live ticks", 60, agent.proc)
    return live_from


def silence_claimed_s(state_dir, last_sent: float) -> float:
    """How long after the last record sent the agent's state files say it was alive with every record taken (its
    checkpoint's `alive_at`, alive.json's `at`): more than a tick or two is a silence of the sender it lived through
    — the next start closes it as missing ticks. -inf: no claim."""
    claims = []
    try:
        claims.append(decode((state_dir / "checkpoint.bin").read_bytes())[0].get("alive_at"))
    except (OSError, CheckpointRefused):
        pass
    try:
        claims.append(json.loads((state_dir / ALIVE_FILE).read_text()).get("at"))
    except (OSError, ValueError):
        pass
    return max((c - last_sent for c in claims if isinstance(c, (int, float))), default=float("-inf"))


def killed_while_flowing(tmp, cfg, attempts: int = 3) -> float:
    """The first life of a two-kills scenario: warmed and live (`warm_and_live`), 4 records more, kill -9 while the
    data flows; then the config's `checkpoint_s` 120, so that the next two kills fall within one interval. When it
    was killed. Checked: a loaded machine can hold this process (the sender) still for a second or more between its
    last record and the kill, or between two records, and the agent then rightly says its sender fell silent (the
    sign of life; a `missing` or `source` fault) — not the scenario: that life is run again on a clean state_dir
    (clock28: the claims test's second flake beside two busy loops, 3 of 12 in one round)."""
    for attempt in range(1, attempts + 1):
        first = AgentProcess(tmp, cfg, "run1" if attempt == 1 else f"run1-try{attempt}")     # (each life's log kept)
        try:
            warm_and_live(first, tmp / "state")
            last = send(first, 4)[-1]
            down = time.time()
            first.kill()                    # kill -9 while the data flows
        finally:
            if first.proc.poll() is None:
                first.kill()
        silent = silence_claimed_s(tmp / "state", last)
        faults = [e for e in events(tmp) if e["kind"] != "alert"]
        if silent <= 2 * TICK and not faults:
            break
        assert attempt < attempts, (f"the first life's sender fell silent before its kill in all {attempts} tries "
                                    f"(claimed {silent:.2f} s after its last record; fault events {faults})")
        shutil.rmtree(tmp / "state")
        (tmp / "alerts.jsonl").unlink(missing_ok=True)
    doc = yaml.safe_load(cfg.read_text())
    doc["checkpoint_s"] = 120           # both kills within one interval
    cfg.write_text(yaml.safe_dump(doc))
    return down


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


def write_config(tmp, node: str, checkpoint_s: float):
    """A numpy agent on stdin with the sender's two sensors, alerts to alerts.jsonl; its path."""
    cfg = tmp / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "node": {"id": node, "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": ["a", "b"],
        "sources": [{"type": "stdin"}],
        "window": {"steps": STEPS, "carry_forward_s": 2 * TICK, "lateness_ticks": 1},
        "warmup": {"ticks": WARMUP}, "scoring": {"chain": ["numpy"]},
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 400, "cooldown_ticks": 2, "update_interval_s": 1},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": checkpoint_s}))
    return cfg


def alert_then_silence(agent: AgentProcess, tmp) -> float:
    """The warm-up's backlog at once, data, a step that opens an alert, then the sender falls silent
    (the alert's `new` awaited); the last record's stamp."""
    start = time.time() - (WARMUP + 10) * TICK
    agent.feed([line(start + i * TICK) for i in range(WARMUP + 10)])      # the backlog, at once
    send(agent, 12)
    last = send(agent, 16, step=8.0)[-1]        # then the sender falls silent
    wait_for(lambda: [e for e in events(tmp) if e["kind"] == "alert" and e["event"] == "new"],
             "the alert opened by the step", 60, agent.proc)
    return last
