"""A device on a 0.25-s cadence fed to a real agent on stdin, a step on `a` that opens an alert, and the first life
that leaves that alert open at a kill -9: shared by the tests of an alert open across a restart whose gap refills
the window (tests/test_clock25_kill_alert_open.py, tests/test_clock28_upgrade_mid_refill.py).

Why the config and the sender are as they are (clock26; both causes in the tests, the agent doing what its rules say):
- This data's normal scores reach the calibrated threshold at some phases of its sawtooth (~2.58 against 2.61: the
  threshold is fitted on 36 ticks of it); a life starts at a phase set by the wall clock. The threshold's
  floor (`min_threshold` 10: scores on normal ticks ≤ 2.6, with a carried one ≤ 4.9, on the step ≥ 111) keeps
  every normal tick calm at every phase.
- A sender that stamped the tick this host's clock was in skipped one when descheduled on a loaded machine for more
  than a tick; the agent carried the last reading over it, and on this data a repeated reading scores 4–5: a false
  alert before the step. `Sender` never skips."""
from __future__ import annotations

import json
import threading
import time

import yaml

from agent.checkpoint import CHECKPOINT_FILE, decode
from conftest import wait_for
from payloads import check_jsonl
from restart_helpers import AgentProcess
from silence_feed import TICK, seconds

STEPS = 16                  # a 4-s window: the downtime in the tests is longer
WARMUP = 120


def line(k: int, step: float = 0.0) -> str:
    """The reading of tick k: stamped on the tick (as a device on a fixed cadence stamps), its values following it
    (agent_turns.record's) — live data sent on a loaded machine is scored as the warm-up's backlog was."""
    return json.dumps({"ts": round(k * TICK, 3), "a": 10 + (k * 7919 % 13) / 13 + step,
                       "b": 5 + (k * 104729 % 17) / 17}) + "\n"


class Sender:
    """The device: one reading a tick, every tick, stamped with its tick, sent once this host's clock is in that
    tick. Behind (this process descheduled on a loaded machine, or the agent down while the device buffered) it
    sends the ticks it owes at once, as a device sends what it buffered — never skipping one: a skipped tick is a
    carried-forward reading to the agent, an anomaly on this data (the module's docstring)."""

    def __init__(self, k: int | None = None):
        self.k = k          # the last tick sent (None: none yet — the first is the one this host's clock is in)

    def send(self, agent: AgentProcess, n: int, step: float = 0.0) -> list[float]:
        cadence = threading.Event()
        stamps = []
        for _ in range(n):
            self.k = int(time.time() / TICK) if self.k is None else self.k + 1
            cadence.wait(max(0.0, self.k * TICK - time.time()))     # the device's cadence: the input
            stamps.append(self.k * TICK)
            agent.feed([line(self.k, step)])
        return stamps


def write_config(tmp, clear_ticks: int):
    """A numpy agent on stdin, the device's two sensors, a 16-tick window, a checkpoint every second; its path."""
    cfg = tmp / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "node": {"id": "gw-k", "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": ["a", "b"],
        "sources": [{"type": "stdin"}],
        # (lateness: slack for a loaded machine, ci54)
        "window": {"steps": STEPS, "carry_forward_s": 4 * TICK, "lateness_ticks": 8},
        "warmup": {"ticks": WARMUP}, "scoring": {"chain": ["numpy"]},
        "threshold": {"min_threshold": 10.0},       # above every normal tick's band, under the step's (docstring)
        "alerts": {"min_duration_ticks": 2, "clear_ticks": clear_ticks, "cooldown_ticks": 2,
                   "update_interval_s": 3600},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": 1}))
    return cfg


def alerts(tmp) -> list[dict]:
    path = tmp / "alerts.jsonl"
    return [e for e in check_jsonl(path) if e["kind"] == "alert"] if path.exists() else []


def checkpointed(tmp) -> tuple[dict, dict] | None:
    """The checkpoint's (header, state); None when there is none yet."""
    path = tmp / "state" / CHECKPOINT_FILE
    return decode(path.read_bytes()) if path.exists() else None


def checkpointed_alert(tmp) -> str | None:
    """The alert_id open in the checkpoint (None: none, or no checkpoint yet). Read, not told by its time: the
    checkpoint holding the alert may be written in the same moment as the alert's line, before a time taken
    after that line (a coarse file clock), and with the sender idle none comes after it (clock26)."""
    found = checkpointed(tmp)
    opened = None if found is None else found[1]["pipeline"]["alerts"]["open"]
    return None if opened is None else opened["alert_id"]


def warmed_up(agent) -> "Sender":
    """A device whose warm-up backlog went to `agent` at once, then 12 ticks on its cadence: the Sender, at its next
    tick."""
    agent.ready()
    device = Sender(int(time.time() / TICK) - WARMUP - 10)
    agent.feed([line(device.k + i) for i in range(WARMUP + 10)])      # the backlog, at once
    device.k += WARMUP + 9
    device.send(agent, 12)
    return device


def alert_open_then_killed(tmp, cfg) -> tuple[str, float]:
    """Warm-up backlog, normal data, the step (an alert opens), a checkpoint after it, the step on for longer
    than the window after that checkpoint, kill -9: (the alert's id, when it was killed)."""
    first = AgentProcess(tmp, cfg, "run1")
    try:
        device = warmed_up(first)
        stepped = device.send(first, 12, step=8.0)[0]
        opened = wait_for(lambda: [e for e in alerts(tmp) if e["event"] == "new"], "the alert opened by the step",
                          60, first.proc)[0]
        assert [e["event"] for e in alerts(tmp)] == ["new"] and seconds(opened["start"]) >= stepped - TICK, opened
        wait_for(lambda: checkpointed_alert(tmp) == opened["alert_id"], "a checkpoint with the alert open", 60,
                 first.proc)
        device.send(first, STEPS + 8, step=8.0)     # the step goes on: ticks the next start will not have seen
    finally:
        killed = time.time()
        first.kill()                        # SIGKILL
    return opened["alert_id"], killed


def one_alert(evs: list[dict], alert_id: str) -> None:
    assert {e["alert_id"] for e in evs} == {alert_id}, [(e["alert_id"], e["event"], e["seq"]) for e in evs]
    assert [e["seq"] for e in evs] == list(range(len(evs))), [(e["event"], e["seq"]) for e in evs]
    assert [e["event"] for e in evs].count("new") == 1
