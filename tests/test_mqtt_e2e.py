"""The agent as a process (`python -m agent run`), a real mosquitto, and `stad-agent listen`."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agent.broker import BrokerConfig
from agent.records import Rejects
from agent.sources.mqtt import MqttSource, MqttSourceConfig
from conftest import PUMP, interrupt_agent as stop, start_logged_agent as start_agent, wait_until
from payloads import check, check_jsonl, check_mqtt
from mqtt_broker import Collector, MosquittoSub, make_broker, broker, publish_retained  # noqa: F401 — fixtures

ROOT = Path(__file__).resolve().parent.parent
NODE, SITE = "gw-e2e", "lab"
BASE = f"stad/{SITE}/{NODE}"


def agent_config(tmp_path: Path, port: int, *, duration_s: float | None = 1500, speed: float = 0,
                 broker: dict | None = None) -> Path:
    cfg = {
        "node": {"id": NODE, "site": SITE}, "tick_s": 1, "sensors": PUMP,
        "sources": [{"type": "simulate", "scenario": "pump", "seed": 1, "speed": speed, "duration_s": duration_s,
                     "anomalies": [{"kind": "spike", "at_s": 400, "duration_s": 60, "target": "pressure", "magnitude": 3},
                                   {"kind": "drift", "at_s": 700, "duration_s": 300, "target": "temp_motor",
                                    "magnitude": 3},
                                   {"kind": "dropout", "at_s": 1200, "duration_s": 120, "target": "flow"}]}],
        "window": {"steps": 16}, "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]},
        "alerts": {"update_interval_s": 5, "cooldown_ticks": 2},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")},
                  {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.2,
                                              "reconnect_max_s": 1.0, **(broker or {})}}],
        "state_dir": str(tmp_path / "state"),
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def start_listen(tmp_path: Path, port: int, *args: str, name: str = "listen") -> subprocess.Popen:
    err = tmp_path / f"{name}.err"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port", str(port),
                             *args], cwd=ROOT, stdout=(tmp_path / f"{name}.out").open("w"), stderr=err.open("w"))
    wait_until(lambda: "following" in err.read_text() or proc.poll() is not None)
    return proc


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def outbox_keys(tmp_path: Path) -> list[tuple[str, int]]:
    path = tmp_path / "state" / "mqtt-outbox.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute("SELECT alert_id, seq FROM events ORDER BY id")]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()




def test_alerts_arrive_at_mosquitto_sub_and_listen_and_match_the_schema(tmp_path, broker):
    publish_retained(broker.port, f"stad/{SITE}/other-node/status", "online")
    sub = MosquittoSub(broker.port, [f"{BASE}/alerts"], count=100_000, timeout_s=60)
    others = MosquittoSub(broker.port, [f"{BASE}/status", f"{BASE}/health", f"{BASE}/faults"], count=100_000,
                          timeout_s=60)
    listen = start_listen(tmp_path, broker.port, "--site", SITE, "--out", str(tmp_path / "heard.jsonl"))
    agent = start_agent(agent_config(tmp_path, broker.port), tmp_path)
    assert agent.wait(timeout=60) == 0, (tmp_path / "agent.err").read_text()
    written = check_jsonl(tmp_path / "alerts.jsonl")       # every line, alert and fault, fits its schema
    assert {"alert", "fault"} <= {"fault" if "fault_id" in line else line["kind"] for line in written}
    expected = [(e["alert_id"], e["seq"]) for e in written if e.get("kind") == "alert"]
    assert len(expected) > 10
    faults = [(e["fault_id"], e["seq"]) for e in written if "fault_id" in e]
    assert wait_until(lambda: (tmp_path / "heard.jsonl").exists()
                      and len(jsonl(tmp_path / "heard.jsonl")) >= len(expected) + len(faults))
    assert stop(listen) == 0
    # listen's --out holds the fault events too (from …/faults), told apart by `event`, as the jsonl sink's file
    heard_faults = [check("fault", e) for e in jsonl(tmp_path / "heard.jsonl") if "fault_id" in e]
    assert [(e["fault_id"], e["seq"]) for e in heard_faults] == faults
    heard = [e for e in jsonl(tmp_path / "heard.jsonl") if "fault_id" not in e]
    via_sub = [check_mqtt(topic, payload) for topic, payload in sub.take(len(expected))]
    for event in heard:
        check("alert", event)
    # Status, health and fault events too; the clean stop's `offline` comes after all of them.
    rest = others.until(lambda got: (f"{BASE}/status", "offline") in got)
    assert {topic.rsplit("/", 1)[1] for topic, _ in rest} == {"status", "health", "faults"}, rest
    for topic, payload in rest:
        check_mqtt(topic, payload)
    assert [(e["alert_id"], e["seq"]) for e in heard] == expected
    assert [(e["alert_id"], e["seq"]) for e in via_sub] == expected
    shown = (tmp_path / "listen.out").read_text()
    assert f"{SITE}/other-node is online" in shown
    assert f"{SITE}/{NODE} is online" in shown and f"{SITE}/{NODE} is offline" in shown
    assert f"{SITE}/{NODE} NEW    {expected[0][0]} #0" in shown


@pytest.mark.parametrize("tier", ["tflite", "onnx"])
def test_every_payload_of_the_model_tiers_fits_the_schemas(tmp_path, broker, tier):
    """The demo corridor scored by the bundled model: alerts (with the model's sha256), fault
    events and health, from the jsonl file and from MQTT, all validate."""
    pytest.importorskip({"tflite": "ai_edge_litert", "onnx": "onnxruntime"}[tier])
    bundle = ROOT / "agent" / "models" / "demo-corridor"
    if not (bundle / "manifest.json").exists():
        pytest.skip("the demo bundle (agent/models/demo-corridor) is not built")
    cfg = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    cfg["sources"][0].update(speed=0, duration_s=114_000)   # past the first incident, the spike, a stuck sensor
    cfg["scoring"]["chain"] = [tier, "numpy"]
    cfg["sinks"] = [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")},
                    {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port}}]
    cfg["state_dir"] = str(tmp_path / "state")
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    base = f"stad/{cfg['node']['site']}/{cfg['node']['id']}"
    sub = MosquittoSub(broker.port, [f"{base}/#"], count=100_000, timeout_s=120)
    agent = start_agent(tmp_path / "agent.yaml", tmp_path)
    assert agent.wait(timeout=120) == 0, (tmp_path / "agent.err").read_text()
    written = check_jsonl(tmp_path / "alerts.jsonl")
    alerts = [line for line in written if line.get("kind") == "alert"]
    assert alerts and {a["tier"] for a in alerts} == {tier}
    assert {a["model_sha256"] for a in alerts} == {
        json.loads((bundle / "manifest.json").read_text())["artifacts"][f"{tier}_int8"]["sha256"]}
    assert any(line.get("event") == "fault" and line["kind"] == "stuck" for line in written)
    got = sub.until(lambda m: (f"{base}/status", "offline") in m, 60)
    for topic, payload in got:
        check_mqtt(topic, payload)
    kinds = [topic.rsplit("/", 1)[1] for topic, _ in got]
    assert kinds.count("alerts") == len(alerts) and "health" in kinds and "faults" in kinds


def test_last_will_marks_a_killed_agent_offline_and_a_restart_online(tmp_path, broker):
    watcher = Collector(broker.port, [f"{BASE}/status"], persistent=False)
    states = lambda: [m.payload.decode() for m in watcher.on("/status")]  # noqa: E731
    config_path = agent_config(tmp_path, broker.port, duration_s=None, speed=60)
    agent = start_agent(config_path, tmp_path)
    assert wait_until(lambda: states()[-1:] == ["online"]), (tmp_path / "agent.err").read_text()
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    assert wait_until(lambda: states()[-1:] == ["offline"])
    assert MosquittoSub(broker.port, [f"{BASE}/status"], count=1).lines() == [(f"{BASE}/status", "offline")]
    again = start_agent(config_path, tmp_path, "agent2")
    assert wait_until(lambda: states()[-1:] == ["online"])
    assert stop(again) == 0
    assert wait_until(lambda: states()[-1:] == ["offline"])      # a clean stop says so itself
    watcher.close()


def test_events_left_unacknowledged_by_a_killed_agent_are_replayed_after_restart(tmp_path, make_broker):
    broker = make_broker(start=False)
    config_path = agent_config(tmp_path, broker.port, duration_s=10_000_000)
    agent = start_agent(config_path, tmp_path)
    assert wait_until(lambda: len(outbox_keys(tmp_path)) >= 10, 60), (tmp_path / "agent.err").read_text()
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    left = outbox_keys(tmp_path)
    assert "unreachable" in (tmp_path / "agent.err").read_text()
    broker.start()
    watcher = Collector(broker.port, [f"{BASE}/alerts"], persistent=False)
    watcher.wait_subscribed()
    again = start_agent(config_path, tmp_path, "agent2")
    assert watcher.wait_for(lambda m: {(json.loads(x.payload)["alert_id"], json.loads(x.payload)["seq"])
                                       for x in m} >= set(left), 30)
    stop(again)
    got = [json.loads(m.payload) for m in watcher.on("/alerts")]
    replays = [(e["alert_id"], e["seq"]) for e in got if e["replayed"]]
    assert replays[:len(left)] == left          # in their original order, ahead of anything new
    assert "will be replayed" in (tmp_path / "agent2.err").read_text()
    watcher.close()


def test_tls_and_password_for_agent_and_listen_and_a_wrong_password_refused(tmp_path, make_broker):
    broker = make_broker(users={"agent": "s3cret", "viewer": "look"}, tls=True)
    (tmp_path / "agent.pw").write_text("s3cret\n")
    (tmp_path / "viewer.pw").write_text("look\n")
    (tmp_path / "wrong.pw").write_text("nope\n")
    secure = ["--host", "localhost", "--ca-file", str(broker.tls.ca), "--username", "viewer"]
    listen = start_listen(tmp_path, broker.port, *secure, "--password-file", str(tmp_path / "viewer.pw"),
                          "--json", "--count", "5", "--timeout", "60")
    config_path = agent_config(tmp_path, broker.port, broker={
        "host": "localhost", "username": "agent", "password": {"file": str(tmp_path / "agent.pw")},
        "tls": {"ca_file": str(broker.tls.ca)}})
    agent = start_agent(config_path, tmp_path)
    assert listen.wait(timeout=60) == 0, (tmp_path / "listen.err").read_text()
    heard = jsonl(tmp_path / "listen.out")
    assert len(heard) == 5 and heard[0]["event"] == "new"
    assert agent.wait(timeout=60) == 0

    # The same refusal at MQTT 3.1.1: paho 2 hands its return code over as the MQTT 5 reason code of the same
    # meaning; before user18's fix it read as an unknown refusal and listen retried it for ever.
    for protocol in ("5", "3.1.1"):
        refused = subprocess.run([sys.executable, "-m", "agent", "listen", "--port", str(broker.port), *secure,
                                  "--protocol", protocol, "--password-file", str(tmp_path / "wrong.pw"),
                                  "--timeout", "20"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1, (protocol, refused.stderr)
        assert "wrong user name or password" in refused.stderr, (protocol, refused.stderr)
        assert "retrying" not in refused.stderr and refused.stderr.count("giving up") == 1, (protocol, refused.stderr)


# ---- the MQTT source ------------------------------------------------------------------------------

def test_mqtt_source_reads_numbers_json_and_named_sensors_and_counts_bad_payloads(broker):
    cfg = MqttSourceConfig(broker=BrokerConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1, reconnect_max_s=1),
                     topics={"plant/pump/pressure": "pressure", "plant/pump/+/flow": "flow", "plant/any": "*"}, qos=1)
    rejects = Rejects()
    source = MqttSource(cfg, PUMP, rejects)
    records = source.records()
    assert wait_until(lambda: source.reporter.connected)

    def publish(topic: str, payload: str) -> None:
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-h", "127.0.0.1", "-q", "1", "-t", topic,
                        "-m", payload], check=True)
    publish("plant/pump/pressure", "4.5")
    publish("plant/pump/a/flow", '{"ts": 1767592800, "value": 12.5}')
    publish("plant/any", '{"ts": "2026-01-05T06:00:01Z", "sensor": "current", "value": 7}')
    publish("plant/any", '{"ts": 1767592802, "temp_motor": 60.5, "voltage": 229}')
    publish("plant/pump/pressure", "not a number")
    publish("plant/any", "[1, 2]")
    got = [next(records) for _ in range(4)]
    assert got[0].values == {"pressure": 4.5} and abs(got[0].ts - time.time()) < 5
    assert (got[1].ts, got[1].values) == (1767592800.0, {"flow": 12.5})
    assert (got[2].ts, got[2].values) == (1767592801.0, {"current": 7.0})
    assert got[3].values == {"temp_motor": 60.5, "voltage": 229.0}
    assert got[1].origin == "mqtt plant/pump/a/flow"
    assert wait_until(lambda: rejects.total == 2)
    assert set(rejects.as_dict()) == {"bad payload", "bad json"}

    broker.kill()                   # subscriptions come back with the connection
    broker.start()
    assert wait_until(lambda: source.reporter.connected, 60)
    # Retained: delivered whether the source's new SUBSCRIBE is processed before or after it (with its
    # own "ts": a retained reading without one is refused, its age unknown — test_review20_retained).
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-h", "127.0.0.1", "-q", "1", "-r",
                    "-t", "plant/pump/pressure", "-m", '{"value": 5.0, "ts": 1767592900}'], check=True)
    assert next(records).values == {"pressure": 5.0}
    source.close()
    assert list(records) == []


@pytest.mark.slow
def test_soak_agent_stream_through_repeated_broker_kills(tmp_path, broker):
    """Paced agent, broker killed -9 five times: every event in the agent's jsonl reaches the subscriber."""
    watcher = Collector(broker.port, [f"{BASE}/alerts"], client_id="soak-e2e")
    watcher.wait_subscribed()
    broker.wait_saved("soak-e2e", f"{BASE}/alerts")
    agent = start_agent(agent_config(tmp_path, broker.port, duration_s=2400, speed=150), tmp_path)
    written = lambda: (tmp_path / "alerts.jsonl").read_text().count("\n") if (tmp_path / "alerts.jsonl").exists() else 0  # noqa: E731
    for _ in range(5):
        # Kill mid-stream (a few more events written since the last restart), and restart once
        # the agent has written more while the broker was down, or when it has ended.
        watcher.wait_subscribed(30)     # what the broker queues for an absent watcher dies with a SIGKILL
        seen = written()
        wait_until(lambda: written() >= seen + 3 or agent.poll() is not None, 60)
        broker.kill()
        seen = written()
        wait_until(lambda: written() > seen or agent.poll() is not None, 60)
        broker.start()
    assert agent.wait(timeout=120) == 0, (tmp_path / "agent.err").read_text()
    # (the jsonl sink writes fault events to the same file: only alert lines go to …/alerts)
    expected = {(e["alert_id"], e["seq"]) for e in jsonl(tmp_path / "alerts.jsonl") if e.get("kind") == "alert"}
    heard = lambda m: {(json.loads(x.payload)["alert_id"], json.loads(x.payload)["seq"]) for x in m}  # noqa: E731
    if outbox_keys(tmp_path):
        # The agent ended while the broker was down: what it could not deliver waits in the
        # outbox, and the next start sends it.
        assert set(outbox_keys(tmp_path)) | heard(watcher.on("/alerts")) >= expected
        again = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml"),
                                "--max-ticks", "1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
    assert watcher.wait_for(lambda m: heard(m) >= expected, 30), sorted(expected - heard(watcher.on("/alerts")))
    assert outbox_keys(tmp_path) == []
    watcher.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_listen_stops_cleanly_on_a_signal_even_when_started_with_sigint_ignored(tmp_path, broker, sig):
    """A background job of a non-interactive shell inherits SIGINT as ignored; listen must still stop."""
    err = tmp_path / "listen.err"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port",
                             str(broker.port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err.open("w"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert wait_until(lambda: "following" in err.read_text() or proc.poll() is not None)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 0, err.read_text()
