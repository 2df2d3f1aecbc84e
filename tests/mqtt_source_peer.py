"""An MQTT source on a real broker and a publisher beside it, for tests of what the source makes of
payloads (a key twice, a byte-order mark): the source subscribed (`plant/a` → sensor a, `plant/any` →
any sensor named in the payload; qos 1; sensors a and b), its records, its Rejects, and `publish`
(qos 1, waited for: in order on one session). Shared by test_qa21_bad_inputs and test_qa22_sources."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from agent.records import Record, Rejects
from conftest import wait_until


@contextmanager
def mqtt_source_and_publisher(port: int, client_id: str, rejects: Rejects | None = None, topics: dict | None = None,
                              sensors: tuple = ("a", "b"), **config) -> Iterator[
        tuple[Iterator[Record], Rejects, Callable[[str, bytes], None]]]:
    """(records, rejects, publish) on the broker at 127.0.0.1:`port`; the source and the publisher closed at the end.
    `rejects`: the source's (a new Rejects when None); `topics`, `sensors`: the source's own (qa56: a plant's topics);
    `config`: more of the source's keys (max_payload_bytes)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from agent.broker import BrokerConfig
    from agent.sources.mqtt import MqttSource, MqttSourceConfig
    rejects = Rejects() if rejects is None else rejects
    source = MqttSource(MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=port),
                                         topics=topics or {"plant/a": "a", "plant/any": "*"}, qos=1, **config),
                        list(sensors), rejects)
    records = source.records()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    try:
        assert wait_until(lambda: source.reporter.connected)
        publisher.connect("127.0.0.1", port)
        publisher.loop_start()
        yield records, rejects, lambda topic, payload: publisher.publish(topic, payload, qos=1).wait_for_publish()
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        source.close()
        list(records)
