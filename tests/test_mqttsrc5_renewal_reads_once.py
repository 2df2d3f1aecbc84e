"""A message read as the source renews its session is read once (mqttsrc5).

mqttsrc4's flood soak at load 40 counted 183 `bad payload`s for 160 sent. The source broker's log (log_type all,
kept) traced it: at the first of its two renewals the broker re-sent 23 QoS 1 messages with DUP set (m147–m169 on
plant/b, all of the soak's `junk` and `no value` kinds) — exactly the 23 over. The source had read them: `_renew`
queues a DISCONNECT from the records() thread while paho's thread still reads what waits on the socket, calls
on_message for it (counted) and queues its PUBACK — after the DISCONNECT, so never sent; the resumed session then
delivered them again, and they were counted again. Now the source acknowledges each message itself after reading
it, under a lock that the renewal takes to queue its DISCONNECT: every message read is acknowledged ahead of it,
and one paho reads after it is neither read nor acknowledged (the broker sends it again, read once then).

Here: the real MqttSource in a process of its own, a real Mosquitto on a free port, a real publisher; the test has
the source renew its session (what its delivery probe does on a stall, `_renew`) while the broker delivers to it;
then one good reading after them all: the broker sends what a session holds in order, so once it is read every
re-sent message has been. Every wait is on a condition."""
from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from conftest import free_port, wait_until
from script_reader import ScriptReader
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture

# The source, QoS 1, no probe (the test renews it); `renew` on stdin renews its session as a stalled probe would.
# Prints [value, counts] for each good reading, ["renewed", n] after each renewal.
READER = """
import json, sys, threading
from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
port = int(sys.argv[1])
cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=port, reconnect_min_s=0.1, reconnect_max_s=1),
                       topics={"plant/b": "b"}, qos=1, probe_s=0)
rejects = Rejects()
source = MqttSource(cfg, ["b"], rejects)
def renewals():
    for n, _ in enumerate(sys.stdin, 1):
        source._renew(0.0)
        print(json.dumps(["renewed", n]), flush=True)
threading.Thread(target=renewals, daemon=True).start()
for rec in source.records():
    print(json.dumps([rec.values["b"], dict(rejects.counts)]), flush=True)
"""

RENEWALS = 10
PER_ROUND = 200


def test_messages_read_as_the_session_is_renewed_are_counted_once(make_broker):
    """Ten times: the source stopped (SIGSTOP) while 200 bad payloads are published at QoS 1 (20 wait on its socket,
    the broker's in-flight window, the rest in its queue, unbounded here: none dropped) and it is asked to renew;
    run again, it reads them as it renews. Before: more counted than sent (2004–2015 for 2000 in six runs)."""
    broker = make_broker(conf=["max_queued_messages 0"])
    reader = ScriptReader(READER, str(broker.port))
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{free_port()}")
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    sent = 0
    try:
        assert wait_until(lambda: pub.publish("plant/b", "0", qos=1).wait_for_publish(5) or 0.0 in reader.taken,
                          30), reader.log[-5:]
        start = reader.taken[0.0][0].get("bad payload", 0)
        for n in range(1, RENEWALS + 1):
            reader.pause()
            infos = [pub.publish("plant/b", "--", qos=1) for _ in range(PER_ROUND)]
            for info in infos:
                info.wait_for_publish(10)
                assert info.is_published()
            sent += len(infos)
            reader.tell("renew")
            reader.resume()
            assert wait_until(lambda: reader.taken.get("renewed") == (n,), 30), reader.log[-5:]
        last = pub.publish("plant/b", "1", qos=1)
        last.wait_for_publish(10)
        assert last.is_published()
        assert wait_until(lambda: 1.0 in reader.taken, 30), (sorted(map(str, reader.taken)), reader.log[-5:])
        counted = reader.taken[1.0][0].get("bad payload", 0) - start
        assert counted == sent, (counted, sent, reader.taken[1.0][0])
        assert sum("reconnecting to resume the session" in line for line in reader.log) == RENEWALS, reader.log[-3:]
    finally:
        reader.stop()
        pub.loop_stop()
        pub.disconnect()
