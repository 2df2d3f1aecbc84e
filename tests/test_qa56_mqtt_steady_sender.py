"""qa56 (qa55's left item): qa55 said a reason steady from one sender once, then counted it without a line — but an
MQTT record's origin is its topic, so a bridge delivering every message twice on every topic of a plant (a bridge
loop) made one `repeated reading` minute line per topic in turn, never one sender's two in a row: a line a minute for as
long as it lasted. Now a topic's origin knows its sender, the source's broker connection (records.Origin): the bridge
is one steady condition, said once naming its topics; a publisher on a topic outside them is told apart (said at
once). Through a real Mosquitto, the real MqttSource and the real Aligner; the Rejects' clock is moved by the test
(minutes of a flood in seconds)."""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from types import SimpleNamespace

import pytest
import yaml

from agent.records import REPEAT_S, Origin, Rejects
from agent.window import Aligner

from conftest import bench_module, free_port, start_logged_agent, stop_agent, wait_for
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures
from mqtt_source_peer import mqtt_source_and_publisher

STATIONS = ("K012", "K014", "K016")         # the plant's, each under plant/<station>/<quantity>
NEW = "K020"                                # another publisher, later
SENSORS = [f"{st}_{q}" for st in (*STATIONS, NEW) for q in ("flow", "occ")]
TOPICS = {f"plant/{s.replace('_', '/')}": s for s in SENSORS}      # one filter a sensor: the filter is no sender
STEP_S = 0.25                               # the Rejects' clock per message read: 120 repeats a minute


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def lines_of(caplog, reason: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stad.input" and f": {reason}" in r.getMessage()]


def test_a_bridge_repeating_every_topic_is_one_steady_sender_and_a_new_publisher_is_told_apart(broker, caplog):
    caplog.set_level(logging.WARNING, logger="stad.input")
    clock = Clock()
    rejects = Rejects(clock=clock)
    aligner = Aligner(SENSORS, 1.0, 0.0, 0, rejects)
    t0 = float(int(time.time()))
    with mqtt_source_and_publisher(broker.port, "qa56-bridge", rejects, topics=TOPICS, sensors=SENSORS) as (
            records, _, publish):

        def rounds(first: int, n: int, stations) -> None:
            """`n` ticks of every station's readings, each message delivered twice (the bridge loop), read and
            pushed through the aligner as the agent does, the Rejects' clock moved STEP_S a message."""
            for k in range(first, first + n):
                sent = 0
                for st in stations:
                    for q in ("flow", "occ"):
                        payload = json.dumps({"value": k % 7 + 0.5, "ts": t0 + k}).encode()
                        publish(f"plant/{st}/{q}", payload)
                        publish(f"plant/{st}/{q}", payload)
                        sent += 2
                for _ in range(sent):       # QoS 1, one session: in order, all read
                    rec = next(records)
                    clock.t += STEP_S
                    aligner.push(rec)

        rounds(0, 4 * 60 // 3, STATIONS)        # 3 s of the clock a tick: four minutes
        repeats = lines_of(caplog, "repeated reading")
        # the first five, a minute line, then the steady one — and nothing after it for two minutes; on 740108ec:
        # each minute line's origin another topic, never steady, a line a minute
        assert len(repeats) == 7, repeats
        steady = repeats[6]
        assert (f"; steady: about 120 a minute from mqtt 127.0.0.1:{broker.port} on 6 topics (plant/K012/* ×2, "
                f"plant/K014/* ×2, plant/K016/* ×2) for the last 2 min — said once;") in steady, steady
        assert steady.endswith("or if another topic has it)"), steady
        counted = rejects.counts["repeated reading"]
        rounds(80, 20, STATIONS)
        assert len(lines_of(caplog, "repeated reading")) == 7 and rejects.counts["repeated reading"] == counted + 120

        rounds(100, 1, (*STATIONS, NEW))        # another publisher sends twice too: said at once, as another sender
        said = lines_of(caplog, "repeated reading")[7:]
        assert len(said) == 1 and said[0].startswith(f"rejected mqtt plant/{NEW}/flow: repeated reading — "), said
        assert (f"no longer steady — now from mqtt plant/{NEW}/flow too, not only mqtt 127.0.0.1:{broker.port} on 6 "
                "topics (plant/K012/* ×2, plant/K014/* ×2, plant/K016/* ×2))") in said[0], said[0]
    # the stop summary's account: those counted without a line between the steady line and the one that ended it
    at_steady, at_end = (int(re.search(r"\(#(\d+) of this kind", line)[1]) for line in (steady, said[0]))
    got = rejects.steady_spells()["repeated reading"]
    assert {k: got[k] for k in ("quiet", "spells", "per_min", "sender")} == {
        "quiet": at_end - 1 - at_steady, "spells": 1, "per_min": 120.0,
        "sender": f"mqtt 127.0.0.1:{broker.port} on 6 topics (plant/K012/* ×2, plant/K014/* ×2, plant/K016/* ×2)"}
    assert 3 * REPEAT_S - 5 < got["steady_s"] < 3 * REPEAT_S + 5 and 0 <= got["ended_s_ago"] < 5, got


def test_the_same_topic_through_another_broker_is_another_sender(caplog):
    """The sender is the connection: a topic of one name through two brokers (two MQTT sources) is two senders."""
    caplog.set_level(logging.WARNING, logger="stad.input")
    one, other = "mqtt 10.0.0.1:1883", "mqtt 10.0.0.2:1883"
    topics = [Origin(f"mqtt plant/{st}/flow", one) for st in STATIONS]
    clock = Clock()
    rejects = Rejects(clock=clock)
    for i in range(int(4 * REPEAT_S * 2)):
        clock.t += 0.5
        rejects.add("late", topics[i % 3], "…")
    assert rejects.steady_spells()["late"]["sender"] == (
        f"{one} on topics 'plant/K012/flow', 'plant/K014/flow', 'plant/K016/flow'")
    caplog.clear()
    rejects.add("late", Origin("mqtt plant/K012/flow", other), "…")
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and f"no longer steady — now from mqtt plant/K012/flow through {other} too, not only " \
        f"{one} on topics 'plant/K012/flow', 'plant/K014/flow', 'plant/K016/flow')" in said[0], said


class Bridge(threading.Thread):
    """A bridge loop: each station's readings (`plant/<station>/<quantity>`, stamped) delivered twice, every tick;
    `stations` may grow while it runs (another publisher that repeats too)."""

    def __init__(self, port: int, tick_s: float):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        super().__init__(daemon=True)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"qa56-bridge-{free_port()}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.tick_s, self.stations, self.sent = tick_s, list(STATIONS), 0
        self.stopped = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopped.wait(self.tick_s):
            n += 1
            ts = time.time()
            for st in list(self.stations):
                for q in ("flow", "occ"):
                    payload = json.dumps({"value": n % 7 + 0.5, "ts": ts})
                    for _ in range(2):
                        self.client.publish(f"plant/{st}/{q}", payload, qos=1)
            self.sent += 1

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)
        self.client.loop_stop()
        self.client.disconnect()


@pytest.mark.slow
def test_a_real_agent_says_a_bridge_loop_steady_once_and_its_summary_says_so(broker, tmp_path):
    tick = 0.5
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "node": {"id": "qa56-gw"}, "tick_s": tick, "topology": "none", "sensors": SENSORS,
        "sources": [{"type": "mqtt", "topics": TOPICS, "qos": 1,
                     "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.1,
                                "reconnect_max_s": 1}}],
        "window": {"steps": 8, "carry_forward_s": 1, "idle_flush_s": 1}, "warmup": {"ticks": 40},
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}],
        "state_dir": "state"}, sort_keys=False))
    proc = start_logged_agent(path, tmp_path)
    err = tmp_path / "agent.err"
    bridge = None
    try:
        wait_for(lambda: "source: mqtt" in err.read_text(), "the agent's banner", timeout=120, proc=proc)
        bridge = Bridge(broker.port, tick)
        bridge.start()
        # on 740108ec never: a `repeated reading` line a minute, each from one topic
        wait_for(lambda: "; steady: about " in err.read_text(), "the bridge said steady", timeout=420, proc=proc)
        sent = bridge.sent
        wait_for(lambda: bridge.sent >= sent + (REPEAT_S + 15) / tick, "a minute more", timeout=240, proc=proc)
        bridge.stations.append(NEW)         # another publisher repeating: told apart
        wait_for(lambda: f"now from mqtt plant/{NEW}/" in err.read_text(), "the new publisher said", timeout=60,
                 proc=proc)
    finally:
        if bridge is not None:
            bridge.stop()
        stop_agent(proc)
    lines = err.read_text().splitlines()
    repeats = [line for line in lines if ": repeated reading — " in line]
    steady = [i for i, line in enumerate(repeats) if "; steady: about " in line]
    assert len(steady) == 1 and steady[0] == len(repeats) - 2, repeats      # then only the new publisher's
    assert (f"from mqtt 127.0.0.1:{broker.port} on 6 topics (plant/K012/* ×2, plant/K014/* ×2, plant/K016/* ×2) "
            "for the last ") in repeats[steady[0]], repeats[steady[0]]
    summary = next(line for line in lines if "summary:" in line)
    assert (f"counted without a line while steady: repeated reading " in summary and
            f"(from mqtt 127.0.0.1:{broker.port} on 6 topics (plant/K012/* ×2, plant/K014/* ×2, plant/K016/* ×2) at "
            "about ") in summary, summary
    # the head bench/chaos_check.py reads: the counts, of which the steady part's were never logged
    counted = bench_module("chaos_check").summary_rejects(SimpleNamespace(err=err))
    quiet = int(re.search(r"while steady: repeated reading (\d+) \(from mqtt", summary)[1])
    assert set(counted) == {"repeated reading"} and 0 < quiet < counted["repeated reading"], summary
