"""The MQTT sink at a broker whose ACL will not let it publish a topic (qa27).

A real Mosquitto with its dynamic-security plugin (tests/mqtt_acl.py). What the broker does, seen here:
with MQTT 5 a denied PUBLISH gets PUBACK 0x87; with 3.1.1 a PUBACK like any other (the client cannot
tell); a Last Will on a denied topic is accepted in the CONNECT and dropped at the disconnect, unsaid.

Before: a refused fault event was logged as refused "alert events on …/alerts"; a refused status or
health was not looked at (no line, nothing in health) — and a refused status also loses the Last Will.
"""
from __future__ import annotations

import logging
import socket
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent import config
from agent.sinks.mqtt import MqttSink
from conftest import alert_event, fault_event, free_port, wait_until
from mqtt_acl import PASSWORD, make_acl_broker  # noqa: F401 — make_acl_broker: a pytest fixture

NODE, SITE = "gw-7", "plant-a"
BASE = f"stad/{SITE}/{NODE}"


def open_sink(tmp_path, port: int, protocol: str = "5") -> MqttSink:
    (tmp_path / "gw.pw").write_text(PASSWORD + "\n")
    broker = {"host": "127.0.0.1", "port": port, "protocol": protocol, "username": "gw",
              "password": {"file": str(tmp_path / "gw.pw")}, "reconnect_min_s": 0.1, "reconnect_max_s": 1.0}
    cfg = config.from_dict({"node": {"id": NODE, "site": SITE}, "sensors": ["pressure", "flow"],
                            "sources": [{"type": "stdin"}], "state_dir": str(tmp_path / "state"),
                            "sinks": [{"type": "mqtt", "broker": broker, "health_interval_s": 1}]})
    return MqttSink(cfg.sinks[0], cfg.sink_context())


class Watcher:
    """User `watch` subscribed to the gateway's topics and `marker`: what arrives, in order."""

    def __init__(self, port: int):
        self.messages: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{free_port()}")
        self.client.username_pw_set("watch", PASSWORD)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._note("(subscribed)", b"")
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(f"{BASE}/#", 1), ("marker", 1)])
        self.client.loop_start()
        assert self.wait(lambda ms: ("(subscribed)", b"") in ms)

    def _note(self, topic: str, payload: bytes) -> None:
        with self.cond:
            self.messages.append((topic, payload))
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg) -> None:
        self._note(msg.topic, msg.payload)

    def wait(self, predicate, timeout: float = 30.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(list(self.messages)), timeout)

    def after_marker(self, n: int) -> list[tuple[str, bytes]]:
        """Publish marker `n` and wait for it: what the broker routed before it has arrived before it."""
        self.client.publish("marker", str(n), qos=1)
        assert self.wait(lambda ms: ("marker", str(n).encode()) in ms)
        with self.cond:
            return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def users(gw_writes: list[str]) -> dict:
    return {"gw": {"write": gw_writes}, "watch": {"read": [f"{BASE}/#", "marker"], "write": ["marker"]}}


def test_refused_faults_status_and_health_are_said_by_topic_and_kept_in_health(tmp_path, make_acl_broker, caplog):
    caplog.set_level(logging.INFO, logger="stad.sink.mqtt")
    broker = make_acl_broker(users([f"{BASE}/alerts"]))         # alerts only: no faults, status, health
    watch = Watcher(broker.port)
    sink = open_sink(tmp_path, broker.port)
    try:
        sink.health({"tier": "numpy", "model": {"model_id": "numpy-ar3"}, "ticks": 1, "rejected": {}})
        sink.fault(fault_event(1))
        sink.emit(alert_event("gw-7-a", 0, "new"))
        assert watch.wait(lambda ms: any(t == f"{BASE}/alerts" for t, _ in ms))
        def errors() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]

        def settled() -> bool:      # (the worker counts, then logs; acknowledged rows are deleted in batches)
            return (sink.outbox.stats()["dropped"] == {"refused": 1} and sink.outbox.depth == 0
                    and len(sink.refused_topics) == 2 and len(errors()) == 3)
        assert wait_until(settled, 30), (sink.outbox.stats(), sink.refused_topics, errors())
        errors = errors()
        faults = [m for m in errors if "refuses fault events" in m]
        assert len(faults) == 1 and f"on {BASE}/faults: Not authorized (reason code 0x87)" in faults[0], errors
        assert "(first: gw-flow-1 #0 fault)" in faults[0], faults
        assert not [m for m in errors if "refuses alert events" in m], errors
        status = [m for m in errors if f"refuses publishes on {BASE}/status" in m]
        assert len(status) == 1 and "Last Will `offline`" in status[0], errors
        assert any(f"refuses publishes on {BASE}/health" in m for m in errors), errors
        stats = sink.stats()
        assert stats["refused_topics"] == {f"{BASE}/status": "Not authorized (reason code 0x87)",
                                           f"{BASE}/health": "Not authorized (reason code 0x87)"}
        assert stats["dropped"] == {"refused": 1} and stats["depth"] == 0

        # What the status line warns of: the connection drops (no DISCONNECT) and the broker drops the Will.
        closed = broker.log_text().count(f"Client stad-{SITE}-{NODE} closed its connection")
        sink.client.socket().shutdown(socket.SHUT_RDWR)
        assert wait_until(lambda: broker.log_text().count(f"Client stad-{SITE}-{NODE} closed its connection")
                          > closed, 30)
        got = watch.after_marker(1)
        assert not [m for m in got if m[0] == f"{BASE}/status"], got
    finally:
        sink.close()
        watch.close()


def test_the_same_status_allowed_carries_the_will(tmp_path, make_acl_broker):
    # The check above is only worth something if this drop, allowed, does publish the Will.
    broker = make_acl_broker(users([f"{BASE}/#"]))
    watch = Watcher(broker.port)
    sink = open_sink(tmp_path, broker.port)
    try:
        assert watch.wait(lambda ms: (f"{BASE}/status", b"online") in ms)
        assert sink.stats()["refused_topics"] == {}
        sink.client.socket().shutdown(socket.SHUT_RDWR)
        assert watch.wait(lambda ms: (f"{BASE}/status", b"offline") in ms)
    finally:
        sink.close()
        watch.close()


def test_mqtt_311_a_refused_alert_is_acknowledged_as_delivered_and_lost(tmp_path, make_acl_broker, caplog):
    """Not a fix: what protocol 3.1.1 cannot do, on the real broker. Mosquitto answers a denied QoS 1
    publish with an ordinary PUBACK; the sink takes it as delivered (deletes it, counts nothing): the
    sink's start warning and the docs say so, and recommend MQTT 5 with ACLs."""
    caplog.set_level(logging.WARNING, logger="stad.sink.mqtt")
    broker = make_acl_broker(users([f"{BASE}/status", f"{BASE}/health"]))     # alerts denied
    watch = Watcher(broker.port)
    sink = open_sink(tmp_path, broker.port, protocol="3.1.1")
    try:
        sink.emit(alert_event("gw-7-a", 0, "new"))
        assert wait_until(lambda: sink.outbox.depth == 0, 30)
        assert sink.outbox.dropped == {} and sink.refused_topics == {}
        got = watch.after_marker(1)
        assert not [m for m in got if m[0] == f"{BASE}/alerts"], got
        assert "protocol 3.1.1 cannot report a publish the broker refuses" in caplog.text
    finally:
        sink.close()
        watch.close()

