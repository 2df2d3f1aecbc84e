"""A clean stop with the broker up, then a start: every alert and fault event reaches the subscriber once (qa50).

user33 saw a SIGTERM whose stop summary said nothing waiting in the outbox, then the next start say `sending 1 alert
event(s) from the outbox` and a subscriber get that event a second time (marked replayed). The outbox was empty at
the stop: the start put the event there. A start hands the alert journal's last event (and the fault journal's last
tick's) to every sink's `recover`, for a run that died between journaling an event and storing it; the MQTT sink
could not tell an event the broker acknowledged (deleted from the outbox) from one never stored, so it stored it
again, as a replay — after every restart, clean or not, with an alert open or long ended. The outbox now remembers
the newest acknowledged seq of each recent alert and fault id (agent/outbox.py `settled`).

A real `stad-agent run` (stdin source), a real Mosquitto and subscriber; every wait is on a condition.
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import closing

import yaml

from agent.outbox import SETTLED_KEPT, Outbox
from conftest import free_port, wait_for
from mqtt_broker import Collector, broker, make_broker  # noqa: F401 — fixtures
from restart_helpers import AgentProcess, alert_lines, finished, row, write_config

BASE = "stad/lab/gw-restart"
STOP_AFTER = 186        # rows 0–185 before the stop: the alert opened on rows 170– is open


def keys(messages) -> list[tuple[str, int, bool]]:
    """(alert or fault id, seq, replayed) of each alert and fault event received, in order."""
    out = []
    for m in list(messages):
        if m.topic.endswith(("/alerts", "/faults")):
            p = json.loads(m.payload)
            out.append((p.get("alert_id") or p.get("fault_id"), p["seq"], bool(p.get("replayed"))))
    return out


def outbox_count(tmp) -> int:
    db = sqlite3.connect(str(tmp / "state" / "mqtt-outbox.sqlite"))
    try:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        db.close()


def test_a_clean_stop_then_a_start_sends_no_event_twice(tmp_path, broker):
    # On 51b90242 the second life said `sending 1 alert event(s) from the outbox` and the subscriber got the open
    # alert's last event again, replayed, before the continuation's update.
    path = write_config(tmp_path, mqtt_port=broker.port)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"][0]["broker"].update(reconnect_min_s=0.2, reconnect_max_s=1)
    path.write_text(yaml.safe_dump(cfg))
    centre = Collector(broker.port, [f"{BASE}/alerts", f"{BASE}/faults"])
    centre.wait_subscribed()

    first = AgentProcess(tmp_path, path, "run1")
    try:
        first.ready()
        first.feed(row(i) for i in range(STOP_AFTER))
        [new] = wait_for(lambda: [e for e in alert_lines(tmp_path) if e["event"] == "new"], "the alert's new event",
                         proc=first.proc)
        # The broker has every event the JSONL has ...
        wait_for(lambda: len(alert_lines(tmp_path)) >= 2 and centre.wait_for(
            lambda ms: {(k, s) for k, s, _ in keys(ms)} >= {(e["alert_id"], e["seq"]) for e in alert_lines(tmp_path)},
            0.5), "every alert event at the subscriber", proc=first.proc)
        # ... and the agent every PUBACK (the stop's bounded wait for them is not what this test is about)
        wait_for(lambda: outbox_count(tmp_path) == 0, "every event acknowledged (the outbox file empty)",
                 proc=first.proc)
        assert first.terminate() == 0, first.stderr()[-3000:]
    finally:
        if first.proc.poll() is None:
            first.kill()
    err = first.stderr()
    assert "stopped: signal SIGTERM" in err and "left open at the stop" in err, err[-3000:]
    # The stop says nothing waits, truly: the outbox file holds no event.
    assert "stay in the outbox" not in err and "waiting in the outbox" not in err, err[-3000:]
    assert outbox_count(tmp_path) == 0
    before = keys(centre.messages)
    assert [k for k, n in Counter((k, s) for k, s, _ in before).items() if n > 1] == []
    last = alert_lines(tmp_path)[-1]

    second = AgentProcess(tmp_path, path, "run2")
    try:
        assert "resumed from checkpoint" in second.ready()
        second.feed(row(i) for i in range(STOP_AFTER, STOP_AFTER + 20))
        # The continuation's first event: anything the start put in the outbox went out before it (one connection,
        # QoS 1, in order).
        wait_for(lambda: centre.wait_for(lambda ms: any(k == new["alert_id"] and s > last["seq"]
                                                        for k, s, _ in keys(ms)), 0.5),
                 "the alert's first event after the restart", proc=second.proc)
    finally:
        err2 = finished(second)
    centre.close()
    assert f"alert {new['alert_id']} (next seq {last['seq'] + 1}) was open when the last run stopped: continued" \
        in err2, err2[-3000:]
    assert "from the outbox" not in err2 and "not acknowledged before the last stop" not in err2, err2[-3000:]
    after = keys(centre.messages)[len(before):]
    assert [x for x in after if (x[0], x[1]) in {(k, s) for k, s, _ in before}] == [], after
    assert not any(replayed for _, _, replayed in after), after


def test_the_stop_summary_says_what_waits_in_the_outbox(tmp_path):
    # On 51b90242 the summary said nothing of the events the outbox kept (a warning line before it did).
    path = write_config(tmp_path, mqtt_port=free_port())      # nothing listens there: the outbox only fills
    agent = AgentProcess(tmp_path, path, "run1")
    try:
        agent.ready()
        agent.feed(row(i) for i in range(STOP_AFTER))
        wait_for(lambda: len(alert_lines(tmp_path)) >= 2, "the alert's new event and an update", proc=agent.proc)
        assert agent.terminate() == 0, agent.stderr()[-3000:]
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    err = agent.stderr()
    [summary] = [line for line in err.splitlines() if line.startswith("summary: ")]
    waiting = outbox_count(tmp_path)
    assert waiting >= 2
    assert f"; alert and fault events waiting in the outbox for the next start: {waiting}; " in summary, summary
    assert f"{waiting} alert event(s) stay in the outbox for the next start" in err, err[-3000:]


def test_the_outbox_remembers_what_the_broker_acknowledged_across_a_reopen(tmp_path):
    # On 51b90242 there was no `delivered` (qa51: `settled`): an acknowledged event and one never stored looked alike.
    path = tmp_path / "mqtt-outbox.sqlite"
    box = Outbox(path, max_events=100_000, max_age_s=86400)
    acked = box.add("alert-1", 3, "update", "{}")
    box.add("alert-1", 4, "update", "{}")
    box.ack(acked)
    assert box.settled("alert-1", 3) and box.settled("alert-1", 2)     # it, or a later seq of its id
    assert not box.settled("alert-1", 4) and box.has("alert-1", 4)       # stored, not acknowledged
    assert not box.settled("alert-2", 0) and not box.has("alert-2", 0)   # never stored: recover stores it
    for i in range(SETTLED_KEPT + 100):                                  # one acknowledgement each
        box.ack(box.add(f"fault-{i}", 0, "fault", "{}"))
    box.close()
    again = Outbox(path, max_events=100_000, max_age_s=86400)
    try:
        assert again.settled(f"fault-{SETTLED_KEPT + 99}", 0) and again.settled(f"fault-{SETTLED_KEPT}", 0)
        assert not again.settled("alert-1", 3), "the oldest ids are let go of past SETTLED_KEPT"
        with closing(sqlite3.connect(str(path))) as db:
            kept = db.execute("SELECT COUNT(*) FROM settled").fetchone()[0]
        assert SETTLED_KEPT <= kept <= SETTLED_KEPT + 64
    finally:
        again.close()
