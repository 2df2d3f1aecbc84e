"""Operator feedback (agent/feedback.py): the message check against its schema, what a verdict does
to the real Detector (bounded, fading, reversible lift; confirmed never learned as normal), and the
whole path through a real Mosquitto and agent process, across a restart."""
from __future__ import annotations

import json

import jsonschema
import numpy as np
import paho.mqtt.publish as publish
import pytest
import yaml

from agent.config import AlertConfig, ThresholdConfig
from agent.detector import Detector
from agent.feedback import FeedbackConfig, FeedbackMemory, Refused, parse
from agent.threshold import AdaptiveThreshold, calibrate
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures
from payloads import check_mqtt, schema
from conftest import PUMP, interrupt_agent as stop, start_logged_agent as start_agent, wait_until

NODE, SITE = "gw-fb", "lab"
BASE = f"stad/{SITE}/{NODE}"


@pytest.mark.parametrize("payload", [
    b'{"alert_id": "gw-1", "verdict": "false_alarm"}',
    b'{"alert_id": "gw-1", "verdict": "confirmed", "note": "pump cavitation", "operator": "ana"}',
    b'{"alert_id": "gw-1", "verdict": "ack"}',
    b'{"alert_id": "gw-1", "verdict": "maybe"}',
    b'{"alert_id": "", "verdict": "ack"}',
    b'{"alert_id": 7, "verdict": "ack"}',
    b'{"verdict": "ack"}',
    b'{"alert_id": "gw-1"}',
    b'{"alert_id": "gw-1", "verdict": "ack", "extra": 1}',
    b'{"alert_id": "gw-1", "verdict": "ack", "note": null}',
    b'{"alert_id": "gw-1", "verdict": "ack", "operator": "' + b"x" * 201 + b'"}',
    b'["gw-1", "ack"]',
    b'null',
])
def test_the_check_agrees_with_the_shipped_schema(payload):
    validator = jsonschema.Draft202012Validator(schema("feedback"))
    valid = validator.is_valid(json.loads(payload))
    try:
        parse(payload)
        parsed = True
    except Refused:
        parsed = False
    assert parsed == valid


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe", "not JSON"), (b"{", "not JSON"), (b'"x"', "expected a JSON object"),
    (b'{"alert_id": "a", "verdict": "ack", "x": 1}', "unknown key 'x'"),
    (b'{"alert_id": "a", "verdict": "nope"}', "verdict: expected one of false_alarm, confirmed, ack"),
    (b"{" + b" " * 5000 + b"}", "message too long"),
    (b"[" * 3000, "not JSON"),          # was a RecursionError, on paho's network thread
])
def test_malformed_feedback_is_refused_in_words(payload, reason):
    with pytest.raises(Refused, match=reason):
        parse(payload)


def detector(tmp_path, accept_after_s=3600.0, **fb):
    thr_cfg = ThresholdConfig(method="quantile", risk=1e-3, adapt=False)   # the fallback's risk (its default before skab32)
    calm = np.random.default_rng(0).normal(1.0, 0.1, 500)
    det = Detector(AlertConfig(min_duration_ticks=1, clear_ticks=1, cooldown_ticks=0, accept_after_s=accept_after_s),
                   NODE, SITE, 1.0, {"numpy": AdaptiveThreshold(thr_cfg, calibrate(calm, thr_cfg))})
    det.feedback = FeedbackMemory(FeedbackConfig(**fb), tmp_path / "feedback.json")
    return det


def run(det, ts, scores):
    """Step the detector over scores from tick time ts; the alert events and the decisions."""
    events, decisions = [], []
    for i, s in enumerate(scores):
        d = det.step(ts + i, s, "numpy", lambda: {"model_id": "t"},
                     lambda: {"top_sensors": [], "top_steps": [], "origin": None})
        events += d.events
        decisions.append(d)
    return events, decisions


def test_false_alarm_lifts_the_threshold_bounded_fading_and_undone_by_confirmed(tmp_path):
    det = detector(tmp_path, max_lift=0.5, half_life_s=100)
    base = det.thresholds["numpy"].value
    events, _ = run(det, 0, [0.5 * base] * 5 + [1.3 * base] * 3 + [0.5 * base] * 3)
    first = events[0].alert_id
    assert [e.event for e in events] == ["new", "end"]
    mem = det.feedback
    with pytest.raises(Refused, match="unknown alert_id"):
        mem.apply("gw-fb-nope", "false_alarm")

    assert "lifted by 37%" in mem.apply(first, "false_alarm")         # 1.3 × 1.05 − 1
    assert det.threshold("numpy") == pytest.approx(base * 1.365, rel=1e-3)
    events, _ = run(det, 11, [1.3 * base] * 3 + [0.5 * base] * 3)
    assert events == [], "the same pattern is now normal"
    run(det, 17, [0.5 * base] * 100)                                   # ~one half-life later
    assert mem.lift(mem.now) == pytest.approx(0.365 / 2, rel=0.05)

    events, _ = run(det, 117, [4.0 * base] * 2 + [0.5 * base] * 3)    # a big false alarm: lift capped
    mem.apply(events[0].alert_id, "false_alarm")
    assert mem.lift(mem.now) == pytest.approx(0.5)

    reloaded = FeedbackMemory(mem.cfg, tmp_path / "feedback.json")   # survives a restart
    assert reloaded.lift(mem.now) == pytest.approx(0.5) and first in reloaded.known

    assert "lift removed" in mem.apply(events[0].alert_id, "confirmed")    # reversible
    assert mem.lift(mem.now) == pytest.approx(0.365 * 0.5 ** ((mem.now - 10) / 100), rel=0.01)
    mem.apply(first, "confirmed")
    assert mem.lift(mem.now) == 0 and det.threshold("numpy") == base
    assert mem.apply(first, "ack") == "acknowledged"


