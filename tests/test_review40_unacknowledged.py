"""A broker that takes every PUBLISH and acknowledges none while it answers the keep-alive (its store stuck, a proxy
that keeps the connection and loses what goes through it): the MQTT sink said nothing, health said `connected`, and
the events in flight waited for good with nothing more sent (review40) — MQTT sends an unacknowledged PUBLISH again
only on a new connection. Now, after keepalive_s with none acknowledged, the sink says so once, closes the connection
from its side and sends them again after the reconnect, as replays; counted in health's `outages`, but said neither as
the broker's loss nor as a flap.
Real parts: the sink with paho and its outbox on real files; the broker a real TCP peer speaking enough MQTT 5
(tests/mqtt_silent_broker.py: Mosquitto always acknowledges)."""
from __future__ import annotations

import logging

from agent import config
from agent.sinks.mqtt import MqttSink
from conftest import alert_event, wait_until
from mqtt_silent_broker import SilentBroker

KEEPALIVE_S = 5         # the shortest the config takes: the sink's wait for an acknowledgement


def _sink(tmp_path, port: int) -> MqttSink:
    cfg = config.from_dict({
        "node": {"id": "gw-7", "site": "plant-a"}, "sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
        "state_dir": str(tmp_path / "state"),
        "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "keepalive_s": KEEPALIVE_S,
                                              "reconnect_min_s": 0.1, "reconnect_max_s": 1.0}}]})
    return MqttSink(cfg.sinks[0], cfg.sink_context())


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("stad") and r.levelno >= logging.WARNING]


def test_events_a_broker_never_acknowledged_are_sent_again_on_a_new_connection(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad")
    broker = SilentBroker(acks_from=2)        # the first connection acknowledges nothing; the next, everything
    sink = _sink(tmp_path, broker.port)
    try:
        for seq in range(3):
            sink.emit(alert_event("gw-7-a", seq, "new" if seq == 0 else "update"))
        assert wait_until(lambda: len(broker.events) >= 3, 60), broker.events
        # On the old code the three waited in flight for good: connected, nothing more sent, nothing said.
        assert wait_until(lambda: sink.outbox.depth == 0, 90), (sink.outbox.stats(), broker.connections, _warnings(caplog))
        again = [(a, s) for n, a, s in broker.events if n >= 2]
        assert again == [("gw-7-a", 0), ("gw-7-a", 1), ("gw-7-a", 2)], broker.events
        said = _warnings(caplog)
        assert sum("has acknowledged none of the 3 alert event(s)" in m for m in said) == 1, said
        assert sum(m.endswith("acknowledges again") for m in said) == 1, said
        assert not any("cannot use broker" in m for m in said), said        # not said as the broker's outage
        assert sink.stats()["outages"] == 1 and sink.stats()["dropped_total"] == 0     # health counts the drop
    finally:
        sink.close()
        broker.close()


def test_a_broker_that_never_acknowledges_is_said_once_and_nothing_is_dropped(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad")
    broker = SilentBroker(acks_from=None)
    sink = _sink(tmp_path, broker.port)
    try:
        sink.emit(alert_event("gw-7-b", 0, "new"))
        assert wait_until(lambda: broker.connections >= 3 and sum(n == 3 for n, _, _ in broker.events) >= 1, 120), \
            (broker.connections, broker.events)
        said = _warnings(caplog)
        assert sum("has acknowledged none" in m for m in said) == 1, said
        assert not any("same client id" in m or "cannot use broker" in m for m in said), said   # no flap, no outage
        assert sink.outbox.depth == 1 and sink.stats()["dropped_total"] == 0
        # paho's own copies are let go at each drop: the sink's outbox is the one that sends again
        assert len(sink.client._out_messages) <= 2, len(sink.client._out_messages)
    finally:
        sink.close()
        broker.close()
