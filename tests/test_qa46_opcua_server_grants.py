"""What a plant user's OPC UA server does to the agent that the config cannot foresee, against a real asyncua server.

A server grants a publishing interval slower than asked (servers have a floor): at one slower than a tick each
sensor's value reaches the agent once a publish and the ticks between carry it forward, past
window.carry_forward_s a `source` fault that blames the server (qa46: at 8 s under a 1-s tick the warm-up read flat
steps, threshold 0.000, and that fault opened with the server up) — said before only as INFO `revised the
publishing interval to 8000 ms`. A node that goes Bad while another node's Bad status flaps was left unnamed once
the flapping one had used the rejects' first lines. Real parts: a real `stad-agent run` subscribed to a real
asyncua server process (tests/opcua_server.py: `floor N`, `bad NAME`, `flap NAME`), waits on conditions only."""
from __future__ import annotations

import re
import signal
import time

import pytest

from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture
from opcua_agent import Agent, server  # noqa: F401 — a pytest fixture

pytest.importorskip("asyncua", reason="the opcua extra is not installed")

#: the server's floor: 4 ticks of the Agent's 0.5 s
FLOOR_MS = 2000


def warnings(agent: Agent, pattern: str) -> list[str]:
    return [line for line in (agent.tmp / "agent.err").read_text().splitlines()
            if "WARNING" in line and re.search(pattern, line)]


def test_a_publishing_interval_granted_slower_than_a_tick_is_said_once(tmp_path, server, make_broker):
    server.command(f"floor {FLOOR_MS}")
    agent = Agent(tmp_path, server, make_broker(), node="opc-slow")
    slow = rf"publishes every {FLOOR_MS} ms \(asked 100 ms\), slower than a tick \(0\.5 s\)"
    try:
        agent.wait(lambda: warnings(agent, slow), "the warning of a publishing interval slower than a tick", 120)
        line = warnings(agent, slow)[0]
        assert "once every 2 s" in line and "set tick_s to 2 s or more" in line, line
        # the server ends the subscription; the one made again is granted the same: not said again
        server.proc.send_signal(signal.SIGUSR1)
        assert server.proc.stdout.readline().strip() == "ENDED 1"
        agent.wait(lambda: (tmp_path / "agent.err").read_text().count("subscribed to 3 node(s)") >= 2,
                   "subscribed again", 120)
    finally:
        assert agent.stop() == 0
    assert len(warnings(agent, slow)) == 1, warnings(agent, slow)


def test_a_node_that_goes_bad_is_named_while_another_flaps(tmp_path, server, make_broker):
    # accel1's status flaps Bad / Good at every write: its rejects use the first lines of 'opcua bad status' (5), after
    # which the rejects say one line of a reason a minute, the one reject that comes then. pressure then goes Bad
    # for good: one notification. On the old code it was never named (its sensor only `missing`, later).
    agent = Agent(tmp_path, server, make_broker(), node="opc-bad")
    started = time.monotonic()

    def bad_count() -> int:
        return (agent.last_health() or {}).get("rejected", {}).get("opcua bad status", 0)

    try:
        agent.wait(lambda: agent.records_in() > 0, "readings", 120)
        server.command("flap accel1")
        agent.wait(lambda: bad_count() > 6, "accel1's flapping Bad status counted past the rejects' first lines", 120)
        server.command("bad pressure")
        agent.wait(lambda: warnings(agent, r"nodes\.pressure 'ns=2;s=Skid1\.pressure'.*BadSensorFailure"),
                   "a warning naming pressure's Bad status", 60)
        server.command("good pressure")
        agent.wait(lambda: re.search(r"nodes\.pressure 'ns=2;s=Skid1\.pressure' is Good again",
                                     (tmp_path / "agent.err").read_text()), "pressure Good again, said", 60)
    finally:
        server.command("good accel1")
        assert agent.stop() == 0
    # the flapping node said once a minute at most, not at each of its Bad notifications
    most = 2 + (time.monotonic() - started) / 60
    flaps = warnings(agent, r"nodes\.accel1 .*BadSensorFailure")
    back = [line for line in (tmp_path / "agent.err").read_text().splitlines()
            if "nodes.accel1 'ns=2;s=Skid1.accel1' is Good again" in line]
    assert 1 <= len(flaps) <= most and len(back) <= most, (flaps, back)
