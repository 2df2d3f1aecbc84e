"""What the MQTT source says about its connection to the broker: a loss, the recovery, a flap.

The connection reporter (agent/mqtt_client.py) is shared by the sink, the source and `listen`; the
sink's own lines are tested in test_mqtt_sink.py. These run a real MqttSource against a real Mosquitto.
"""
from __future__ import annotations

import logging
import threading

from agent.broker import BrokerConfig
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from agent.records import Rejects
from conftest import wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures


def open_source(port: int, client_id: str | None = None, stable_s: float = 10.0) -> MqttSource:
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=port, reconnect_min_s=0.1, reconnect_max_s=1,
                                               client_id=client_id, stable_s=stable_s),
                           topics={"plant/pump/pressure": "pressure"}, qos=1)
    return MqttSource(cfg, ["pressure"], Rejects())


def said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("MQTT source:")]


def test_a_broker_restart_soon_after_connecting_is_said_lost_then_connected(broker, caplog):
    # review10: on qa10's flap detection (1db7055) a connection lost within 10 s of its CONNACK (here a
    # broker restarted soon after the source connected) made the next connect silent (debug) and kept the
    # problem, which only the sink's worker cleared: the source said "cannot use broker … no samples until
    # it is back" and never that it was back, and a later loss with the same reason was not said at all.
    caplog.set_level(logging.INFO, logger="stad")
    source = open_source(broker.port)
    records = source.records()
    try:
        assert wait_until(lambda: source.reporter.connected)
        broker.kill()
        assert wait_until(lambda: not source.reporter.connected)
        broker.start()
        assert wait_until(lambda: source.reporter.connected, 60)
        lines = said(caplog)
        assert any("connection lost" in m for m in lines), lines
        assert "connected to" in lines[-1], lines          # logged before `connected` is set
        assert source.reporter.problem is None
        broker.kill()                                       # lost again, for the same reason: said again
        assert wait_until(lambda: sum("connection lost" in m for m in said(caplog)) == 2, 60), said(caplog)
        broker.start()
        assert wait_until(lambda: source.reporter.connected, 60)
    finally:
        source.close()
        list(records)


def test_a_flap_that_ends_is_said_to_be_over_by_the_source(broker, caplog):
    # review10: two sources with one client id take the session from each other; the flap is said once
    # (qa10), and when one of them stops, the other says it holds again. On 1db7055 only the sink's worker
    # called settle(): the source said the flap and never that it was over.
    caplog.set_level(logging.INFO, logger="stad")
    # stable_s 4 (default 10): the takeovers come within ~1 s (reconnect_max_s 1), the end of the flap is said 4 s on.
    one, two = open_source(broker.port, "review10-twin", 4), open_source(broker.port, "review10-twin", 4)
    readers = [threading.Thread(target=lambda s=s: list(s.records()), daemon=True) for s in (one, two)]
    for reader in readers:                  # records() read as the agent reads it, each in its thread
        reader.start()
    try:
        assert wait_until(lambda: sum("same client id" in m for m in said(caplog)) == 2, 90), said(caplog)
        two.close()
        readers[1].join(30)
        assert wait_until(lambda: any("held for 4 s" in m for m in said(caplog)), 90), said(caplog)
    finally:
        one.close()
        two.close()
        for reader in readers:
            reader.join(30)
