"""The live feeds' rejects said in our words, naming the payload, field, sensor or line (the chaos7 round's fuzz of
the MQTT and UDP sources, bench/fuzz_feeds.py: 31 of 370 rejects wanting on main at seeds 1–2, 0 now). Before:
- a named sensor's `{"value": null}` / `true` was `bad number — not a number: None` / `True` (Python's words, no field,
  no sensor); a JSON line's `"value": null` the same;
- a payload nested past 200 deep, or empty, or cut short, was `not a number or JSON: '…'`;
- a UDP line holding a control character was `Invalid control character at at character 24` (json's "at" twice);
- a UDP line not UTF-8 was read with its bytes replaced: `unknown sensor '��c'`, or a json error, the bytes unsaid;
- a reject of a datagram's second line named only the sender;
- a retained `[]` on a sensor's topic was `missing time` (a retained reading without "ts"), not the array it is.
The real MqttSource at a real Mosquitto on a free 127.0.0.1 port, and the real UdpSource on a free port."""
from __future__ import annotations

import json
import socket
import time

import paho.mqtt.publish as publish

from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from agent.sources.udp import UdpConfig, UdpSource
from conftest import wait_until
from recording_rejects import RecordingRejects, said_at
from mqtt_broker import broker, make_broker  # noqa: F401 — fixtures


MQTT_PAYLOADS = {       # topic under fz/ → (payload, reason, what its detail must say)
    "null": (b'{"value": null}', "bad number", "field 'value' (sensor 'a'): not a number: null"),
    "true": (b"true", "bad number", "the payload (sensor 'a'): not a number: true"),
    "deep": (b'{"value": ' + b"[" * 5000 + b"]" * 5000 + b"}", "bad payload", "nested too deep"),
    "cut": (b'{"value": 1', "bad payload", "Expecting ',' delimiter at the payload's end (cut short?)"),
    "empty": (b"", "bad payload", "an empty payload (a reading is a number"),
    "latin": (b"\xe91.5", "bad payload", "not UTF-8: byte 0xe9 at byte 1 of the payload"),
}


def test_a_named_sensors_bad_payloads_are_said_by_field_and_sensor(broker):
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1), topics={"fz/+": "a"}, qos=1)
    publish.single("fz/kept", b"[]", qos=1, retain=True, hostname="127.0.0.1", port=broker.port)
    rejects = RecordingRejects()
    source = MqttSource(cfg, ["a"], rejects)
    records = source.records()
    try:
        assert wait_until(lambda: source.reporter.connected)
        # a retained reading that is no number is said as such (was: `missing time`, a reading without "ts")
        assert wait_until(lambda: said_at(rejects, "mqtt fz/kept (retained)"))
        assert said_at(rejects, "mqtt fz/kept (retained)") == [("bad number", "the payload (sensor 'a'): not a number: "
                                                                            "an array")]
        messages = [(f"fz/{name}", payload, 1, False) for name, (payload, _, _) in MQTT_PAYLOADS.items()]
        messages.append(("fz/good", json.dumps({"value": 4.5, "ts": time.time()}), 1, False))
        publish.multiple(messages, hostname="127.0.0.1", port=broker.port)      # one connection: in this order
        good = next(records)        # the payloads come in order: all before it read
        assert good.values == {"a": 4.5}
        for name, (_, reason, detail) in MQTT_PAYLOADS.items():
            said = said_at(rejects, f"mqtt fz/{name}")
            assert len(said) == 1 and said[0][0] == reason and detail in said[0][1], (name, said)
            assert "None" not in said[0][1] and "True" not in said[0][1], said
    finally:
        source.close()
        list(records)


def test_a_datagrams_lines_are_named_and_one_not_utf8_said_so():
    rejects = RecordingRejects()
    source = UdpSource(UdpConfig(port=0), ["a"], rejects)
    records = source.records()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            now = time.time()
            out.sendto(json.dumps({"ts": now, "a": 1.0}).encode() + b'\n{"ts": 1, "a": ', ("127.0.0.1", source.port))
            latin, control = b'{"ts": %d, "a\xff": 1.0}' % now, b'{"ts": %d, "a\x01": 1.0}' % now
            out.sendto(latin, ("127.0.0.1", source.port))
            out.sendto(control, ("127.0.0.1", source.port))
            out.sendto(json.dumps({"ts": now + 1, "a": 2.0}).encode(), ("127.0.0.1", source.port))
            sender = f"udp 127.0.0.1:{out.getsockname()[1]}"
        first, second = next(records), next(records)
        assert (first.values, second.values) == ({"a": 1.0}, {"a": 2.0})
        assert first.origin == sender           # a record names its sender (said once per sender: live_pace)
        assert said_at(rejects, f"{sender} line 2 of 2") == [("bad json", "Expecting value at the line's end (cut "
                                                                        "short?)")], rejects.seen
        said = said_at(rejects, sender)
        at_latin, at_control = latin.index(b"\xff") + 1, control.index(b"\x01") + 1
        assert ("bad payload", f"not UTF-8: byte 0xff at byte {at_latin} of the line (the sender's text encoding? "
                "send UTF-8)") in said, said
        assert ("bad json", f"Invalid control character at character {at_control} of the line") in said, said
        assert not any("\ufffd" in detail or "at at" in detail for _, _, detail in rejects.seen), rejects.seen
    finally:
        source.close()
        list(records)
