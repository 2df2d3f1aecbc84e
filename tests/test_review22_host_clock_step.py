"""This host's clock stepped forward while the agent runs on a live source stamped with it (review22).

A roadside relay on the gateway stamps the controllers' reports with the gateway's clock (or sends
none, and the agent stamps them on arrival). NTP steps that clock forward a day (an RTC that lost its
battery, corrected). No real time passed and no report was missed — but the wall-clock flush
(`window.idle_flush_s`) closed the day it skipped as an outage: every sensor raised `missing` (later
`cleared after 86456s`), the window filled with empty ticks, the open alert ended `cleared` with a
score of 0.00 while the incident went on, nothing was counted as a time-base move and stderr said
nothing (seen on a lab gateway under libfaketime). The running agent tells a step of the host's clock
from time passing by the monotonic clock: the ticks the step skipped are not the data's, no sensor is
missing for them, the times the pipeline keeps move with the step (else the threshold's quiet time ran out
across it, the alert counted as long-lasting was learned as normal: it ended `cleared` a window later), the
alert goes on, and the step is said and counted as a time-base move.

A real agent (its run loop in a thread) on a real UDP socket; the host's clock is `Agent(clock=)`,
this test's wall clock plus an offset the test steps, as NTP would.
"""
from __future__ import annotations

import json
import logging
import socket
import threading

from agent import config
from agent.service import Agent
from conftest import wait_for
from host_clock_lab import HostClock, start_of

DAY_S = 86_400.0


def events(tmp_path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_forward_step_of_the_host_clock_is_a_move_not_an_outage(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad")
    cfg = config.from_dict({
        "node": {"id": "gw-ntp", "site": "lab"}, "sensors": ["a", "b", "c"], "tick_s": 0.2, "topology": "group",
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
        "window": {"steps": 16, "carry_forward_s": 2.0, "lateness_ticks": 1, "idle_flush_s": 1.0},
        "warmup": {"ticks": 60}, "scoring": {"chain": ["numpy"]},
        "threshold": {"quiet_s": 600},          # nothing learned for 10 min after a tick above the threshold
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 4, "cooldown_ticks": 2, "update_interval_s": 3600},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state"), "checkpoint_s": 3600}, base_dir=str(tmp_path))
    host = HostClock()
    agent = Agent(cfg, clock=host)
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    anomaly = threading.Event()
    done = threading.Event()

    def relay():
        """The relay on the gateway: a report a tick, stamped with the host's clock."""
        i = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            while not done.is_set():
                i += 1
                # The incident moves a and b together, far past their spread (a stall of this thread on a busy
                # machine in the warm-up can lift the threshold several-fold: at +8 on `a` alone, 1 run in ~13
                # under load raised no alert in 120 s).
                up = 40.0 if anomaly.is_set() else 0.0
                values = {"a": 10 + (i * 7919 % 13) / 13 + up, "b": 5 + (i * 104729 % 17) / 17 + up,
                          "c": 1 + (i * 31 % 7) / 7}
                out.sendto(json.dumps({"ts": host(), "values": values}).encode(), ("127.0.0.1", agent.sources[0].port))
                done.wait(0.2)

    sender = threading.Thread(target=relay, daemon=True)
    sender.start()
    try:
        wait_for(lambda: agent.pipeline.warm, "warm-up done", timeout=120, proc=None)
        anomaly.set()
        wait_for(lambda: any(e.get("event") == "new" for e in events(tmp_path)), "an alert", timeout=120, proc=None)
        [new] = [e for e in events(tmp_path) if e.get("event") == "new"]
        ticks = agent.pipeline.ticks
        host.offset += DAY_S                                    # NTP steps the clock a day forward
        wait_for(lambda: agent.pipeline.ticks >= ticks + 40, "40 ticks after the step", timeout=120, proc=None)
    finally:
        done.set()
        agent.stop("test")
        runner.join(120)
        sender.join(10)
    assert not runner.is_alive()
    after = events(tmp_path)
    # On the old code: a `missing` fault for a, b and c, and the alert ended `cleared` (score 0) at the step.
    assert not [e for e in after if e.get("kind") == "missing"], after
    # The incident goes on across the step: its alert does not end. (After the first fix it still ended
    # `cleared` a window later: its timers had run out across the day, the scorer learned the incident as
    # normal; the state's times now move with the step.)
    ours = [e for e in after if e.get("alert_id") == new["alert_id"]]
    assert not [e for e in ours if e["event"] == "end"], [(e["event"], e["ts"], e.get("reason"), e["score"]) for e in ours]
    # Its start moved with the clock: on the corrected clock, that is when it began. The move is the ticks
    # skipped on the data's grid, so within a tick of the step (the first record after it may land in the
    # next tick when this machine is busy).
    assert agent.pipeline.alerts.active
    assert abs(agent.pipeline.alerts.open.start - start_of(new) - DAY_S) <= cfg.tick_s + 1e-3
    assert agent.aligner.moves["forward"] == 1, agent.aligner.moves
    said = [r.getMessage() for r in caplog.records if "this host's clock stepped" in r.getMessage()]
    assert len(said) == 1 and "+24.0 h" in said[0], said
