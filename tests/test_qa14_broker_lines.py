"""What the agent says when an established broker connection ends: why, in words an operator can
act on — not paho's 'Unspecified error' (its code for a socket closed without a DISCONNECT)."""
from __future__ import annotations

import logging

from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from conftest import wait_until
from mqtt_broker import broker, make_broker  # noqa: F401 — fixtures


def test_a_broker_that_goes_away_is_said_to_have_gone_away(broker, caplog):
    # On the old code: 'MQTT source: cannot use broker …: connection lost (Unspecified error); …'.
    caplog.set_level(logging.INFO, logger="stad")
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1), topics={"plant/pump/pressure": "pressure"}, qos=1)
    source = MqttSource(cfg, ["pressure"], Rejects())
    records = source.records()
    try:
        assert wait_until(lambda: source.reporter.connected)
        broker.kill()
        assert wait_until(lambda: not source.reporter.connected)
        assert wait_until(lambda: any("connection lost" in r.getMessage() for r in caplog.records))
        lost = [r.getMessage() for r in caplog.records if "connection lost" in r.getMessage()]
        assert "Unspecified error" not in lost[0], lost
        # (mqttsrc6: with how long the session held)
        assert " s into the session (the broker went away or the network dropped: the connection closed without a " \
               "reason from the broker)" in lost[0], lost
    finally:
        source.close()
        list(records)