def test_a_confirmed_alert_is_never_learned_as_normal(tmp_path):
    for confirm in (False, True):
        det = detector(tmp_path / str(confirm), accept_after_s=5)
        (tmp_path / str(confirm)).mkdir()
        base = det.thresholds["numpy"].value
        events, decisions = run(det, 0, [0.5 * base] * 3 + [2.0 * base])
        if confirm:
            det.feedback.apply(events[0].alert_id, "confirmed")
        _, decisions = run(det, 4, [2.0 * base] * 10)
        learned = [d.calm for d in decisions]
        assert any(learned) != confirm, learned


def agent_yaml(tmp_path, port):
    spikes = [{"kind": "spike", "at_s": at, "duration_s": 30, "target": "pressure", "magnitude": 4}
              for at in range(300, 100_000, 200)]
    cfg = {"node": {"id": NODE, "site": SITE}, "tick_s": 1, "sensors": PUMP,
           "sources": [{"type": "simulate", "scenario": "pump", "seed": 3, "speed": 40, "duration_s": None,
                        "anomalies": spikes}],
           "window": {"steps": 16}, "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]},
           "alerts": {"update_interval_s": 5, "cooldown_ticks": 2},
           "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.2,
                                                 "reconnect_max_s": 1.0},
                      "feedback": {"max_lift": 0.5, "half_life_s": 3600}}],
           "state_dir": str(tmp_path / "state")}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_feedback_over_mqtt_is_answered_counted_and_survives_a_restart(tmp_path, broker):
    results = Collector(broker.port, [f"{BASE}/feedback/result", f"{BASE}/alerts"])
    results.wait_subscribed()
    path = agent_yaml(tmp_path, broker.port)
    agent = start_agent(path, tmp_path)

    def send(payload) -> None:
        publish.single(f"{BASE}/feedback", payload, qos=1, hostname="127.0.0.1", port=broker.port)

    def answers(n):
        assert results.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/result")]) >= n, 60), \
            (tmp_path / "agent.err").read_text()
        return [check_mqtt(m.topic, m.payload) for m in results.on("/feedback/result")]

    try:
        assert results.wait_for(lambda ms: any(m.topic.endswith("/alerts") for m in ms), 120), \
            (tmp_path / "agent.err").read_text()
        alert_id = json.loads(results.on("/alerts")[0].payload)["alert_id"]
        send(json.dumps({"alert_id": alert_id, "verdict": "false_alarm", "operator": "ana"}))
        got = answers(1)
        assert got[0]["accepted"] and got[0]["alert_id"] == alert_id and "threshold lifted" in got[0]["detail"]
        send(b"{not json")
        send(json.dumps({"alert_id": "gw-fb-19700101T000000Z", "verdict": "confirmed"}))
        got = answers(3)
        assert [(g["accepted"], g["verdict"]) for g in got[1:]] == [(False, None), (False, "confirmed")]
        assert got[1]["detail"].startswith("not JSON") and "unknown alert_id" in got[2]["detail"]
        assert agent.poll() is None, "a bad message must not stop the agent"
    finally:
        assert stop(agent) == 0
    summary = (tmp_path / "agent.err").read_text()
    assert "feedback accepted: false_alarm" in summary

    # After a restart the agent still knows the alert and the lift it was given.
    agent = start_agent(path, tmp_path, name="agent2")
    try:
        # Sent again until answered: a message sent before the new process subscribed reaches no one.
        def answered() -> bool:
            send(json.dumps({"alert_id": alert_id, "verdict": "confirmed"}))
            return results.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/result")]) >= 4, 1.0)
        assert wait_until(answered, 90), (tmp_path / "agent2.err").read_text()
        got = answers(4)
        assert got[3]["accepted"] and "lift removed" in got[3]["detail"], got[3]
    finally:
        assert stop(agent) == 0
        results.close()


def test_feedback_keys_are_checked_with_key_paths(tmp_path):
    from agent.config import from_dict
    from agent.typed import ConfigError
    d = yaml.safe_load(agent_yaml(tmp_path, 1883).read_text())
    d["sinks"][0]["feedback"] = {"max_lift": -1, "bogus": 1}
    with pytest.raises(ConfigError) as exc:
        from_dict(d)
    assert sorted(p.split(":")[0] for p in exc.value.problems) == ["sinks[0].feedback.bogus", "sinks[0].feedback.max_lift"]
