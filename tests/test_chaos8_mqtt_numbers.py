"""An MQTT reading written in Python's number syntax, not a sender's (the chaos8 round): a plain payload `1_000` was
read as 1000 and `１２` (full-width digits) as 12 — float() takes underscores and every script's digits — and
`{"value": "1_000"}` the same. Now the one rule of every source (lines.parse_number) refuses them, said as a number
written another way, by field and sensor (a plain payload `bad payload`, as any that is no number nor JSON);
` 1e5 ` is read, `nan`/`infinity` are read and refused by the aligner as non-finite, as before. The real MqttSource
at a real Mosquitto on a free 127.0.0.1 port."""
from __future__ import annotations

import json
import time

import paho.mqtt.publish as publish

from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from conftest import wait_until
from recording_rejects import RecordingRejects, said_at
from mqtt_broker import broker, make_broker  # noqa: F401 — fixtures


REFUSED = {     # topic under nb/ → (payload, reason, what it says): a plain payload that is no number nor JSON is a
    # `bad payload` (as `abc`), said in a number's words; a JSON value that is no number a `bad number`, as before
    "underscore": (b"1_000", "bad payload", "the payload (sensor 'a'): not a number: '1_000' (an underscore: write "
                                            "the digits alone, 1000)"),
    "fullwidth": ("１２".encode(), "bad payload", "the payload (sensor 'a'): not a number: '１２' (digits other than "
                                               "0–9)"),
    "hex": (b"0x10", "bad payload", "the payload (sensor 'a'): not a number: '0x10' (hexadecimal: write it in "
                                    "decimal)"),
    "comma": (b"1,5", "bad payload", "the payload (sensor 'a'): not a number: '1,5' (a decimal comma? write a point)"),
    "in_json": (b'{"value": "1_000"}', "bad number", "field 'value' (sensor 'a'): not a number: '1_000' (an "
                                                     "underscore: write the digits alone, 1000)"),
}
READ = {"spaced": (b" 1e5 ", 1e5), "infinity": (b"infinity", float("inf"))}


def test_pythons_number_syntax_is_refused_by_field_and_sensor(broker):
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1), topics={"nb/+": "a"}, qos=1)
    rejects = RecordingRejects()
    source = MqttSource(cfg, ["a"], rejects)
    records = source.records()
    try:
        assert wait_until(lambda: source.reporter.connected)
        messages = [(f"nb/{name}", payload, 1, False) for name, (payload, *_) in {**REFUSED, **READ}.items()]
        messages.append(("nb/good", json.dumps({"value": 4.5, "ts": time.time()}), 1, False))
        publish.multiple(messages, hostname="127.0.0.1", port=broker.port)      # one connection: in this order
        read = [next(records) for _ in range(len(READ) + 1)]
        assert [r.values["a"] for r in read] == [v for _, v in READ.values()] + [4.5]
        for name, (_, reason, detail) in REFUSED.items():
            assert said_at(rejects, f"mqtt nb/{name}") == [(reason, detail)], (name, rejects.seen)
    finally:
        source.close()
        list(records)
