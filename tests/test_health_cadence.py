"""The agent's health reaches an MQTT sink as often as its `health_interval_s` asks (suite4's finding).

The run loop took a health snapshot at most every HEALTH_EVERY_S (5 s) whatever the sinks were configured
for, so `health_interval_s: 1` silently meant 5 s. Now the loop's cadence is the most eager sink's.
A real agent (stdin, 0.25-s ticks on this host's clock: tests/silence_feed.py) and a real Mosquitto; the
health payloads' own `uptime_s` say when each snapshot was taken. On a busy machine a turn of the loop can be
late, never early, so the test asks for the shortest gap between snapshots, not every gap."""
from __future__ import annotations

import json

import jsonschema
import yaml

from conftest import REPO
from mqtt_broker import Collector, make_broker  # noqa: F401 — fixtures
from restart_helpers import AgentProcess
from silence_feed import send, warm_and_live, write_config

HEALTH = json.loads((REPO / "agent/schemas/health.schema.json").read_text())


def test_health_comes_as_often_as_the_sinks_interval_not_every_five_seconds(tmp_path, make_broker):
    broker = make_broker()
    cfg = write_config(tmp_path, "gw-cadence", 1)
    doc = yaml.safe_load(cfg.read_text())
    doc["sinks"].insert(0, {"type": "mqtt", "health_interval_s": 1,
                            "broker": {"host": "127.0.0.1", "port": broker.port}})
    cfg.write_text(yaml.safe_dump(doc))
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()
    agent = AgentProcess(tmp_path, cfg, "run")
    try:
        warm_and_live(agent, tmp_path / "state")
        # Records keep coming until six snapshots have arrived (the condition, with a generous deadline).
        for _ in range(240):
            if len(sub.on("/health")) >= 7:
                break
            send(agent, 4)
        assert agent.finish() == 0
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    sub.close()
    healths = [json.loads(m.payload) for m in sub.on("/health")]
    for h in healths:
        jsonschema.validate(h, HEALTH)
    uptimes = [h["uptime_s"] for h in healths][:-1]     # (the last: the stop's own snapshot, whenever it came)
    gaps = [b - a for a, b in zip(uptimes, uptimes[1:]) if b > a]
    assert len(gaps) >= 4, uptimes
    # HEALTH_EVERY_S held every gap ≥ 5 s; the sink's 1 s now, give or take a loop turn (0.5 s) and a busy host.
    assert min(gaps) < 4.0, uptimes
