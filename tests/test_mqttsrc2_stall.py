"""The MQTT source when the broker stops delivering QoS 1 to it (chaos2's stall; mqttsrc1's trace, mqttsrc2's fix).

Mosquitto frees the packets past `max_queued_messages` waiting on a client's socket, QoS 1 PUBLISHes it already
counts in flight too, and never sends them again in that session: once its in-flight window (20) is all such
messages, no QoS 1 message reaches the client again. Reproduced here for certain: the source runs in its own
process (the real MqttSource, reader script below), which is stopped (SIGSTOP) while a flood and 100 QoS 1
readings are published, so its socket fills and the broker (max_queued_messages 10) drops what it sent in flight;
then it runs again. Without the probe (main's source, or probe_s 0) no QoS 1 reading came again (15 s, then the
run ended); with it the source sees its probe not come back, reconnects resuming its session (MQTT 5), and the
broker sends again the 20 it held. On MQTT 3.1.1 the session is not kept: QoS 1 flows again, the loss counted.

Also: a reading's arrival (`received`) is stamped with the agent's clock as it comes, not when the agent's pump
takes it off the source's queue; a probe the broker's ACL will not pass is said once, not renewed for ever.
Every wait is on a condition."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.broker import BrokerConfig
from agent.records import Record, Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from agent.window import Aligner
from conftest import free_port, wait_until
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture
from script_reader import pause

PROBE_S = 0.5
# The real source in a process of its own: prints each QoS 1 reading's value, after its reject counts when they
# changed since the last record.
READER = """
import json, sys
from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
port, protocol, probe_s = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=port, protocol=protocol, reconnect_min_s=0.1,
                                           reconnect_max_s=1), topics={"plant/q1": "*", "plant/flood": "*"},
                       qos=1, probe_s=probe_s)
rejects = Rejects()
source = MqttSource(cfg, ["a"], rejects)
said = {}
for rec in source.records():
    now = dict(rejects.counts)      # said ahead of the reading that follows them: read before it in order
    if now != said:
        print("COUNTS " + json.dumps(now), flush=True)
        said = now
    if rec.origin == "mqtt plant/q1":
        print(rec.values["a"], int(rec.resent), flush=True)
