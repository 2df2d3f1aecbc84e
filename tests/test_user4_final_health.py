"""After a clean stop, the retained health on the broker is the agent's last snapshot, not an earlier one.

Health is published at most every `health_interval_s` and retained, so a control room that
subscribes later reads the last one sent. The agent takes a final snapshot at a clean stop (its
alerts and faults ended, its final counts), but the MQTT sink dropped it when the previous health
had gone out less than `health_interval_s` before: user4's centre read `alert_active: true` for a
gateway that had ended its alert and stopped. Here the interval outlasts the run, so only the start's
health and the final one can be sent; the retained health must carry the run's final counts.

Its schema (agent/schemas/health.schema.json) declares every key it carries: `sinks`, `intake`,
`sd_notify_dropped` and `feedback`, which README tells operators to read, were missing from it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from conftest import PUMP, start_logged_agent
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures

NODE, SITE = "gw-final", "lab"
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "agent/schemas/health.schema.json").read_text())


def test_the_retained_health_after_a_clean_stop_is_the_last_snapshot(tmp_path, broker):
    cfg = {"node": {"id": NODE, "site": SITE}, "tick_s": 1, "sensors": PUMP,
           "sources": [{"type": "simulate", "scenario": "pump", "seed": 1, "speed": 0, "duration_s": 900,
                        "anomalies": [{"kind": "spike", "at_s": 400, "duration_s": 60, "target": "pressure",
                                       "magnitude": 3}]}],
           "window": {"steps": 16}, "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]},
           "alerts": {"update_interval_s": 5, "cooldown_ticks": 2},
           "sinks": [{"type": "jsonl", "path": str(tmp_path / "events.jsonl")},
                     {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port},
                      "health_interval_s": 3600, "feedback": {}}],
           "state_dir": str(tmp_path / "state")}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    agent = start_logged_agent(tmp_path / "agent.yaml", tmp_path)
    assert agent.wait(timeout=120) == 0, (tmp_path / "agent.err").read_text()
    ticks = int(re.search(r"summary: (\d+) ticks", (tmp_path / "agent.err").read_text()).group(1))
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines() if line]
    events: dict[str, int] = {}
    for line in lines:
        if "alert_id" in line:
            events[line["event"]] = events.get(line["event"], 0) + 1
    assert events.get("new"), "the run raises an alert"

    # A subscriber that comes after the stop gets the retained messages.
    late = Collector(broker.port, [f"stad/{SITE}/{NODE}/health", f"stad/{SITE}/{NODE}/status"], persistent=False)
    try:
        assert late.wait_for(lambda msgs: {m.topic.rsplit("/", 1)[1] for m in msgs} == {"health", "status"}, 30)
        [status] = late.on("/status")
        [health] = late.on("/health")
    finally:
        late.close()
    assert status.payload == b"offline"
    got = json.loads(health.payload)
    assert (got["ticks"], got["alert_active"], got["alert_events"]) == (ticks, False, events), \
        f"the retained health is not the last snapshot: ticks {got['ticks']} of {ticks}, events {got['alert_events']}"
    jsonschema.validate(got, SCHEMA)
    undeclared = sorted(set(got) - set(SCHEMA["properties"]))
    assert not undeclared, f"health keys its schema does not declare: {undeclared}"
