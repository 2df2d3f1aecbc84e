"""The MQTT source under a flood: a silence absorbed by a backlog is no jump of the data (mqttsrc3).

The chaos floods' forward moves of +3–4 s (chaos2, mqttsrc2; main too) are a hole in the data read by a receiver
that is behind: the broker dropped every QoS 0 message to the source for ~3 s while its queue to it was full (the
source broker's log, mqttsrc3: 19 000 flood messages received a second, none sent on), or the sender fell silent,
and the records before and after the hole came off the socket back to back — their stamp − arrival up by the
hole, which the aligner's live pace (agent/live_pace.py) read as the sender's clock jumping. A backlog delays
arrivals and never advances them: a record whose stamp − arrival is back up toward where the sender stood
undelayed is the backlog draining. Here the source runs in a process of its own (the real MqttSource and
Aligner, reader script below), stopped (SIGSTOP) while a flood, a silence and the readings after it are published,
then run again.

Also: a probe that is not the one out (one the broker held from before a renewal) answers nothing.
Every wait is on a condition."""
from __future__ import annotations

import json
import logging
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.broker import BrokerConfig, Secret
from agent.records import Record, Rejects
from agent.sources.mqtt import PROBE_PAYLOAD, MqttSource, MqttSourceConfig
from agent.window import Aligner
from script_reader import ScriptReader
from conftest import free_port, wait_until
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture

TICK_S = 0.1
# The real source and the agent's aligner in a process of their own (tick 0.1 s, carry-forward 0.2 s: a short
# step of the data is 0.4 s). Prints each reading's value as it is taken, then the aligner's moves and the counts.
READER = """
import json, sys
from agent.broker import BrokerConfig, Secret
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from agent.window import Aligner
port = int(sys.argv[1])
cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=port, reconnect_min_s=0.1, reconnect_max_s=1),
                       topics={"plant/x": "*"}, qos=1)
rejects = Rejects()
aligner = Aligner(["a"], 0.1, 0.2, 1, rejects)
for rec in MqttSource(cfg, ["a"], rejects).records():
    aligner.push(rec)
    if rec.values["a"] != 1.0:          # (the flood's copies are 1.0)
        print(json.dumps([rec.values["a"], rec.ts, dict(aligner.moves), dict(rejects.counts)]), flush=True)
"""


def Reader(port: int) -> ScriptReader:
    """The reader script in its own process; `taken`: value -> (its stamp, the aligner's moves, the counts)."""
    return ScriptReader(READER, str(port))


def test_a_silence_the_source_reads_behind_a_flood_is_no_jump_of_the_data(make_broker):
    broker = make_broker()
    reader = Reader(broker.port)
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{free_port()}")
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    send = lambda ts, value, qos=0: publisher.publish("plant/x", json.dumps({"ts": ts, "a": value}), qos=qos)  # noqa
    try:
        # the reader subscribed (a reading sent until it comes), then ten live readings a tick apart, sent at once:
        # the sender stands at this host's clock
        assert wait_until(lambda: send(time.time(), 99.0, qos=1).wait_for_publish(5) or 99.0 in reader.taken, 30), \
            reader.log[-5:]
        start = time.time()
        for info in [send(start + i * TICK_S, 100.0 + i, qos=1) for i in range(10)]:
            info.wait_for_publish(10)
        assert wait_until(lambda: 109.0 in reader.taken, 30), (sorted(reader.taken), reader.log[-5:])
        reader.pause()     # the agent behind: what follows waits on its socket
        last = start + 9 * TICK_S       # the data's time base
        # a flood (600 copies over half a second), the sender silent 1 s, then its readings again
        for j in range(50):
            for _ in range(12):
                send(last + TICK_S + j * 0.01, 1.0)
        back = [last + 1.6 + i * TICK_S for i in range(5)]
        infos = [send(ts, 2.0 + i, qos=1) for i, ts in enumerate(back)]
        for info in infos:
            info.wait_for_publish(10)
        # run again once the clock has passed them: they come off the socket behind the flood, the stamps' hole
        # (1 s, more than a short step) closed up in their arrivals
        assert wait_until(lambda: time.time() > back[-1] + 0.2, 10)
        reader.resume()
        assert wait_until(lambda: 6.0 in reader.taken, 30), (sorted(reader.taken), reader.log[-5:])
        _, moves, counts = reader.taken[6.0]
        assert moves == {}, (moves, reader.log[-5:])    # before: {'forward': 1}, "time base moved: the data jumped"
        assert "timestamp jump" not in counts, counts
        assert all(reader.taken[2.0 + i][1] == {} for i in range(5)), reader.taken
    finally:
        reader.stop()
        publisher.loop_stop()


def _run(records: list[tuple[float, float]]) -> tuple[Aligner, Rejects]:
    rejects = Rejects()
    aligner = Aligner(["a"], 0.5, carry_forward_s=1.5, lateness_ticks=1, rejects=rejects)
    for ts, received in records:
        aligner.push(Record(ts=ts, values={"a": 1.0}, received=received, origin="mqtt plant/x"))
    return aligner, rejects