"""


class Reader:
    """The reader process, what it printed kept."""

    def __init__(self, port: int, protocol: str):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                                            os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, "-c", READER, str(port), protocol, str(PROBE_S)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.values: list[float] = []
        self.resent: list[float] = []       # the values the source flagged as a broker's late delivery
        self.counts: dict[str, int] = {}
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("COUNTS "):
                self.counts = json.loads(line[7:])
            else:
                value, resent = line.split()
                self.values.append(float(value))
                if resent == "1":
                    self.resent.append(float(value))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        self.proc.wait(30)


def _publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{free_port()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _reaches(reader: Reader, publisher: mqtt.Client, value: float, timeout: float) -> bool:
    """Publish `value` at QoS 1 until the reader has it."""
    def arrived() -> bool:
        if value not in reader.values:
            publisher.publish("plant/q1", json.dumps({"ts": time.time(), "a": value}), qos=1).wait_for_publish(5)
        return value in reader.values
    return bool(wait_until(arrived, timeout))


def _stall(broker, reader: Reader, publisher: mqtt.Client) -> None:
    """Stop the reader, flood its socket, publish 100 QoS 1 readings (0..99) into the drop, let it run again."""
    assert _reaches(reader, publisher, -1.0, 30), reader.log[-5:]
    pause(reader.proc)
    pad = "x" * 2000
    for _ in range(3000):
        publisher.publish("plant/flood", json.dumps({"ts": time.time(), "a": 1.0, "pad": pad}))
    infos = [publisher.publish("plant/q1", json.dumps({"ts": time.time(), "a": float(i)}), qos=1) for i in range(100)]
    for info in infos:
        info.wait_for_publish(10)
    # the broker dropped what waited on the stopped reader's socket: QoS 1 PUBLISHes it holds in flight among them
    assert wait_until(lambda: "Outgoing messages are being dropped" in broker.log_text(), 30), broker.log_text()[-500:]
    reader.proc.send_signal(signal.SIGCONT)


def test_qos1_flows_again_after_the_broker_stalled_the_window_and_what_it_held_comes(make_broker):
    broker = make_broker(conf=["max_queued_messages 10"])
    reader, publisher = Reader(broker.port, "5"), _publisher(broker.port)
    try:
        _stall(broker, reader, publisher)
        assert _reaches(reader, publisher, 1e6, 30), (reader.counts, reader.log[-5:])
        # the resumed session's re-sent messages: readings published while the reader was stopped
        assert wait_until(lambda: len({v for v in reader.values if 0 <= v < 100}) >= 20, 30), sorted(reader.values)
        # ... each flagged as a late delivery (the aligner takes none of them for a step back of the data)
        assert {v for v in reader.values if 0 <= v < 100} <= set(reader.resent), (reader.values, reader.resent)
        assert any("reconnecting to resume the session" in line for line in reader.log), reader.log[-5:]
        assert "mqtt session lost" not in reader.counts, reader.counts
    finally:
        reader.stop()
        publisher.loop_stop()


def test_on_mqtt_311_qos1_flows_again_and_what_the_broker_held_is_counted_lost(make_broker):
    broker = make_broker(conf=["max_queued_messages 10"])
    reader, publisher = Reader(broker.port, "3.1.1"), _publisher(broker.port)
    try:
        _stall(broker, reader, publisher)
        assert _reaches(reader, publisher, 1e6, 30), (reader.counts, reader.log[-5:])
        assert wait_until(lambda: reader.counts.get("mqtt session lost", 0) >= 1, 30), reader.counts
        assert any("rejected mqtt 127.0.0.1" in line and "mqtt session lost" in line for line in reader.log)
    finally:
        reader.stop()
        publisher.loop_stop()


def test_readings_a_broker_held_are_late_not_a_step_back_of_the_data():
    """The aligner's half: readings a resumed session delivers 14 s late (a chaos soak without this rule:
    `time base moved back: the data stepped -14 s`, then `jumped +14 s`) are counted late, the time base kept."""
    t0 = 1_796_000_000.0

    def run(resent: bool) -> tuple[Rejects, Aligner]:
        rejects = Rejects()
        aligner = Aligner(["a"], 0.5, carry_forward_s=2.0, lateness_ticks=1, rejects=rejects, max_clock_skew_s=0)
        for i in range(60):             # 30 s of live data, each record received as stamped
            aligner.push(Record(ts=t0 + i / 2, values={"a": 1.0}, received=t0 + i / 2))
            aligner.flush_until(t0 + i / 2 - 1.0)
        for i in range(20):             # the 20 the broker held, stamped 14 s back, received now
            aligner.push(Record(ts=t0 + 16 + i / 20, values={"a": 2.0}, received=t0 + 30, resent=resent))
        return rejects, aligner
    rejects, aligner = run(resent=True)
    assert not aligner.moves and rejects.counts["late"] == 20, (aligner.moves, rejects.as_dict())
    rejects, aligner = run(resent=False)        # the same readings not known as held: a step back, as before
    assert aligner.moves == {"back": 1}, aligner.moves


def test_a_reading_is_stamped_on_arrival_with_the_agents_clock(make_broker):
    broker = make_broker()
    stamps: list[float] = []

    def clock() -> float:                   # the agent's injectable clock: every reading of it kept
        stamps.append(time.time() + 1000.0)
        return stamps[-1]
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1), topics={"plant/q1": "*"}, qos=1)
    source = MqttSource(cfg, ["a"], Rejects(), clock=clock)
    publisher = _publisher(broker.port)
    try:
        assert wait_until(lambda: source.reporter.connected, 30)
        publisher.publish("plant/q1", json.dumps({"ts": time.time(), "a": 1.0}), qos=1).wait_for_publish(10)
        assert wait_until(lambda: source._samples.qsize() == 1, 30)
        arrived_by = time.time() + 1000.0     # it waits in the source's queue: taken after this, stamped before
        rec = next(source.records())
        assert rec.received in stamps and rec.received <= arrived_by, (rec.received, stamps, arrived_by)
    finally:
        source.close()
        publisher.loop_stop()


def test_a_probe_the_acl_does_not_pass_is_said_once_and_not_renewed_for_ever(make_broker, caplog):
    # the source may read plant/#, and neither publish nor read its probe's topic
    broker = make_broker(acl="topic readwrite plant/#\n", conf=["log_type all"])
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1,
                                               reconnect_max_s=1), topics={"plant/q1": "*"}, qos=1, probe_s=PROBE_S)
    caplog.set_level(logging.INFO, logger="stad")
    source = MqttSource(cfg, ["a"], Rejects())
    got: list[float] = []
    threading.Thread(target=lambda: [got.append(r.values["a"]) for r in source.records()], daemon=True).start()
    publisher = _publisher(broker.port)
    try:
        assert wait_until(lambda: "did not come back" in caplog.text, 30), caplog.text
        renewals = caplog.text.count("reconnecting to resume the session")
        assert renewals == 1, caplog.text       # the first probe lost: one renewal; then the ACL is asked about
        # probes go on (every 2 probe_s) without another renewal, the readings with them
        for value in (1.0, 2.0, 3.0):
            assert wait_until(lambda v=value: (publisher.publish("plant/q1", json.dumps(
                {"ts": time.time(), "a": v}), qos=1).wait_for_publish(5), v in got)[1], 30), got
        denied = lambda: broker.log_text().count("Denied PUBLISH from stad-source")     # noqa: E731
        assert wait_until(lambda: denied() >= 5, 60), broker.log_text()[-500:]   # probes after the warning
        assert caplog.text.count("reconnecting to resume the session") == 1, caplog.text
        assert caplog.text.count("did not come back") == 1, caplog.text
    finally:
        source.close()
        publisher.loop_stop()
