"""A clean stop (SIGTERM: `systemctl restart` for an upgrade or a config change) leaves an open alert and
open sensor faults open, as a kill -9 does: the next start continues them under the same ids.

It used to end them (`end` / `fault_end`, reason `shutdown`), so the gentle way to restart paged the
control room twice for one incident — a new alert_id once `alerts.cooldown_ticks` had passed, a hole
between — while a crash continued it. Now the final checkpoint and the journals hold them, the final
retained health names the open alert (then `offline`), and the restart continues the alert (its first
event an `update` with `gap_s`, seq next) or ends it (`restart`) under the rules a kill -9 follows:
a gap longer than the window, no usable checkpoint. A real agent, a real Mosquitto.
"""
from __future__ import annotations

import json

import pytest
import yaml

from agent.checkpoint import CHECKPOINT_FILE, decode
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures
from payloads import check_jsonl, check_mqtt
from restart_helpers import (STEPS, T0, AgentProcess, alert_lines, check_alert_stream, finished, row,
                             row_without_c, wait_for, write_config)

BASE = "stad/lab/gw-restart"
STOP_AFTER = 186        # rows 0–185 before the stop: the alert opened on rows 170– is open
C_SILENT = 155          # sensor c sends nothing from this row on: a `missing` fault, open at the stop


def row_stepped_back(i: int) -> str:
    """Row i's stamp with new readings: a sender whose clock stepped back. (The same recording again is no step
    back since qa55: its readings are the used ones the checkpoint keeps, each a `repeated reading`.)"""
    d = json.loads(row(i + 1000))
    d["ts"] = T0 + i
    return json.dumps(d) + "\n"


def fault_lines(tmp) -> list[dict]:
    """Sensor c's fault events in the JSONL."""
    return [x for x in check_jsonl(tmp / "alerts.jsonl") if x.get("event") in ("fault", "fault_end")
            and x["sensor"] == "c"]


def mqtt_config(tmp, port: int):
    path = write_config(tmp, mqtt_port=port)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"][0].update(health_interval_s=1)
    cfg["sinks"][0]["broker"].update(reconnect_min_s=0.2, reconnect_max_s=1)
    path.write_text(yaml.safe_dump(cfg))
    return path


def sigterm_with_the_alert_open(tmp, cfg, wait_health: Collector | None = None) -> dict:
    """Life 1: warm-up, c silent from C_SILENT, the alert of rows 170– open; every row taken in (health's
    records_in, when `wait_health`), then SIGTERM. Its `new` event."""
    first = AgentProcess(tmp, cfg, "run1")
    try:
        first.ready()
        first.feed([row(i) for i in range(C_SILENT)] + [row_without_c(i) for i in range(C_SILENT, STOP_AFTER)])
        [new] = wait_for(lambda: [e for e in alert_lines(tmp) if e["event"] == "new"], "the alert's new event",
                         proc=first.proc)
        wait_for(lambda: [f for f in fault_lines(tmp) if f["event"] == "fault"], "c's fault event", proc=first.proc)
        if wait_health is not None:
            wait_for(lambda: wait_health.wait_for(lambda msgs: any(
                json.loads(m.payload).get("records_in") == STOP_AFTER for m in msgs if m.topic.endswith("/health")),
                0.5), "every row taken in (health records_in)", proc=first.proc)
        assert first.terminate() == 0, first.stderr()[-3000:]
    finally:
        if first.proc.poll() is None:
            first.kill()
    err = first.stderr()
    assert "stopped: signal SIGTERM" in err and "Traceback" not in err, err[-3000:]
    assert f"alert {new['alert_id']} (next seq" in err and "left open at the stop" in err, err[-3000:]
    assert "sensor fault(s) left open at the stop: c missing" in err, err[-3000:]
    # Nothing ended at the stop.
    assert [e["event"] for e in alert_lines(tmp) if e["event"] == "end"] == []
    assert [f["event"] for f in fault_lines(tmp)] == ["fault"]
    return new


