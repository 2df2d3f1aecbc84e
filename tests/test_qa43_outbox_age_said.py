"""At a reconnect the MQTT sink says how many outbox events it sends — and that count is what goes out (qa43).

user24 saw `MQTT alerts: sending 1 alert event(s) from the outbox` and at once `outbox max_age_s 60 reached:
dropped 1 alert event(s)`: the count was taken before the age bound was applied (agent/sinks/mqtt.py
`_on_connected`), so the line promised an event the broker never got. Events must age while the sink runs for
that (an outbox opened already past the bound drops them when it opens): the agent's clock (SinkContext.clock,
the one Agent(clock=…) is given) is moved on by hand, so no test waits out max_age_s. Real Mosquitto on a free
127.0.0.1 port; every wait on a condition."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

from agent import config
from agent.sinks.mqtt import MqttSink
from conftest import alert_event, wait_until
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures

NODE, SITE = "gw-7", "plant-a"
BASE = f"stad/{SITE}/{NODE}"
MAX_AGE_S = 60.0                # the key's least


class HandClock:
    """Time passing, moved on by the test: this host's wall clock and its boot-time one (no step of it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def sink_on_a_hand_clock(tmp_path, port: int) -> tuple[MqttSink, HandClock]:
    """An MQTT sink whose outbox ages by `clock`, its broker down: wait until it has said so."""
    cfg = config.from_dict({
        "node": {"id": NODE, "site": SITE}, "sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
        "state_dir": str(tmp_path / "state"),
        "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.1,
                                              "reconnect_max_s": 1.0},
                   "outbox": {"max_age_s": MAX_AGE_S}}]})
    clock = HandClock()
    sink = MqttSink(cfg.sinks[0], replace(cfg.sink_context(), clock=clock, boot_clock=clock))
    assert wait_until(lambda: sink.reporter.problem is not None)
    return sink, clock


def test_the_count_said_at_reconnect_is_what_is_sent_and_the_aged_are_said_dropped(tmp_path, broker, caplog):
    collector = Collector(broker.port, [f"{BASE}/alerts"], client_id="age-watcher")
    collector.wait_subscribed()
    broker.wait_saved("age-watcher", f"{BASE}/alerts")     # the persistent session outlives the SIGKILL
    broker.kill()
    caplog.set_level(logging.INFO, logger="stad")
    sink, clock = sink_on_a_hand_clock(tmp_path, broker.port)
    sink.emit(alert_event("gw-7-a", 0, "new"))
    clock.now += MAX_AGE_S / 2
    sink.emit(alert_event("gw-7-b", 0, "new"))
    clock.now += MAX_AGE_S / 2 + 1            # gw-7-a is past the bound now, gw-7-b is not
    assert sink.outbox.depth == 2
    broker.start()
    assert collector.wait_for(lambda m: len(m) >= 1, 30)
    assert wait_until(lambda: sink.outbox.depth == 0)
    sink.close()
    got = [(d["alert_id"], d["seq"]) for d in (json.loads(m.payload) for m in collector.on("/alerts"))]
    assert got == [("gw-7-b", 0)]
    assert sink.outbox.dropped == {"max_age": 1}
    said = [r.getMessage() for r in caplog.records if "from the outbox" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith("MQTT alerts: sending 1 alert event(s) from the outbox"), said
    assert "1 older than outbox.max_age_s (60 s) dropped first" in said[0], said
    collector.close()


def test_every_event_aged_at_reconnect_is_said_dropped_and_none_said_sent(tmp_path, make_broker, caplog):
    broker = make_broker(start=False)
    caplog.set_level(logging.INFO, logger="stad")
    sink, clock = sink_on_a_hand_clock(tmp_path, broker.port)
    sink.emit(alert_event("gw-7-a", 0, "new"))
    clock.now += MAX_AGE_S + 1
    broker.start()
    assert wait_until(lambda: sink.reporter.connected and sink.outbox.dropped == {"max_age": 1})
    assert wait_until(lambda: any("from the outbox" in r.getMessage() for r in caplog.records))
    sink.close()
    said = [r.getMessage() for r in caplog.records if "from the outbox" in r.getMessage()]
    assert said == ["MQTT alerts: nothing to send from the outbox: 1 older than outbox.max_age_s (60 s) dropped "
                    "first, counted as max_age"], said
