"""The MQTT source at a broker whose ACL will not let it read a topic (qa27).

A real Mosquitto with its dynamic-security plugin (tests/mqtt_acl.py), which answers a denied SUBSCRIBE in
the SUBACK: 0x87 with MQTT 5, 0x80 with 3.1.1. Before, the source never looked at the SUBACK: a refused
filter's sensor simply got no samples — no line, no count, the source's peer 'answering'. Now: one error
naming the source, the filter, its sensor and the broker's reason; every refusal counted (`mqtt subscribe
refused` in the rejects: health's `rejected`, stad_records_rejected_total); asked again with the
connection's back-off, so an ACL that changes is taken up; the other filters go on.
"""
from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.broker import BrokerConfig, Secret
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from conftest import free_port, wait_until
from mqtt_acl import PASSWORD, make_acl_broker  # noqa: F401 — make_acl_broker: a pytest fixture

REFUSED = "mqtt subscribe refused"


class Running:
    """A source whose records() runs in a thread (as the agent's source thread does), its records kept."""

    def __init__(self, source: MqttSource):
        self.source, self.got = source, []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for rec in self.source.records():
            self.got.append(rec)

    def sensors(self) -> set[str]:
        return {s for rec in list(self.got) for s in rec.values}

    def stop(self) -> None:
        self.source.close()
        self.thread.join(timeout=30)


def open_source(tmp_path, port: int, protocol: str, topics: dict[str, str]) -> MqttSource:
    (tmp_path / "gw.pw").write_text(PASSWORD + "\n")
    broker = BrokerConfig(host="127.0.0.1", port=port, protocol=protocol, username="gw",
                          password=Secret(file=str(tmp_path / "gw.pw")), reconnect_min_s=0.1, reconnect_max_s=0.5)
    return MqttSource(MqttSourceConfig(broker=broker, topics=topics, qos=1), sorted(set(topics.values())), Rejects())


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"plc-{free_port()}")
    client.username_pw_set("plc", PASSWORD)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refuses the subscription" in r.getMessage()]


@pytest.mark.parametrize("protocol,code", [("5", "Not authorized (reason code 0x87)"),
                                           ("3.1.1", "MQTT 3.1.1 return code 0x80")])
def test_a_refused_subscription_is_said_counted_and_asked_again_until_the_acl_allows_it(
        tmp_path, make_acl_broker, caplog, protocol, code):
    caplog.set_level(logging.INFO, logger="stad.source.mqtt")
    broker = make_acl_broker({"gw": {"read": ["plant/a"]}, "plc": {"write": ["plant/#"]}})
    source = open_source(tmp_path, broker.port, protocol, {"plant/a": "a", "plant/b": "b"})
    running, plc = Running(source), publisher(broker.port)
    try:
        # Asked again with the back-off: counted per refusal, said once.
        assert wait_until(lambda: source.rejects.counts[REFUSED] >= 3, 60), source.rejects.counts
        said = refusals(caplog)
        assert len(said) == 1, said
        assert (f"MQTT source mqtt 127.0.0.1:{broker.port}: the broker refuses the subscription to plant/b "
                f"(sensor b): ") in said[0] and code in said[0] and "user 'gw'" in said[0], said
        assert source.rejects.first[REFUSED][0] == "mqtt plant/b"

        # The filter it may read goes on; the source's broker answers (one filter of two refused).
        def readings(*sensors):
            for sensor in ("a", "b"):
                plc.publish(f"plant/{sensor}", "1.5", qos=1)
            return set(sensors) <= running.sensors()
        assert wait_until(lambda: readings("a"), 60)
        assert "b" not in running.sensors() and source.peer == (True, "")

        broker.allow("gw", read=["plant/b"])            # the ACL is mended while the agent runs
        assert wait_until(lambda: readings("a", "b"), 60), running.sensors()
        assert any("the broker now grants the subscription to plant/b" in r.getMessage() for r in caplog.records)
        assert len(refusals(caplog)) == 1
    finally:
        plc.loop_stop()
        running.stop()


def test_every_subscription_refused_is_the_sources_peer_down_with_the_reason(tmp_path, make_acl_broker):
    # The fault tracker then tells one `source` fault with this reason, not a `missing` per sensor.
    broker = make_acl_broker({"gw": {"read": []}})
    source = open_source(tmp_path, broker.port, "5", {"plant/a": "a", "plant/b": "b"})
    running = Running(source)
    try:
        assert wait_until(lambda: "refuses" in source.peer[1], 60), source.peer
        assert not source.peer[0]
        assert source.peer[1] == ("the broker refuses every subscription: plant/a (Not authorized (reason code "
                                  "0x87)); plant/b (Not authorized (reason code 0x87))"), source.peer
        assert source.reporter.connected              # connected: the broker answers, and refuses
    finally:
        running.stop()