def test_sigterm_mid_alert_then_restart_continues_the_alert_and_the_fault(tmp_path, broker):
    cfg = mqtt_config(tmp_path, broker.port)
    centre = Collector(broker.port, [f"{BASE}/alerts", f"{BASE}/faults", f"{BASE}/health", f"{BASE}/status"])
    centre.wait_subscribed()
    new = sigterm_with_the_alert_open(tmp_path, cfg, wait_health=centre)
    alert_id = new["alert_id"]
    sent_before = [e for e in alert_lines(tmp_path) if e["alert_id"] == alert_id]
    [fault] = fault_lines(tmp_path)

    # The final retained health names the open alert and the open fault; the clean disconnect, offline.
    late = Collector(broker.port, [f"{BASE}/health", f"{BASE}/status"], persistent=False)
    try:
        assert late.wait_for(lambda msgs: {m.topic.rsplit("/", 1)[1] for m in msgs} == {"health", "status"}, 30)
        [status], [health] = late.on("/status"), late.on("/health")
    finally:
        late.close()
    assert status.payload == b"offline"
    health = check_mqtt(health.topic, health.payload)
    assert health["alert_active"] is True and health["alert_open"]["alert_id"] == alert_id, health["alert_open"]
    assert health["alert_open"]["seq"] == sent_before[-1]["seq"], (health["alert_open"], sent_before[-1]["seq"])
    assert health["faults_active"] == {"c": "missing"}
    meta, _ = decode((tmp_path / "state" / CHECKPOINT_FILE).read_bytes())
    assert meta["last_ts"] == T0 + STOP_AFTER - 1       # the final checkpoint holds every row

    # Life 2: the sensors' link was down 2 s longer than the agent (rows 186–187 lost), c is back.
    second = AgentProcess(tmp_path, cfg, "run2")
    try:
        assert "resumed from checkpoint" in second.ready()
        second.feed(row(i) for i in range(188, 268))     # the step until 199, then calm: it clears
        wait_for(lambda: [e for e in alert_lines(tmp_path) if e["event"] == "end"], "the alert's end", proc=second.proc)
        wait_for(lambda: [f for f in fault_lines(tmp_path) if f["event"] == "fault_end"], "c's fault_end",
                 proc=second.proc)
    finally:
        err = finished(second)
    assert f"alert {alert_id} (next seq {sent_before[-1]['seq'] + 1}) was open when the last run stopped: " \
        "continued" in err, err[-3000:]
    assert f"sensor fault(s) open when the last run stopped, continued: c missing ({fault['fault_id']})" in err, \
        err[-3000:]

    by_alert = check_alert_stream(alert_lines(tmp_path))
    assert list(by_alert) == [alert_id], "one incident, one alert_id: no second alert opened after the restart"
    events = by_alert[alert_id]
    after = events[len(sent_before)]
    assert (after["event"], after["seq"], after["gap_s"]) == ("update", sent_before[-1]["seq"] + 1, 2.0), after
    assert events[-1]["reason"] == "cleared" and all(e["reason"] != "shutdown" for e in events)
    faults = fault_lines(tmp_path)
    assert [(f["fault_id"], f["seq"], f["event"], f["reason"]) for f in faults] == \
        [(fault["fault_id"], 0, "fault", None), (fault["fault_id"], 1, "fault_end", "cleared")]

    # JSONL = MQTT: the same events, each with the same content (`replayed` aside).
    assert centre.wait_for(lambda msgs: len({(json.loads(m.payload)["alert_id"], json.loads(m.payload)["seq"])
                                             for m in msgs if m.topic.endswith("/alerts")}) == len(events)
                           and any(m.topic.endswith("/faults") and json.loads(m.payload)["event"] == "fault_end"
                                   for m in msgs), 60)
    centre.close()

    def keyed(items, key):
        return {(e[key], e["seq"]): {k: v for k, v in e.items() if k not in ("replayed", "kind")} for e in items}
    over_mqtt = [check_mqtt(m.topic, m.payload) for m in centre.on("/alerts")]
    assert keyed(over_mqtt, "alert_id") == keyed(events, "alert_id")
    over_mqtt = [f for f in (check_mqtt(m.topic, m.payload) for m in centre.on("/faults")) if f["sensor"] == "c"]
    assert keyed(over_mqtt, "fault_id") == keyed(faults, "fault_id")


@pytest.mark.parametrize("restart", ["gap longer than the window", "data stepped back", "no usable checkpoint"])
def test_sigterm_mid_alert_then_a_restart_that_cannot_judge_it_ends_it_restart(tmp_path, restart):
    cfg = write_config(tmp_path)
    new = sigterm_with_the_alert_open(tmp_path, cfg)
    before = alert_lines(tmp_path)
    resume_at = STOP_AFTER + 3 * STEPS          # ≥ 48 s unseen, the window 16 ticks
    if restart == "no usable checkpoint":
        (tmp_path / "state" / CHECKPOINT_FILE).unlink()
        resume_at = STOP_AFTER
    elif restart == "data stepped back":          # the sender's clock
        resume_at = 0
    second = AgentProcess(tmp_path, cfg, "run2")
    try:
        second.ready()
        second.feed((row_stepped_back if restart == "data stepped back" else row)(i)
                    for i in range(resume_at, resume_at + 20))
        wait_for(lambda: [e for e in alert_lines(tmp_path) if e["event"] == "end"], "the alert's end", proc=second.proc)
    finally:
        finished(second)
    events = [e for e in alert_lines(tmp_path) if e["alert_id"] == new["alert_id"]]
    # Its events before the stop, then its end under the same id, seq next. (With the gap, the outage's
    # ticks are scored — the data is not on this host's clock — and may raise an alert of their own.)
    assert events[:len(before)] == before
    [end] = events[len(before):]
    assert (end["event"], end["seq"], end["reason"]) == ("end", before[-1]["seq"] + 1, "restart"), end
    if restart == "gap longer than the window":
        assert end["gap_s"] >= 2 * STEPS, end
    else:       # (stepped back: the end is on the old time base's last tick, its start the one new published)
        assert end["start"] == new["start"] <= end["end"] <= end["ts"], (new, end)
        assert end["gap_s"] is None, end
