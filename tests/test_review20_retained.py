"""A retained MQTT message without "ts" is not stamped "now" (review20's eighth finding, small).

A broker hands a subscriber the last retained message of a topic at every (re)subscribe: a reading the
publisher sent minutes or days before. The MQTT source stamped a reading without "ts" on arrival, so
after each reconnect an old value entered the window as a reading of this tick (and, for a sensor that
had since gone quiet, hid that it was missing). Now a retained reading without "ts" is counted as
`missing time` (its origin says `retained`) and a live one is stamped on arrival as before; a retained
reading that carries its own "ts" is taken at that time. Through a real Mosquitto."""
from __future__ import annotations

import subprocess

from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from conftest import wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures

SENSORS = ["pressure", "flow"]


def publish(port: int, topic: str, payload: str, retain: bool) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-q", "1", "-t", topic, "-m", payload]
                   + (["-r"] if retain else []), check=True)


def test_a_retained_reading_without_a_time_is_refused_and_one_with_a_time_is_taken(broker):
    publish(broker.port, "plant/pump/pressure", "4.5", retain=True)                   # no time: its age unknown
    publish(broker.port, "plant/json", '{"flow": 2.0}', retain=True)                   # no time either
    publish(broker.port, "plant/pump/flow", '{"value": 1.5, "ts": 1767592800}', retain=True)   # its own time
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1),
                           topics={"plant/pump/pressure": "pressure", "plant/pump/flow": "flow",
                                   "plant/json": "*"}, qos=1)
    rejects = Rejects()
    source = MqttSource(cfg, SENSORS, rejects)
    records = source.records()
    try:
        first = next(records)
        assert (first.ts, first.values) == (1767592800.0, {"flow": 1.5})
        assert wait_until(lambda: rejects.counts["missing time"] == 2)
        where, detail = rejects.first["missing time"]
        assert "retained" in where + detail, (where, detail)

        # A live reading without a time is stamped on arrival, as before.
        publish(broker.port, "plant/pump/pressure", "4.75", retain=False)
        live = next(records)
        assert live.values == {"pressure": 4.75} and live.ts > 1767592800.0
        assert rejects.counts["missing time"] == 2
    finally:
        source.close()
        list(records)
