"""`alert_expiry_s` is an MQTT 5 Message Expiry Interval, a four-byte unsigned integer: bounded 1..4294967295 at its
key (review39). It had no bound: check-config took -5 or 2**32, and every alert's PUBLISH then failed to pack
(paho's struct.error, caught and logged by the sink's worker as `MQTT sink worker failed`): the alert stayed in the
outbox and never reached the broker, retried and failed again for ever, while faults and health went out."""
from __future__ import annotations

from dataclasses import replace

import pytest

from agent import config
from agent.sinks.mqtt import MqttSink
from agent.typed import ConfigError
from conftest import alert_event
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures

BASE = "stad/plant-a/gw-7"


def sink_config(port: int, **mqtt):
    return config.from_dict({
        "node": {"id": "gw-7", "site": "plant-a"}, "sensors": ["pressure"], "sources": [{"type": "stdin"}],
        "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port}, **mqtt}]})


@pytest.mark.parametrize("expiry", [-5, 0, 2 ** 32])
def test_an_expiry_mqtt_cannot_carry_is_refused_at_its_key(tmp_path, expiry):
    with pytest.raises(ConfigError) as err:
        sink_config(1883, alert_expiry_s=expiry)
    assert "sinks[0].alert_expiry_s" in str(err.value), err.value


def test_the_longest_expiry_goes_out_with_the_alert(tmp_path, broker):
    collector = Collector(broker.port, [f"{BASE}/alerts"], persistent=False)
    collector.wait_subscribed()
    cfg = sink_config(broker.port, alert_expiry_s=2 ** 32 - 1)
    sink = MqttSink(cfg.sinks[0], replace(cfg.sink_context(), state_dir=str(tmp_path / "state")))
    try:
        sink.emit(alert_event("gw-7-a", 0, "new"))
        assert collector.wait_for(lambda m: len(m) >= 1), sink.stats()
        [alert] = collector.on("/alerts")
        assert alert.properties.MessageExpiryInterval > 2 ** 32 - 100
    finally:
        sink.close()
        collector.close()
