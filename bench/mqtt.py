"""MQTT path benchmark: sample-in → alert-received latency through a local mosquitto, and outbox cost.

    python bench/mqtt.py [--rate 100] [--seconds 20] [--sync normal|full] [--dir DIR]

A publisher sends one sample per alert event at --rate to a topic the MQTT source reads; for
each record the source yields, an alert event is emitted to the MQTT sink (outbox commit, then
publish); a subscriber takes the time of arrival. Latency = arrival − sample publish, all in one
process on one clock. Scoring is left out: it is measured by the pipeline benchmarks. Also
measured: the sink's emit() time (what the agent loop pays) and the outbox's add/ack cost alone,
for both `outbox.sync` settings. The outbox lives under --dir (default: the system temp dir):
put it on the gateway's real storage, a tmpfs would make every disk sync free.
Prints one JSON object to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from agent import config  # noqa: E402
from agent.alerts import AlertEvent  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from agent.records import Rejects  # noqa: E402
from agent.sinks.mqtt import MqttSink  # noqa: E402
from agent.sources.mqtt import MqttSource  # noqa: E402
from machine import machine_info  # noqa: E402

SAMPLES_TOPIC = "bench/samples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mosquitto(directory: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (directory / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                                      f"persistence true\npersistence_location {directory}/\nautosave_interval 1\n")
    if os.geteuid() == 0:       # mosquitto drops to its own user when started as root
        user = pwd.getpwnam("mosquitto")
        for p in [directory, *directory.iterdir()]:
            os.chown(p, user.pw_uid, user.pw_gid)
    proc = subprocess.Popen(["mosquitto", "-c", str(directory / "m.conf")], stderr=subprocess.DEVNULL)
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.02)
    raise RuntimeError("mosquitto did not start")


def percentiles(values: list[float]) -> dict:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {}
    pick = lambda q: round(ms[min(len(ms) - 1, int(q * len(ms)))], 3)  # noqa: E731
    return {"n": len(ms), "p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99),
            "max_ms": round(ms[-1], 3), "mean_ms": round(statistics.fmean(ms), 3)}


def alert(seq: int, ts: float) -> AlertEvent:
    return AlertEvent(alert_id="bench-1", seq=seq, event="new" if seq == 0 else "update", node="bench", site="lab",
                      ts=ts, start=ts, end=None, score=3.0, peak_score=3.0, threshold=2.0, tier="numpy",
                      model_id="numpy", model_sha256=None,
                      top_sensors=[{"sensor": "pressure", "score": 3.0, "contribution": 1.0}],
                      top_steps=[{"ts": ts, "weight": 1.0}], origin="pressure", ticks=seq + 1)


def outbox_cost(directory: Path, sync: str, n: int = 500) -> dict:
    box = Outbox(directory / f"cost-{sync}.sqlite", max_events=100_000, max_age_s=86400, sync=sync)
    payload = json.dumps(alert(0, time.time()).to_dict())
    adds, acks, ids = [], [], []
    for i in range(n):
        t = time.perf_counter()
        ids.append(box.add("bench-1", i, "update", payload))
        adds.append(time.perf_counter() - t)
    for row in ids:
        t = time.perf_counter()
        box.ack(row)
        acks.append(time.perf_counter() - t)
    box.close()
    return {"add": percentiles(adds), "ack": percentiles(acks), "synchronous": sync.upper(), "journal": "WAL"}


def latency(directory: Path, port: int, rate: float, seconds: float, sync: str) -> dict:
    cfg = config.from_dict({
        "node": {"id": "bench", "site": "lab"}, "sensors": ["pressure"], "state_dir": str(directory / "state"),
        "sources": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port},
                     "topics": {SAMPLES_TOPIC: "*"}, "qos": 1}],
        "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port}, "outbox": {"sync": sync}}]})
    sent: dict[int, float] = {}
    arrived: dict[int, float] = {}
    done = threading.Event()
    total = int(rate * seconds)

    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-subscriber", protocol=mqtt.MQTTv5)

    def on_message(client, userdata, msg):
        seq = json.loads(msg.payload)["seq"]
        arrived.setdefault(seq, time.perf_counter())
        if len(arrived) >= total:
            done.set()
    subscriber.on_message = on_message
    subscriber.on_connect = lambda c, u, f, rc, p: c.subscribe("stad/lab/bench/alerts", qos=1)
    subscriber.connect("127.0.0.1", port)
    subscriber.loop_start()

    source = MqttSource(cfg.sources[0], ["pressure"], Rejects())
    sink = MqttSink(cfg.sinks[0], cfg.sink_context())
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher", protocol=mqtt.MQTTv5)
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    time.sleep(1.0)                 # every client connected and subscribed

    def publish_samples():
        start = time.perf_counter()
        for seq in range(total):
            time.sleep(max(0.0, start + seq / rate - time.perf_counter()))
            sent[seq] = time.perf_counter()
            publisher.publish(SAMPLES_TOPIC, json.dumps({"sensor": "pressure", "value": float(seq)}), qos=1)
    threading.Thread(target=publish_samples, daemon=True).start()

    emits = []
    records = source.records()
    for seq in range(total):
        rec = next(records)
        t = time.perf_counter()
        sink.emit(alert(int(rec.values["pressure"]), rec.ts))
        emits.append(time.perf_counter() - t)
    done.wait(timeout=30)
    source.close()
    sink.close()
    for c in (publisher, subscriber):
        c.disconnect()
        c.loop_stop()
    lat = [arrived[s] - sent[s] for s in arrived if s in sent]
    return {"rate_per_s": rate, "seconds": seconds, "outbox_sync": sync, "events": total, "received": len(arrived),
            "lost": total - len(arrived), "sample_in_to_alert_received": percentiles(lat),
            "sink_emit": percentiles(emits)}


def machine() -> dict:
    info = machine_info(("numpy", "paho-mqtt"))
    info["mosquitto"] = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()[0]
    return info


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=100.0, help="alert events per second")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--sync", choices=["normal", "full"], default="normal", help="outbox.sync for the latency run")
    p.add_argument("--dir", default=None, help="where the outbox files go (default: the system temp dir)")
    args = p.parse_args()
    if args.dir is not None and not Path(args.dir).is_dir():
        p.error(f"--dir {args.dir}: not a directory")
    if shutil.which("mosquitto") is None:
        print(json.dumps({"error": "mosquitto is not installed"}))
        return 1
    directory = Path(tempfile.mkdtemp(prefix="stad-bench-mqtt-", dir=args.dir))
    broker, port = start_mosquitto(directory)
    try:
        result = {"bench": "mqtt", "machine": machine(),
                  "outbox_write": {sync: outbox_cost(directory, sync) for sync in ("normal", "full")},
                  "latency": latency(directory, port, args.rate, args.seconds, args.sync)}
    finally:
        broker.kill()
        broker.wait()
        shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
