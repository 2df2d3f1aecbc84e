"""The real MqttSource and the agent's Aligner in a process of their own, a publisher of readings, for the tests of
what the source and the aligner make of a broker's backlog (mqttsrc4, mqttsrc5): the process can be stopped while
the broker's queue for it fills, as a busy gateway's is (script_reader.ScriptReader)."""
from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from conftest import free_port, wait_until
from script_reader import ScriptReader

TICK_S = 0.1
# The source (a sensor topic, and one of JSON readings naming their sensors) and the agent's aligner (tick 0.1 s,
# carry-forward 0.2 s: a short step of the data is 0.4 s). After each good reading taken: its value, the aligner's
# moves and the counts of what it refused.
READER = """
import json, math, sys
from agent.broker import BrokerConfig, Secret
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from agent.window import Aligner
port = int(sys.argv[1])
cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=port, reconnect_min_s=0.1, reconnect_max_s=1),
                       topics={"plant/a": "a", "plant/x": "*"}, qos=1)
rejects = Rejects()
aligner = Aligner(["a"], 0.1, 0.2, 1, rejects)
for rec in MqttSource(cfg, ["a"], rejects).records():
    aligner.push(rec)
    value = rec.values.get("a")
    if value is not None and math.isfinite(value) and abs(value) < 1e30:
        print(json.dumps([value, dict(aligner.moves), dict(rejects.counts)]), flush=True)
"""


def Reader(port: int) -> ScriptReader:
    """The reader script in its own process; `taken`: value -> (the aligner's moves, the counts) once taken."""
    return ScriptReader(READER, str(port))


class Publisher:
    def __init__(self, port: int):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{free_port()}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic: str, payload: str):
        return self.client.publish(topic, payload, qos=1)

    def readings(self, stamps_values) -> None:
        """Good readings of `a` on the sensor's topic, each {"ts", "value"}, all sent before any is waited on."""
        for info in [self.send("plant/a", json.dumps({"ts": ts, "value": v})) for ts, v in stamps_values]:
            info.wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def started(make_broker) -> tuple[Reader, Publisher, float]:
    """The reader subscribed (a reading sent until it is taken) and ten live readings a tick apart taken: the
    sender stands at this host's clock; and the last one's stamp (the data's time base)."""
    broker = make_broker()
    reader, pub = Reader(broker.port), Publisher(broker.port)
    assert wait_until(lambda: pub.send("plant/a", json.dumps({"ts": time.time(), "value": 99.0})).wait_for_publish(5)
                      or 99.0 in reader.taken, 30), reader.log[-5:]
    start = time.time()
    pub.readings([(start + i * TICK_S, 100.0 + i) for i in range(10)])
    assert wait_until(lambda: 109.0 in reader.taken, 30), (sorted(reader.taken), reader.log[-5:])
    return reader, pub, start + 9 * TICK_S


def since(before: dict, after: dict) -> dict:
    """The counts added since `before` (the start's readings, sent until one came, may share a tick: `duplicate`)."""
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


def read_behind_a_backlog(reader: ScriptReader, pub: Publisher, last: float, payload: str) -> tuple[dict, dict]:
    """The reader stopped (SIGSTOP) while the sender publishes ten stamped readings, five `payload`s without a stamp
    of their own (stamped as the reader takes them) and ten stamped readings more; run again ~5 s later, so it reads
    them behind their stamps. (The time base's moves, the counts added) once the last reading is taken; mqttsrc4's
    bad readings (`NaN`) and mqttsrc5's plain ones (`5.0`)."""
    reader.pause()     # the agent behind: what follows waits on its socket
    pub.readings([(last + (1 + i) * TICK_S, 300.0 + i) for i in range(10)])
    for _ in range(5):
        pub.send("plant/a", payload).wait_for_publish(10)
    pub.readings([(last + (11 + i) * TICK_S, 400.0 + i) for i in range(10)])
    assert wait_until(lambda: time.time() > last + 6, 10)
    reader.resume()
    assert wait_until(lambda: 409.0 in reader.taken, 30), (sorted(reader.taken), reader.log[-5:])
    moves, counts = reader.taken[409.0]
    assert all(float(v) in reader.taken for v in [*range(300, 310), *range(400, 410)]), sorted(reader.taken)
    return moves, since(reader.taken[109.0][1], counts)
