"""The retained health names the open alert, so a subscriber that missed events can set its table right.

Health said only `alert_active: true/false`. A control room that missed alert events — a fresh
console, a session the broker expired, events dropped by `alert_expiry_s` (user4 saw `#5 update`
and `#6 end` arrive without `#0`–`#4`) — could not tell which alert is open, nor that one it shows
open has ended: an `update` is no heartbeat (it comes only when the peak grew or the top sensors
changed), so the wait could last hours. `alert_open` gives its id, the seq of its last event sent
and its start; null when none is open.
"""
from __future__ import annotations

import json

import yaml

from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures
from payloads import check_mqtt
from restart_helpers import AgentProcess, row, write_config

BASE = "stad/lab/gw-restart"


def test_the_retained_health_names_the_open_alert_and_null_once_it_ended(tmp_path, broker):
    path = write_config(tmp_path, mqtt_port=broker.port)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"][0].update(health_interval_s=1)
    cfg["sinks"][0]["broker"].update(reconnect_min_s=0.2, reconnect_max_s=1)
    path.write_text(yaml.safe_dump(cfg))
    centre = Collector(broker.port, [f"{BASE}/alerts", f"{BASE}/health", f"{BASE}/status"])
    centre.wait_subscribed()
    agent = AgentProcess(tmp_path, path, "agent")
    try:
        agent.ready()
        agent.feed([row(i) for i in range(186)])      # rows 170-199 step: an alert opens and stays open

        def health_naming_it(msgs) -> bool:
            new = [json.loads(m.payload) for m in msgs if m.topic.endswith("/alerts")]
            return bool(new) and any(json.loads(m.payload).get("alert_open", {}) and
                                     json.loads(m.payload)["alert_open"]["alert_id"] == new[0]["alert_id"]
                                     for m in msgs if m.topic.endswith("/health"))
        assert centre.wait_for(health_naming_it, 60), agent.stderr()
        first = json.loads(centre.on("/alerts")[0].payload)
        told = [check_mqtt(m.topic, m.payload)["alert_open"] for m in centre.on("/health")]
        told = [t for t in told if t]
        sent = {json.loads(m.payload)["seq"] for m in centre.on("/alerts")}
        assert told[0]["alert_id"] == first["alert_id"] and told[0]["start"] == first["start"]
        assert told[0]["seq"] in sent, (told[0], sorted(sent))

        agent.feed([row(i) for i in range(186, 260)])  # back to normal: the alert ends
        assert agent.finish() == 0, agent.stderr()
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    # The clean stop's `offline` comes after its last health (one connection, in order).
    assert centre.wait_for(lambda msgs: any(m.topic.endswith("/status") and m.payload == b"offline"
                                            for m in msgs), 60)
    ends = [json.loads(m.payload) for m in centre.on("/alerts") if json.loads(m.payload)["event"] == "end"]
    last = check_mqtt(centre.on("/health")[-1].topic, centre.on("/health")[-1].payload)
    centre.close()
    assert ends and last["alert_open"] is None and last["alert_active"] is False, last["alert_open"]
