"""`alert_expiry_s` is an MQTT 5 Message Expiry Interval, a four-byte unsigned integer: bounded 1..4294967295 at its
key (review39). It had no bound: check-config took -5 or 2**32, and every alert's PUBLISH then failed to pack
(paho's struct.error, caught and logged by the sink's worker as `MQTT sink worker failed`): the alert stayed in the
outbox and never reached the broker, retried and failed again for ever, while faults and health went out."""
from __future__ import annotations

import pytest

from agent.typed import ConfigError
from conftest import alert_event
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures
from test_mqtt_sink import BASE, open_sink, sink_config


@pytest.mark.parametrize("expiry", [-5, 0, 2 ** 32])
def test_an_expiry_mqtt_cannot_carry_is_refused_at_its_key(tmp_path, expiry):
    with pytest.raises(ConfigError) as err:
        sink_config(tmp_path, 1883, alert_expiry_s=expiry)
    assert "sinks[0].alert_expiry_s" in str(err.value), err.value


def test_the_longest_expiry_goes_out_with_the_alert(tmp_path, broker):
    collector = Collector(broker.port, [f"{BASE}/alerts"], persistent=False)
    collector.wait_subscribed()
    sink = open_sink(tmp_path, broker.port, alert_expiry_s=2 ** 32 - 1)
    try:
        sink.emit(alert_event("gw-7-a", 0, "new"))
        assert collector.wait_for(lambda m: len(m) >= 1), sink.stats()
        [alert] = collector.on("/alerts")
        assert alert.properties.MessageExpiryInterval > 2 ** 32 - 100
    finally:
        sink.close()
        collector.close()
