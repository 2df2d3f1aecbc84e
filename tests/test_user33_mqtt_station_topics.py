"""A roadside loop controller publishes one JSON object per station on a topic of its own, its readings under the
controller's names (`{"ts": …, "flow": 12, "occ": 3.1, "speed": 97}` on rsu/loops/K012): user33 could not map that
to the agent's sensors (K012_flow, …) — `'*'` took `flow` for a sensor's name (`unknown sensor 'flow' (did you mean
'K022_flow'?)`), a topic mapped to one sensor wants a number. A name pattern `K012_*` now puts each of the payload's
names in the place of its `*`. And a bad JSON payload is said as a payload, not a line.

Real parts: a real Mosquitto, the real MqttSource, mosquitto_pub as the controller; configs checked by the real
loader."""
from __future__ import annotations

import json
import subprocess
import threading

import pytest

from agent import config as config_mod
from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from agent.typed import ConfigError
from conftest import wait_until
from mqtt_broker import broker, make_broker  # noqa: F401 — fixtures

SENSORS = ["K012_flow", "K012_occ", "K012_speed", "K014_flow", "K014_occ", "K014_speed"]


def publish(port: int, topic: str, payload: str) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-q", "1", "-t", topic, "-m", payload],
                   check=True)


def test_a_stations_json_object_is_read_as_its_sensors_through_a_name_pattern(broker):
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1),
                           topics={"rsu/loops/K012": "K012_*", "rsu/loops/K014": "K014_*"}, qos=1)
    rejects = Rejects()
    source = MqttSource(cfg, SENSORS, rejects)
    records = source.records()
    try:
        assert wait_until(lambda: source.reporter.connected)
        publish(broker.port, "rsu/loops/K012", json.dumps({"ts": 1796630400, "flow": 12, "occ": 3.5, "speed": 97}))
        publish(broker.port, "rsu/loops/K014", json.dumps({"ts": 1796630400, "values": {"flow": 14}}))
        publish(broker.port, "rsu/loops/K014", '{"ts": 1796630430, "flow": 1')          # cut short
        publish(broker.port, "rsu/loops/K012", json.dumps({"ts": 1796630430, "sensor": "speed", "value": 95}))
        got: list = []
        reader = threading.Thread(target=lambda: got.extend(records), daemon=True)
        reader.start()
        wait_until(lambda: len(got) >= 3 and rejects.total >= 1, timeout=30)
        assert [(r.ts, r.values) for r in got] == [
            (1796630400.0, {"K012_flow": 12.0, "K012_occ": 3.5, "K012_speed": 97.0}),
            (1796630400.0, {"K014_flow": 14.0}),
            (1796630430.0, {"K012_speed": 95.0})]
        assert rejects.as_dict() == {"bad json": 1}
        where, detail = rejects.first["bad json"]
        assert where == "mqtt rsu/loops/K014"
        assert "payload's end (cut short?)" in detail and "line" not in detail
    finally:
        source.close()


def agent_dict(topics: dict) -> dict:
    return {"tick_s": 30, "topology": "corridor", "sensors": SENSORS,
            "sources": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": 1883}, "topics": topics}],
            "sinks": []}


def test_a_name_pattern_is_checked_against_the_sensors():
    cfg = config_mod.from_dict(agent_dict({"rsu/loops/K012": "K012_*", "rsu/loops/K014": "K014_*"}))
    assert cfg.sources[0].sensor_refs() == []
    assert cfg.sources[0].carried() == ([], True)       # the payload names its sensors: no unfed-sensor note
    with pytest.raises(ConfigError) as exc:
        config_mod.from_dict(agent_dict({"rsu/loops/K012": "K012_*", "rsu/loops/K016": "K016_*",
                                         "rsu/loops/x": "*_*"}))
    said = str(exc.value)
    assert "sources[0].topics.rsu/loops/K016: 'K016_*' names no sensor of `sensors`" in said
    assert "sensor 'K016_flow'" in said
    assert "sources[0].topics.rsu/loops/x: '*_*': one `*` at most" in said
    assert "K012" not in said
