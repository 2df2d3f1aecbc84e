"""A lab for steps of this host's clock under a running agent (tests/test_clock22_*.py).

A real agent (its run loop in a thread) on a real UDP socket, fed a report a tick by a sender thread; the
host's clock is `Agent(clock=)`: this test's wall clock plus an offset the test steps, as NTP would, while
the boot-time clock the agent tells a step by goes on. The sender stamps its reports with that host clock (a
relay on the gateway, or records stamped on arrival) or with a clock of its own (a station's, not stepped).
An incident (a and b far past their spread: a stall of the sender on a busy machine in the warm-up can lift
the threshold several-fold) raises an alert before the step, so that what the step does to it is seen. A
reading is carried forward 30 s (150 ticks): a stall of the sender on a busy machine is no silence of its
sensors (past the carry-forward bound a silence ends the alert `no_data` once it lasts the window, 16 ticks),
while a span the flush wrongly closed (a day) still shows as `missing`.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import datetime

from agent import config
from agent.service import Agent
from conftest import wait_for

TICK_S = 0.2


class HostClock:
    """time.time() plus an offset: the host's clock, which an NTP step moves and the boot-time clock does not."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def start_of(event: dict) -> float:
    return datetime.fromisoformat(event["start"].replace("Z", "+00:00")).timestamp()


class ClockLab:
    """The agent, its host clock and the sender; `stamps`: "host" (a relay) or "own" (the sender's clock)."""

    def __init__(self, tmp_path, stamps: str, max_clock_skew_s: float = 300.0):
        self.path = tmp_path / "alerts.jsonl"
        self.cfg = config.from_dict({
            "node": {"id": "gw-ntp", "site": "lab"}, "sensors": ["a", "b", "c"], "tick_s": TICK_S,
            "topology": "group", "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
            "window": {"steps": 16, "carry_forward_s": 30.0, "lateness_ticks": 1, "idle_flush_s": 1.0,
                       "max_clock_skew_s": max_clock_skew_s},
            "warmup": {"ticks": 60}, "scoring": {"chain": ["numpy"]},
            "threshold": {"quiet_s": 600},
            "alerts": {"min_duration_ticks": 2, "clear_ticks": 4, "cooldown_ticks": 2, "update_interval_s": 3600},
            "sinks": [{"type": "jsonl", "path": str(self.path)}],
            "state_dir": str(tmp_path / "state"), "checkpoint_s": 3600}, base_dir=str(tmp_path))
        self.host = HostClock()
        self.stamp = self.host if stamps == "host" else time.time
        self.agent = Agent(self.cfg, clock=self.host)
        self.anomaly = threading.Event()
        self.done = threading.Event()
        self.runner = threading.Thread(target=self.agent.run, daemon=True)
        self.sender = threading.Thread(target=self._send, daemon=True)

    def _send(self) -> None:
        i = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            while not self.done.is_set():
                i += 1
                up = 40.0 if self.anomaly.is_set() else 0.0
                values = {"a": 10 + (i * 7919 % 13) / 13 + up, "b": 5 + (i * 104729 % 17) / 17 + up,
                          "c": 1 + (i * 31 % 7) / 7}
                out.sendto(json.dumps({"ts": self.stamp(), "values": values}).encode(),
                           ("127.0.0.1", self.agent.sources[0].port))
                self.done.wait(TICK_S)

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.exists() else []

    def alert_then_step(self, step_s: float, ticks_after: int = 40) -> dict:
        """Warm up, raise the incident's alert, step the host's clock by `step_s`, run `ticks_after` ticks
        more, stop; the alert's `new` event."""
        self.runner.start()
        self.sender.start()
        try:
            wait_for(lambda: self.agent.pipeline.warm, "warm-up done", timeout=120, proc=None)
            self.anomaly.set()
            wait_for(lambda: any(e.get("event") == "new" for e in self.events()), "an alert", timeout=120, proc=None)
            [new] = [e for e in self.events() if e.get("event") == "new"]
            ticks = self.agent.pipeline.ticks
            self.host.offset += step_s                      # NTP steps this host's clock
            wait_for(lambda: self.agent.pipeline.ticks >= ticks + ticks_after, f"{ticks_after} ticks after the step",
                     timeout=120, proc=None)
        finally:
            self.done.set()
            self.agent.stop("test")
            self.runner.join(120)
            self.sender.join(10)
        assert not self.runner.is_alive()
        return new

    def ours(self, new: dict) -> list[dict]:
        return [e for e in self.events() if e.get("alert_id") == new["alert_id"]]


def said(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def log_all(caplog) -> None:
    caplog.set_level(logging.INFO, logger="stad")
