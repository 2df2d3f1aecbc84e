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

from agent.sinks.mqtt import MqttSink
from conftest import alert_event, fault_event, wait_until
from mqtt_acl import Watcher, gateway_sink, make_acl_broker  # noqa: F401 — make_acl_broker: a pytest fixture

NODE, SITE = "gw-7", "plant-a"
BASE = f"stad/{SITE}/{NODE}"


def open_sink(tmp_path, port: int, protocol: str = "5") -> MqttSink:
    return gateway_sink(tmp_path, port, NODE, SITE, protocol)


def watcher(port: int) -> Watcher:
    return Watcher(port, f"{BASE}/#")


def users(gw_writes: list[str]) -> dict:
    return {"gw": {"write": gw_writes}, "watch": {"read": [f"{BASE}/#", "marker"], "write": ["marker"]}}


def test_refused_faults_status_and_health_are_said_by_topic_and_kept_in_health(tmp_path, make_acl_broker, caplog):
    caplog.set_level(logging.INFO, logger="stad.sink.mqtt")
    broker = make_acl_broker(users([f"{BASE}/alerts"]))         # alerts only: no faults, status, health
    watch = watcher(broker.port)
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
    watch = watcher(broker.port)
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
    watch = watcher(broker.port)
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

