"""Everything an agent publishes crosses the shipped gateway bridge to the centre, sensor faults included.

configs/mosquitto/gateway-bridge.conf forwarded `+/sensors` — a topic the agent never publishes —
and not `+/faults`, so a control room following the fleet on the central broker never saw a sensor
fault (user4, a centre subscribing to alerts, faults, status and health). Here a real agent raises
alerts and sensor faults on its site broker; a viewer on the central broker (the shipped ACL) must
get every event of the agent's JSONL file, each on its own topic, and the status and health.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import PUMP, interrupt_agent as stop, start_logged_agent
from fleet_brokers import make_fleet
from mqtt_broker import MOSQUITTO, Collector

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="the mosquitto binary is not installed")
SITE, NODE = "plant-a", "gw-a1"


def agent_yaml(tmp_path: Path, port: int) -> Path:
    cfg = {"node": {"id": NODE, "site": SITE}, "tick_s": 1, "sensors": PUMP,
           "sources": [{"type": "simulate", "scenario": "pump", "seed": 1, "speed": 0, "duration_s": 1500,
                        "anomalies": [{"kind": "spike", "at_s": 400, "duration_s": 60, "target": "pressure",
                                       "magnitude": 3},
                                      {"kind": "dropout", "at_s": 1200, "duration_s": 120, "target": "flow"}]}],
           "window": {"steps": 16}, "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]},
           "alerts": {"update_interval_s": 5, "cooldown_ticks": 2},
           "sinks": [{"type": "jsonl", "path": str(tmp_path / "events.jsonl")},
                     {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.2,
                                                 "reconnect_max_s": 1.0}}],
           "state_dir": str(tmp_path / "state")}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def event_key(event: dict) -> tuple[str, str, int]:
    return ("faults", event["fault_id"], event["seq"]) if "fault_id" in event else ("alerts", event["alert_id"],
                                                                                     event["seq"])


def test_sensor_faults_alerts_status_and_health_reach_the_centre(tmp_path):
    fleet = make_fleet((SITE,), clients=("viewer",))
    agent: subprocess.Popen | None = None
    centre = None
    try:
        fleet.start()
        ca = fleet.tls.ca
        cert, key = fleet.certs["viewer"]
        centre = Collector(fleet.central.port, ["fleet/#"], client_id="centre-viewer", tls=(ca, cert, key))
        centre.wait_subscribed(30)
        fleet.wait_bridged()
        agent = start_logged_agent(agent_yaml(tmp_path, fleet.sites[SITE].port), tmp_path)
        assert agent.wait(timeout=180) == 0, (tmp_path / "agent.err").read_text()
        written = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines() if line]
        want = {event_key(e) for e in written}
        assert {k[0] for k in want} == {"alerts", "faults"}, "the run raises alerts and sensor faults"
        base = f"fleet/{SITE}/{NODE}"

        def heard(messages) -> set:
            out = set()
            for m in messages:
                kind = m.topic[len(base) + 1:]
                if m.topic.startswith(base + "/") and kind in ("alerts", "faults"):
                    out.add((kind, *event_key(json.loads(m.payload))[1:]))
            return out

        def offline(messages) -> bool:
            return any(m.topic == f"{base}/status" and m.payload == b"offline" for m in messages)

        centre.wait_for(lambda msgs: want <= heard(msgs) and offline(msgs), timeout=90)
        with centre.lock:
            got = list(centre.messages)
        missing = sorted(want - heard(got))
        assert not missing, f"{len(missing)} of {len(want)} events never reached the centre, e.g. {missing[:3]}"
        assert offline(got) and any(m.topic == f"{base}/health" for m in got)
    finally:
        if agent is not None:
            stop(agent)
        if centre is not None:
            centre.close()
        fleet.kill()
