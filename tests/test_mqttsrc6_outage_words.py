"""mqttsrc6: what the MQTT source says of its broker's outage — what happened, once, with the broker's address.

On 7b3e1fff a broker that went silent mid-session (SIGSTOP: its host hung, the connection still open) was said at
once as `connection lost (the broker disconnected us: Keep alive timeout); reconnecting: the broker accepted the
connection but did not answer the CONNECT within keepalive_s (a proxy or load balancer with no broker behind it?)`:
the broker had disconnected no one, no reconnect had been tried yet (paho tells a keep-alive timeout twice, and the
second was taken for an unanswered reconnect), and the hint sent the operator to look for a proxy. A real Mosquitto,
paused and resumed; a real TCP peer that accepts and never answers; a real Mosquitto refusing a password.
"""
from __future__ import annotations

import logging
import threading

from agent.broker import BrokerConfig, Secret
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from conftest import wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures
from mqtt_silent_broker import MuteListener


def said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stad.source.mqtt" and r.levelno >= logging.INFO]


def open_source(port: int, **broker_keys) -> tuple[MqttSource, threading.Thread]:
    """The source, reading in a thread of its own (join it after close(): its last words are this test's)."""
    broker = BrokerConfig(host="127.0.0.1", port=port, keepalive_s=5, reconnect_min_s=0.1, reconnect_max_s=0.5,
                          **broker_keys)
    source = MqttSource(MqttSourceConfig(broker=broker, topics={"plant/a": "a"}, qos=1), ["a"], Rejects())
    records = source.records()
    reader = threading.Thread(target=lambda: list(records), daemon=True)
    reader.start()
    return source, reader


def close(source: MqttSource, reader: threading.Thread) -> None:
    source.close()
    reader.join(60)


def test_a_broker_gone_silent_mid_session_is_said_as_such_then_as_hung_then_back(broker, caplog):
    caplog.set_level(logging.INFO, logger="stad")
    source, reader = open_source(broker.port)
    where = f"127.0.0.1:{broker.port}"
    try:
        assert wait_until(lambda: source.reporter.connected, 60)
        broker.pause()
        assert wait_until(lambda: any("cannot use broker" in m for m in said(caplog)), 90), said(caplog)
        lost = [m for m in said(caplog) if "cannot use broker" in m]
        assert len(lost) == 1 and where in lost[0], lost
        assert "s into the session: the broker went silent (no answer to the keep-alive" in lost[0], lost
        assert "disconnected us" not in lost[0], lost
        # said once the first reconnect met the silence: a broker that answered this client before, hung
        assert ("reconnecting: the broker accepted the connection but did not answer the CONNECT within keepalive_s "
                "(5 s), as it did before: is it hung") in lost[0], lost
        assert "proxy" not in lost[0], lost
        # more unanswered reconnects say nothing more (one outage, one line)
        assert wait_until(lambda: source.rejects.counts["mqtt unreachable"] >= 3, 90), source.rejects.counts
        assert len([m for m in said(caplog) if "cannot use broker" in m]) == 1, said(caplog)
        broker.resume()
        assert wait_until(lambda: any(m.startswith(f"MQTT source: connected to {where} (back ") for m in said(caplog)),
                          90), said(caplog)
        back = [m for m in said(caplog) if m.startswith("MQTT source: connected to")]
        assert len(back) == 1 and " after the loss noticed at " in back[0], back
    finally:
        broker.resume()
        close(source, reader)


def test_a_peer_that_never_answered_is_said_as_a_proxy_with_no_broker_behind_it(caplog):
    caplog.set_level(logging.INFO, logger="stad")
    peer = MuteListener()
    source, reader = open_source(peer.port)
    try:
        assert wait_until(lambda: len(peer.accepted) >= 2, 90)
        assert wait_until(lambda: any("cannot use broker" in m for m in said(caplog)), 90), said(caplog)
        lost = [m for m in said(caplog) if "cannot use broker" in m]
        assert len(lost) == 1 and lost[0] == (
            f"MQTT source: cannot use broker 127.0.0.1:{peer.port}: the broker accepted the connection "
            "but did not answer the CONNECT within keepalive_s (5 s): it never has (a proxy or load balancer with no "
            "broker behind it?); no samples until it is back"), lost
    finally:
        close(source, reader)
        peer.close()


def test_a_refused_login_is_said_with_its_reason_code(make_broker, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="stad")
    broker = make_broker(users={"gw": "right"})
    (tmp_path / "password").write_text("wrong\n")
    source, reader = open_source(broker.port, username="gw", password=Secret(file=str(tmp_path / "password")))
    try:
        assert wait_until(lambda: source.rejects.counts["mqtt refused"] >= 2, 90), source.rejects.counts
        refused = [m for m in said(caplog) if "cannot use broker" in m]
        assert len(refused) == 1 and f"127.0.0.1:{broker.port}" in refused[0], refused
        assert "connection refused with reason code 0x87: not authorised" in refused[0], refused
    finally:
        close(source, reader)
