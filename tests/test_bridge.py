"""configs/mosquitto/: the gateway bridge and the central broker, as shipped, on loopback.

Two site brokers (gateway-bridge.conf for plant-a and plant-b) bridge over TLS with client
certificates to a central broker (central.conf + fleet.acl); three agents publish to their site
broker; `stad-agent listen --session` follows every node on the central broker. The central
broker is SIGKILLed mid-stream and restarted: every alert event each agent wrote to its JSONL
sink must reach listen, under fleet/<site>/<node>/. The kill comes after the central saved what it
had acknowledged (the site brokers paused meanwhile, Fleet.kill_central_after_a_save): Mosquitto's
window between its PUBACK and its next save is the documented limit, not what this test is about.
An operator's feedback (its own certificate) travels the other way, centre → bridge → agent, and its
answer comes back.
"""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_broker import MOSQUITTO
from conftest import PUMP, interrupt_agent as stop, wait_until
from fleet_brokers import make_fleet

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="the mosquitto binary is not installed")


def agent_yaml(tmp_path: Path, site: str, node: str, port: int, seed: int) -> Path:
    spikes = [{"kind": "spike", "at_s": at, "duration_s": 30, "target": "pressure", "magnitude": 4}
              for at in range(300, 1500, 150)]
    cfg = {"node": {"id": node, "site": site}, "tick_s": 1, "sensors": PUMP,
           "sources": [{"type": "simulate", "scenario": "pump", "seed": seed, "speed": 60, "duration_s": 1600,
                        "anomalies": spikes}],
           "window": {"steps": 16}, "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]},
           "alerts": {"update_interval_s": 5, "cooldown_ticks": 2},
           "sinks": [{"type": "jsonl", "path": str(tmp_path / f"{node}.jsonl")},
                     {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.2,
                                                 "reconnect_max_s": 1.0}, "feedback": {}}],
           "state_dir": str(tmp_path / f"state-{node}")}
    path = tmp_path / f"{node}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def keys(path: Path) -> set[tuple[str, str, str, int]]:
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text().splitlines():
        if line.strip():
            e = json.loads(line)
            out.add((e["site"], e["node"], e["alert_id"], e["seq"]))
    return out


def feedback_round_trip(port: int, ca: Path, cert: Path, key: Path, alert: dict) -> dict:
    """An operator at the centre sends a verdict on one alert; the answer that comes back across the bridge."""
    answers: queue.Queue = queue.Queue()
    subscribed = threading.Event()
    base = f"fleet/{alert['site']}/{alert['node']}"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="operator-console", protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
    client.on_connect = lambda c, *a: c.subscribe(f"{base}/feedback/result", qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = lambda c, u, msg: answers.put(json.loads(msg.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert subscribed.wait(30), "the operator could not subscribe at the centre"
        client.publish(f"{base}/feedback", json.dumps({"alert_id": alert["alert_id"], "verdict": "ack",
                                                       "operator": "ops"}), qos=1)
        return answers.get(timeout=60)
    finally:
        client.disconnect()
        client.loop_stop()


def test_alerts_cross_the_bridge_while_the_central_broker_is_killed_and_restarted(tmp_path):
    procs: list[subprocess.Popen] = []
    fleet = make_fleet(("plant-a", "plant-b"))
    central, sites, tls = fleet.central, fleet.sites, fleet.tls
    central_port = central.port
    viewer_cert, viewer_key = fleet.certs["viewer"]
    operator_cert, operator_key = fleet.certs["operator"]
    try:
        fleet.start()
        listen_out = tmp_path / "listen.jsonl"
        listen_err = tmp_path / "listen.err"
        listen = subprocess.Popen(
            [sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port", str(central_port),
             "--prefix", "fleet", "--ca-file", str(tls.ca), "--cert-file", str(viewer_cert), "--key-file",
             str(viewer_key), "--session", "fleet-viewer", "--json", "--out", str(listen_out)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=listen_err.open("w"))
        procs.append(listen)
        assert wait_until(lambda: "following" in listen_err.read_text() or listen.poll() is not None, 30), \
            listen_err.read_text()
        central.wait_saved("fleet-viewer")      # its session survives the SIGKILL below
        fleet.wait_bridged()
        nodes = [("plant-a", "gw-a1", sites["plant-a"]), ("plant-a", "gw-a2", sites["plant-a"]),
                 ("plant-b", "gw-b1", sites["plant-b"])]
        agents = [subprocess.Popen([sys.executable, "-m", "agent", "run", "-c",
                                    str(agent_yaml(tmp_path, site, node, broker.port, seed))],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(tmp_path / f"{node}.err").open("w"))
                  for seed, (site, node, broker) in enumerate(nodes, start=1)]
        procs += agents

        def written() -> set:
            return set().union(*(keys(tmp_path / f"{node}.jsonl") for _, node, _ in nodes))

        # Mid-stream: some events have crossed, the agents are still running.
        assert wait_until(lambda: len(keys(listen_out)) >= 3, 120), listen_err.read_text()
        # Operator feedback goes the other way: centre → bridge → site broker → agent, and its answer back.
        alert = json.loads(listen_out.read_text().splitlines()[0])
        answer = feedback_round_trip(central_port, tls.ca, operator_cert, operator_key, alert)
        assert answer["accepted"] and answer["alert_id"] == alert["alert_id"] and answer["node"] == alert["node"]
        assert all(a.poll() is None for a in agents), "the agents ended before the outage"
        fleet.kill_central_after_a_save()       # not in the documented window: acknowledged, not yet saved
        during = len(written())
        assert wait_until(lambda: len(written()) >= during + 3 or all(a.poll() is not None for a in agents), 120)
        central.start()
        for a in agents:
            a.wait(timeout=300)
        want = written()
        assert {k[1] for k in want} == {"gw-a1", "gw-a2", "gw-b1"}, "every node raised alerts"
        assert wait_until(lambda: want <= keys(listen_out), 120), \
            f"lost across the bridge: {sorted(want - keys(listen_out))[:10]}"
        got = [json.loads(line) for line in listen_out.read_text().splitlines()]
        # every event arrived under its own site: remapped topics, the ACL let each bridge write only there
        assert {(e["site"], e["node"]) for e in got} == {(s, n) for s, n, _ in nodes}
    finally:
        for p in procs:
            stop(p)
        fleet.kill()
