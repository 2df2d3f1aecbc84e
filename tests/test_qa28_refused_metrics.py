"""`/metrics` shows the topics the broker refuses (qa28): a real agent with the MQTT sink at a real Mosquitto
whose dynamic-security ACL lets it publish its alerts and faults but not its status or health.

Before: health's `sinks.mqtt.refused_topics` (qa27) had no Prometheus series; a refused status (and so a lost
Last Will) was in the log and the retained health only — the one place a refused health cannot reach.
"""
from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import PUMP, free_port, interrupt_agent as stop, start_logged_agent as start_agent, wait_until
from mqtt_acl import PASSWORD, make_acl_broker  # noqa: F401 — make_acl_broker: a pytest fixture

pytest.importorskip("prometheus_client", reason="the prometheus extra is not installed")

NODE, SITE = "gw-7", "plant-a"
BASE = f"stad/{SITE}/{NODE}"


def test_a_refused_status_and_health_are_series_on_metrics(tmp_path: Path, make_acl_broker):
    broker = make_acl_broker({"gw": {"write": [f"{BASE}/alerts", f"{BASE}/faults"]}})
    (tmp_path / "gw.pw").write_text(PASSWORD + "\n")
    port = free_port()
    cfg = {"node": {"id": NODE, "site": SITE}, "sensors": PUMP, "tick_s": 1,
           "sources": [{"type": "simulate", "scenario": "pump", "seed": 1, "speed": 50, "duration_s": None}],
           "window": {"steps": 16}, "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]},
           "sinks": [{"type": "mqtt", "health_interval_s": 1,
                      "broker": {"host": "127.0.0.1", "port": broker.port, "username": "gw",
                                 "password": {"file": str(tmp_path / "gw.pw")}}}],
           "metrics": {"listen": f"127.0.0.1:{port}"}, "state_dir": str(tmp_path / "state")}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    agent = start_agent(path, tmp_path)
    last = {"text": ""}

    def refused() -> set[str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                last["text"] = r.read().decode()
        except OSError:
            return set()
        return set(re.findall(r'^stad_broker_refused_topic\{sink="mqtt",topic="([^"]+)"\} 1\.0$', last["text"],
                              re.M))

    try:
        assert wait_until(lambda: refused() == {f"{BASE}/status", f"{BASE}/health"}, 120, agent), \
            (last["text"][-3000:], (tmp_path / "agent.err").read_text()[-3000:])
        assert "# TYPE stad_broker_refused_topic gauge" in last["text"]
    finally:
        stop(agent)
