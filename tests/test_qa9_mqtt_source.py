"""The MQTT source under hostile payloads, through a real mosquitto: a payload far beyond any
reading (a broker passes up to 256 MB) is counted as `payload too long` and never decoded or
parsed; binary garbage and deeply nested JSON are counted; the source goes on reading. And a
client built by agent/mqtt_client.py survives a callback that raises (logged, not fatal)."""
from __future__ import annotations

import json
import subprocess

from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from conftest import wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures

SENSORS = ["pressure", "flow"]


def publish_file(port: int, topic: str, path) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-q", "1", "-t", topic, "-f", str(path)],
                   check=True)


def test_huge_binary_and_nested_payloads_are_counted_and_the_source_reads_on(tmp_path, broker):
    # On the old code there was no bound: the 1.9 MB object below was decoded, parsed into 100,000
    # readings and handed on as a record (a 36 MB one held ~300 MB for seconds).
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1),
                           topics={"plant/any": "*", "plant/pump/pressure": "pressure"}, qos=1)
    assert cfg.max_payload_bytes == 1 << 20
    rejects = Rejects()
    source = MqttSource(cfg, SENSORS, rejects)
    records = source.records()
    assert wait_until(lambda: source.reporter.connected)

    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"ts": 1767592800, "pressure": 1.0, **{f"x{i}": i for i in range(100_000)}}))
    assert huge.stat().st_size > cfg.max_payload_bytes
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 8)
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 200_000 + "]" * 200_000)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"ts": 1767592801, "flow": 2.5}))
    for topic, path in [("plant/any", huge), ("plant/any", garbage), ("plant/pump/pressure", garbage),
                        ("plant/any", nested), ("plant/pump/pressure", nested), ("plant/any", good)]:
        publish_file(broker.port, topic, path)

    first = next(records)
    assert (first.ts, first.values) == (1767592801.0, {"flow": 2.5})
    assert wait_until(lambda: rejects.total == 5)
    assert rejects.as_dict()["payload too long"] == 1
    assert rejects.as_dict()["bad payload"] == 3        # not UTF-8 twice; nested, not a number, once
    assert rejects.as_dict()["bad json"] == 1           # nested, on the '*' topic
    source.close()
    assert list(records) == []


def test_a_callback_that_raises_is_logged_and_the_client_goes_on(broker, caplog):
    # paho re-raises a callback's exception by default, which ends its network thread: on the old
    # code the client then never received (or, for the sink, delivered) anything again, with no word.
    import logging
    import threading
    import paho.mqtt.publish as publish
    from agent.mqtt_client import build_client, connect
    cfg = BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1, reconnect_max_s=1)
    client = build_client(cfg, "qa9-callback")
    got: list[bytes] = []
    subscribed = threading.Event()

    def on_message(client, userdata, msg):
        got.append(msg.payload)
        if len(got) == 1:
            raise RuntimeError("a bug in a callback")
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe("qa9/t", qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    with caplog.at_level(logging.ERROR, logger="stad.mqtt"):
        connect(client, cfg)
        client.loop_start()
        try:
            assert wait_until(subscribed.is_set)
            for payload in (b"one", b"two"):
                publish.single("qa9/t", payload, qos=1, hostname="127.0.0.1", port=broker.port)
            assert wait_until(lambda: got == [b"one", b"two"]), got
        finally:
            client.disconnect()
            client.loop_stop()
    failures = [r for r in caplog.records if "Caught exception in on_message" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info and "a bug in a callback" in str(failures[0].exc_info[1])
