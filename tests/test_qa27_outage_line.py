"""One broker outage, one warning (qa27; review22's #8).

A broker that went away was said twice: `connection lost (…)`, then, a second later, `broker unreachable
(Connection refused)` — one outage, two warnings. The second's cause is worth having (the broker's port
closed: the broker is down, not the network), so it is folded into the first: one line, said when the
first reconnect has met it. A real MqttSource against a real Mosquitto, killed.
"""
from __future__ import annotations

import logging
import re

from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from conftest import wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "cannot use broker" in
            r.getMessage()]


def open_source(port: int) -> MqttSource:
    broker = BrokerConfig(host="127.0.0.1", port=port, reconnect_min_s=0.1, reconnect_max_s=0.5)
    return MqttSource(MqttSourceConfig(broker=broker, topics={"plant/a": "a"}, qos=1), ["a"], Rejects())


def test_a_broker_that_goes_away_is_one_warning_with_why_it_cannot_reconnect(broker, caplog):
    caplog.set_level(logging.INFO, logger="stad")
    source = open_source(broker.port)
    records = source.records()
    try:
        assert wait_until(lambda: source.reporter.connected, 60)
        broker.kill()
        assert wait_until(lambda: source.rejects.counts["mqtt unreachable"] >= 5, 60), source.rejects.counts
        said = warnings(caplog)
        assert len(said) == 1, said
        # (mqttsrc6: with how long the session held)
        assert re.fullmatch(rf"MQTT source: cannot use broker 127\.0\.0\.1:{broker.port}: connection lost \d+ s into "
                            r"the session \(the broker went away or the network dropped: the connection closed without a "
                            r"reason from the broker\); reconnecting: broker unreachable \(Connection refused\); no "
                            r"samples until it is back", said[0]), said
        assert source.peer == (False, "broker unreachable (Connection refused)")
        broker.start()
        assert wait_until(lambda: source.reporter.connected, 60)
        assert len(warnings(caplog)) == 1
        # (mqttsrc6: with how long it was away)
        assert any(re.fullmatch(rf"MQTT source: connected to 127\.0\.0\.1:{broker.port} \(back \d+ s after the loss "
                                r"noticed at \S+Z\)", r.getMessage()) for r in caplog.records)
    finally:
        source.close()
        list(records)
