"""An operator's verdict on an alert raised before the gateway restarted is taken, not refused.

The agent takes feedback on "one of this node's latest 1000 alerts", and saves what feedback
taught in state_dir/feedback.json so that it survives a restart. But the alerts it knew were saved
only with a verdict: after a restart (an upgrade at night, a crash) every alert raised since the
last verdict was unknown — user4's centre got `unknown alert_id … (not one of the latest 1000 alerts
of this node)` for the incident it was reviewing, the one the restart had interrupted.
"""
from __future__ import annotations

import json

import paho.mqtt.publish as publish
import yaml

from conftest import PUMP, interrupt_agent as stop, start_logged_agent as start_agent, wait_until
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures
from payloads import check_mqtt

NODE, SITE = "gw-fb-restart", "lab"
BASE = f"stad/{SITE}/{NODE}"


def test_a_verdict_on_an_alert_from_before_a_restart_is_accepted(tmp_path, broker):
    cfg = {"node": {"id": NODE, "site": SITE}, "tick_s": 1, "sensors": PUMP,
           "sources": [{"type": "simulate", "scenario": "pump", "seed": 3, "speed": 40, "duration_s": None,
                        "anomalies": [{"kind": "spike", "at_s": at, "duration_s": 30, "target": "pressure",
                                       "magnitude": 4} for at in range(300, 100_000, 200)]}],
           "window": {"steps": 16}, "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]},
           "alerts": {"update_interval_s": 5, "cooldown_ticks": 2},
           "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.2,
                                                 "reconnect_max_s": 1.0}, "feedback": {}}],
           "state_dir": str(tmp_path / "state")}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    centre = Collector(broker.port, [f"{BASE}/feedback/result", f"{BASE}/alerts"])
    centre.wait_subscribed()
    agent = start_agent(path, tmp_path)
    try:
        assert centre.wait_for(lambda ms: any(m.topic.endswith("/alerts") for m in ms), 120), \
            (tmp_path / "agent.err").read_text()
    finally:
        assert stop(agent) == 0        # a clean stop, no verdict given in this life
    alert_id = json.loads(centre.on("/alerts")[0].payload)["alert_id"]

    agent = start_agent(path, tmp_path, name="agent2")
    try:
        # Sent again until answered: a message sent before the new process subscribed reaches no one.
        def answered() -> bool:
            publish.single(f"{BASE}/feedback", json.dumps({"alert_id": alert_id, "verdict": "false_alarm"}),
                           qos=1, hostname="127.0.0.1", port=broker.port)
            return centre.wait_for(lambda ms: any(m.topic.endswith("/result") for m in ms), 1.0)
        assert wait_until(answered, 90), (tmp_path / "agent2.err").read_text()
        answer = check_mqtt(*[(m.topic, m.payload) for m in centre.on("/feedback/result")][0])
        assert answer["alert_id"] == alert_id
        assert answer["accepted"], answer["detail"]
        assert "threshold lifted" in answer["detail"]
    finally:
        assert stop(agent) == 0
        centre.close()
