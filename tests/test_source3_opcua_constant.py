"""An OPC UA value that does not change is a reading, not a missing sensor, against a real server.

OPC UA subscriptions report changes: a setpoint, a valve at rest or a coarse quiet sensor sends no notification
at all, only the subscription's keep-alives. The aligner must still see a reading each tick while the server
is alive and says the value holds, else a healthy plant is told as `missing` sensors (or, all of a source's
sensors at once, a `source` fault). Real parts: a real `stad-agent run` subscribed to three nodes of a real
asyncua server process (tests/opcua_server.py, `hold NAME` keeps a node at its value), its fault events in its
jsonl file, its health through a real Mosquitto. Waits are on conditions; the only span waited out is the one
in which a silence would have been judged (keep-alives, carry-forward and missing_s), and any fault in it
fails the test at once."""
from __future__ import annotations

import math
import time

import pytest

from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture
from opcua_agent import CARRY_S, FAULTS, MARGIN, OPCUA, SENSORS, Agent, frozen_until_stuck, server  # noqa: F401 — a pytest fixture
from source1_events import said

pytest.importorskip("asyncua", reason="the opcua extra is not installed")


def keepalive() -> float:
    from agent.sources.opcua import OpcUaConfig, keepalive_s
    return keepalive_s(OpcUaConfig(**OPCUA))


def test_a_constant_value_under_a_live_subscription_is_a_reading_not_a_missing_sensor(tmp_path, server, make_broker):
    # All three nodes held: the subscription sends keep-alives only. On the old code no reading reached the aligner
    # after the hold (the silent-node Read's value was dropped): past carry_forward_s + missing_s, one `source` fault
    # for the three sensors ("stopped answering") on a server that answered every request.
    agent = Agent(tmp_path, server, make_broker(), node="opc-hold")
    span = 3 * keepalive() + CARRY_S + FAULTS["missing_s"]     # a silence would have been judged well within this

    def no_fault() -> bool:
        assert not agent.events(), said(agent.events())
        return True

    try:
        agent.wait(lambda: agent.records_in() > 0 and agent.source_health().get("connected"), "readings", 60)
        for name in SENSORS:
            server.command(f"hold {name}")
        held_at = time.monotonic()
        agent.wait(lambda: no_fault() and time.monotonic() - held_at > span / 2, "half the span", span * MARGIN)
        half = agent.records_in()
        agent.wait(lambda: no_fault() and time.monotonic() - held_at > span and agent.records_in() > half + len(SENSORS),
                   "readings of the held values through the span", span * MARGIN)
        assert agent.source_health() == {"down": False, "fault_id": None, "connected": True, "sensors": 3}
    finally:
        for name in SENSORS:
            server.command(f"vary {name}")
        assert agent.stop() == 0
    assert said(agent.events()) == []


def test_a_constant_value_is_a_stuck_candidate_as_a_polled_one_is(tmp_path, server, make_broker):
    # One node held after it moved: the fault rules now see it read every tick at one value, as a polled Modbus
    # register that froze, so it is judged `stuck` after stuck_s (no more: a value that never varied is never stuck,
    # whatever the source) and never `missing`. On the old code it was `missing` past carry_forward_s + missing_s.
    stuck_s = 3
    agent = Agent(tmp_path, server, make_broker(), node="opc-stuck", fault_cfg={**FAULTS, "stuck_s": stuck_s})
    # held once warm: a sensor that did not move while the agent learned it is never judged stuck
    frozen_until_stuck(agent, server, lambda: (agent.last_health() or {}).get("warm") and agent.source_health().get("connected"),
                       "the agent warm on moving readings", (keepalive() + CARRY_S + FAULTS["missing_s"] + stuck_s) * MARGIN)
    assert said(agent.events()) == [("fault", "stuck", "temp_motor"), ("fault_end", "stuck", "temp_motor")]


#: the server's floor on the publishing interval: above the 100 ms the agent asks (OPCUA), so it revises it
FLOOR_MS = 200


def test_a_revised_publishing_interval_keeps_the_agents_keepalive(tmp_path, server, make_broker):
    # The server revises the publishing interval; asyncua then asks a keep-alive of 75 % of the session timeout
    # (45 min) and believes it, whatever the server granted: on the old code a server that stopped publishing
    # (session alive) was never taken for lost (3 such keep-alives), health `connected: true` under the source fault.
    # Now the agent asks its own keep-alive again for the revised interval and believes what the server grants
    # (asyncua's server keeps the count it granted at creation: 2 s / 100 ms = 20 × 200 ms = 4 s).
    server.command(f"floor {FLOOR_MS}")             # the agent's subscription is made after it: revised
    agent = Agent(tmp_path, server, make_broker(), node="opc-revised")
    granted_s = math.ceil(keepalive() * 1000 / OPCUA["publishing_interval_ms"]) * FLOOR_MS / 1000
    try:
        agent.wait(lambda: agent.records_in() > 0 and agent.source_health().get("connected"), "readings", 60)
        server.command("mute")
        agent.wait(lambda: agent.source_health().get("connected") is False, "health: the source not connected",
                   (3 * granted_s + OPCUA["check_interval_s"]) * MARGIN)
    finally:
        server.command("unmute")
        assert agent.stop() == 0
    assert (agent.last_health() or {}).get("rejected", {}).get("opcua unreachable", 0) >= 1
    assert f"revised the publishing interval to {FLOOR_MS} ms" in (tmp_path / "agent.err").read_text()
