"""An OPC UA server that goes away, against a real server: one `source` fault naming the server and the
sensors it carries, and one fault_end when it is back — not a `missing` fault per node; a node the
server drops is that sensor's fault; a server that serves the session but publishes nothing is lost.

Real parts: a real `stad-agent run` subscribed to three nodes of a real asyncua server process
(tests/opcua_server.py: SIGKILLed as a power cut, or stopped cleanly with SIGTERM, and started again on
the same port; driven by commands on its standard input to drop a node or stop publishing), its fault
and alert events in its jsonl file, its health through a real Mosquitto, its /metrics scraped. Every
wait is on a condition, with a deadline from the config's own intervals times a margin for a loaded
machine; never a fixed sleep."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture
from opcua_agent import CARRY_S, FAULTS, MARGIN, OPCUA, SENSORS, Agent, server  # noqa: F401 — a pytest fixture
from source1_events import metric, said

pytest.importorskip("asyncua", reason="the opcua extra is not installed")

ROOT = Path(__file__).resolve().parents[1]
FAULT_SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())
HEALTH_SCHEMA = json.loads((ROOT / "agent/schemas/health.schema.json").read_text())


def check_alert_lifecycle(alerts: list[dict]) -> None:
    """Per alert: seq 0, 1, … without gap, `new` first, at most one `end` and it last (a SIGTERM leaves one open)."""
    by_alert: dict[str, list[dict]] = {}
    for e in alerts:
        by_alert.setdefault(e["alert_id"], []).append(e)
    for alert_id, evs in by_alert.items():
        kinds = [e["event"] for e in evs]
        assert [e["seq"] for e in evs] == list(range(len(evs))), (alert_id, kinds)
        assert kinds[0] == "new" and kinds.count("new") == 1 and "end" not in kinds[:-1], (alert_id, kinds)


#: from the server gone to its sensors' silence decided: the heartbeat's timeout, the carry-forward, missing_s
GONE_S = OPCUA["check_interval_s"] + OPCUA["timeout_s"] + CARRY_S + FAULTS["missing_s"]
#: from the server back to readings: the longest reconnect delay, a connect, clear_s
BACK_S = OPCUA["reconnect_max_s"] + OPCUA["timeout_s"] + FAULTS["clear_s"]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_server_gone_is_one_source_fault_and_its_return_one_end(tmp_path, server, make_broker, how):
    broker = make_broker()
    agent = Agent(tmp_path, server, broker, node="opc-gw")
    try:
        agent.wait(lambda: agent.records_in() > 0 and agent.source_health().get("connected")
                   and metric(agent.metrics, agent.down) == "0.0", "readings, the source served as up", 60)
        assert agent.source_health() == {"down": False, "fault_id": None, "connected": True, "sensors": 3}
        server.kill() if how == "SIGKILL" else server.stop()
        agent.wait(lambda: any(e["kind"] == "source" for e in agent.events()), "the source fault", GONE_S * MARGIN)
        assert metric(agent.metrics, agent.down) == "1.0"
        agent.wait(lambda: agent.source_health()["down"], "health showing the source down", 60)
        assert agent.source_health()["connected"] is False
        jsonschema.validate(agent.last_health()["sources"], HEALTH_SCHEMA["properties"]["sources"])
        before = agent.records_in()
        server.start()                                          # back on the same port
        agent.wait(lambda: ("fault_end", "source", agent.label) in said(agent.events()), "the source's fault_end",
                   BACK_S * MARGIN)
        assert metric(agent.metrics, agent.down) == "0.0"
        agent.wait(lambda: agent.records_in() > before and not agent.source_health()["down"],
                   "readings again, health showing the source up", 60)
        assert agent.source_health()["connected"] is True
        assert agent.proc.poll() is None                        # it kept running through it
    finally:
        assert agent.stop() == 0
    events = agent.events()
    for e in events:
        jsonschema.validate(e, FAULT_SCHEMA)
    assert said(events) == [("fault", "source", agent.label), ("fault_end", "source", agent.label)], said(events)
    fault, end = events
    assert fault["source"] == agent.label and fault["sensors"] == SENSORS and end["sensors"] == SENSORS
    assert "stopped answering" in fault["evidence"]["summary"] and fault["evidence"]["connection"]
    assert end["fault_id"] == fault["fault_id"] and end["reason"] == "cleared" and end["evidence"]["back"]
    check_alert_lifecycle(agent.alerts())
    # asyncua 2.x logs each publish at INFO (~1 KB every publishing interval, 12 MB in 12 min here): kept out
    assert "Publish callback" not in (tmp_path / "agent.err").read_text()


@pytest.mark.parametrize("how", ["remove", "drop"])
def test_a_node_the_server_drops_is_that_sensors_fault_and_it_comes_back_with_the_node(tmp_path, server, make_broker,
                                                                                        how):
    # A PLC program download drops Skid1.temp_motor and puts it back. The server tells the item BadNodeIdUnknown
    # ('opcua bad status'), or (`drop`, asyncua's own delete) nothing: the silent node is read and the server says
    # it has no such node ('opcua bad node'). temp_motor's silence is its own `missing` fault — the server answers,
    # the other nodes flow. On the old code the node put back was never subscribed again (the server had deleted
    # the item with its node): temp_motor stayed missing until the agent or the server restarted.
    agent = Agent(tmp_path, server, make_broker(), node=f"opc-{how}")
    try:
        agent.wait(lambda: agent.records_in() > 0 and agent.source_health().get("connected"), "readings", 60)
        server.command(f"{how} temp_motor")
        agent.wait(lambda: ("fault", "missing", "temp_motor") in said(agent.events()), "temp_motor's missing fault",
                   (GONE_S + OPCUA["reconnect_max_s"]) * MARGIN)
        counted = "opcua bad status" if how == "remove" else "opcua bad node"
        agent.wait(lambda: (agent.last_health() or {}).get("rejected", {}).get(counted), "the dropped node counted", 60)
        assert agent.source_health()["connected"] is True and not agent.source_health()["down"]
        server.command("add temp_motor")
        agent.wait(lambda: ("fault_end", "missing", "temp_motor") in said(agent.events()),
                   "temp_motor back with its node", (OPCUA["reconnect_max_s"] + BACK_S) * MARGIN)
        assert agent.proc.poll() is None
    finally:
        if "temp_motor" in server.removed:
            server.command("add temp_motor")
        assert agent.stop() == 0
    events = agent.events()
    assert said(events) == [("fault", "missing", "temp_motor"), ("fault_end", "missing", "temp_motor")], said(events)
    assert events[1]["reason"] == "cleared"
    check_alert_lifecycle(agent.alerts())


#: asyncua re-makes a subscription silent 1.5 keep-alives (opcua.keepalive_s); the source gives the re-made one as long
def mute_s() -> float:
    from agent.sources.opcua import OpcUaConfig, keepalive_s
    return 3 * keepalive_s(OpcUaConfig(**OPCUA)) + OPCUA["check_interval_s"]


def test_a_server_that_publishes_nothing_is_a_server_lost(tmp_path, server, make_broker):
    # The session lives (the heartbeat read is answered) but the server's publishing engine hung: no change, no
    # keep-alive. On the old code asyncua's watchdog re-made the subscription every 1.5 keep-alives, as silent, and the
    # source said it was connected for ever (health `connected: true` under the source fault; a one-node source would
    # have been told as that sensor's `missing`). Now a subscription silent past mute_s() is the server lost:
    # the session is dropped and made again with the source's back-off, `connected` false until a publish arrives.
    agent = Agent(tmp_path, server, make_broker(), node="opc-mute")
    try:
        agent.wait(lambda: agent.records_in() > 0 and agent.source_health().get("connected"), "readings", 60)
        server.command("mute")
        agent.wait(lambda: any(e["kind"] == "source" for e in agent.events()), "the source fault", GONE_S * MARGIN)
        agent.wait(lambda: agent.source_health().get("connected") is False, "health: the source not connected",
                   mute_s() * MARGIN)
        assert agent.source_health()["down"] is True
        server.command("unmute")
        agent.wait(lambda: ("fault_end", "source", agent.label) in said(agent.events()), "the source's fault_end",
                   (mute_s() + BACK_S) * MARGIN)
        agent.wait(lambda: agent.source_health().get("connected") is True, "health: connected again", 60)
    finally:
        server.command("unmute")
        assert agent.stop() == 0
    assert said(agent.events()) == [("fault", "source", agent.label), ("fault_end", "source", agent.label)]
    assert (agent.last_health() or {}).get("rejected", {}).get("opcua unreachable", 0) >= 1
    check_alert_lifecycle(agent.alerts())