def test_the_aligner_takes_a_backlog_drained_over_a_silence_and_still_says_a_jump():
    t0 = 1_796_000_000.0
    steady = [(t0 + i / 2, t0 + i / 2 + 0.01) for i in range(40)]         # 20 s, stamped at this host's clock
    # a flood's backlog: 4 s of readings (t0+20..23.5) arriving ever later (5.25 s behind at its end), the sender
    # silent 3 s, its next readings right behind the backlog (arrivals 5 ms apart): their stamp − arrival up by 3 s
    backlog = [(t0 + 20 + i / 2, t0 + 20 + i / 2 + 0.75 * i) for i in range(8)]
    after = [(t0 + 26.5 + i / 2, backlog[-1][1] + 0.005 * (i + 1)) for i in range(6)]
    aligner, rejects = _run(steady + backlog + after)
    assert aligner.moves == {} and not rejects.counts, (aligner.moves, rejects.as_dict())
    # a sender's clock that jumps 3 s ahead, read undelayed (its stamp − arrival 3 s above where it stood): said
    jumped = [(t0 + 23 + i / 2, t0 + 20 + i / 2 + 0.01) for i in range(6)]
    aligner, _ = _run(steady + jumped)
    assert aligner.moves == {"forward": 1}, aligner.moves
    # ... and so is a jump ahead of where the sender stood, read behind a backlog
    jumped = [(t0 + 33 + i / 2, backlog[-1][1] + 0.005 * (i + 1)) for i in range(6)]
    aligner, _ = _run(steady + backlog + jumped)
    assert aligner.moves == {"forward": 1}, aligner.moves


def test_a_probe_from_before_answers_nothing_only_the_one_out_does(make_broker, tmp_path, caplog):
    """The broker re-sends, after a renewal, the probe it held from before it (chaos soaks: taken for the answer
    to the probe sent since). Here that probe, `stad delivery probe 1` (the one the source sends at its first
    connect), comes after the renewal, and again, on the probe topic from another client, while the broker's ACL lets none of the source's
    own probes through: after the one renewal their loss costs, the source still sees its own probe not come back
    (the ACL asked about). Before, any message on the probe topic answered the probe out: never said."""
    broker = make_broker(users={"gw": "gw-pw", "inj": "inj-pw"},
                         acl="user gw\ntopic readwrite plant/#\ntopic read stad/probe/#\n"
                             "user inj\ntopic readwrite stad/probe/#\n")
    (tmp_path / "pw").write_text("gw-pw")
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, username="gw",
                                               password=Secret(file=str(tmp_path / "pw")), reconnect_min_s=0.1,
                                               reconnect_max_s=1),
                           topics={"plant/x": "*"}, qos=1, probe_s=0.5, probe_topic="stad/probe/t1")
    caplog.set_level(logging.INFO, logger="stad")
    source = MqttSource(cfg, ["a"], Rejects())
    threading.Thread(target=lambda: [None for _ in source.records()], daemon=True).start()
    held = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"inj-{free_port()}")
    held.username_pw_set("inj", "inj-pw")
    held.connect("127.0.0.1", broker.port)
    held.loop_start()
    old = PROBE_PAYLOAD.format(1)
    try:
        # the first probe (1) not back: the one renewal; the probe sent at its connect is 2
        assert wait_until(lambda: "reconnecting to resume the session" in caplog.text, 30), caplog.text[-800:]

        def said() -> bool:     # probe 1, from before the renewal, again at every look
            held.publish("stad/probe/t1", old, qos=1)
            return "did not come back" in caplog.text
        assert wait_until(said, 30), (caplog.text[-800:], broker.log_text()[-800:])
        assert caplog.text.count("reconnecting to resume the session") == 1, caplog.text[-800:]
    finally:
        source.close()
        held.loop_stop()


def test_a_bad_reading_refused_whole_is_counted_under_what_is_wrong_with_it_once():
    """A reading both refused whole (its tick closed: `late`; a jump not confirmed: `timestamp jump`) and wrong in
    itself is counted under what is wrong with each value; the refusal only when a value was usable (mqttsrc2's
    chaos s36: NaN, out-of-range and unknown-sensor readings a broker held past their tick were counted `late`)."""
    t0 = 1_796_000_000.0
    rejects = Rejects()
    aligner = Aligner(["a"], 0.5, carry_forward_s=1.5, lateness_ticks=1, rejects=rejects)
    def live(ts: float, values: dict, received: float | None = None, resent: bool = False) -> None:
        aligner.push(Record(ts=ts, values=values, received=ts + 0.01 if received is None else received,
                            origin="mqtt plant/x", resent=resent))
    for i in range(40):
        live(t0 + i / 2, {"a": 1.0})
    # held by the broker, delivered past their ticks (resent): each wrong in itself
    live(t0 + 5, {"a": float("nan")}, t0 + 20, resent=True)
    live(t0 + 5.5, {"a": 1e31}, t0 + 20, resent=True)
    live(t0 + 6, {"zz": 1.0}, t0 + 20, resent=True)
    live(t0 + 6.5, {"a": 2.0, "zz": 1.0}, t0 + 20, resent=True)      # a usable value too: late, and its unknown sensor
    live(t0 + 7, {"a": 2.0}, t0 + 20, resent=True)
    assert rejects.as_dict() == {"non-finite value": 1, "value out of range": 1, "unknown sensor": 2, "late": 2}, \
        rejects.as_dict()
    # a stamp 60 s ahead that the data does not follow: rejected as a jump — unless it was wrong in itself
    rejects.counts.clear()
    live(t0 + 80, {"a": float("inf")}, t0 + 20.1)
    live(t0 + 81, {"a": 3.0}, t0 + 20.2)
    for i in range(41, 47):
        live(t0 + i / 2, {"a": 1.0})
    assert rejects.as_dict() == {"non-finite value": 1, "timestamp jump": 1}, rejects.as_dict()
