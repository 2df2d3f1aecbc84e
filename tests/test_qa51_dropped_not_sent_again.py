"""An alert event the outbox dropped — refused by the broker, past a bound — is not stored again by a start (qa51).

qa50 left it: a start hands the alert journal's last event to the MQTT sink's `recover`, which stores it unless the
outbox holds it or remembers it acknowledged. A dropped event was neither: counted and said as dropped (`refused`,
kept in mqtt-refused.jsonl to re-send by hand; `max_age`; `max_events`), then stored again as a replay by the next
start and sent once more — refused once more, or delivered though the operator was told it was dropped (and may have
re-sent it by hand). The outbox now remembers the newest *settled* seq of each id: acknowledged, or dropped and counted.

A real `stad-agent run` (stdin source) and a real Mosquitto that refuses its alerts by ACL (tests/mqtt_acl.py), then
allows them; every wait is on a condition. The bounds' drops on the outbox itself, a real SQLite file, across a reopen.
"""
from __future__ import annotations

import json

import yaml

from agent.outbox import Outbox
from conftest import wait_for
from mqtt_acl import PASSWORD, Watcher, make_acl_broker  # noqa: F401 — make_acl_broker: a fixture
from restart_helpers import AgentProcess, alert_lines, finished, row, write_config

BASE = "stad/lab/gw-restart"
STOP_AFTER = 186        # rows 0–185 before the stop: the alert opened on rows 170– is open


def alert_keys(messages) -> list[tuple[str, int]]:
    return [(p["alert_id"], p["seq"]) for p in (json.loads(m) for t, m in messages if t == f"{BASE}/alerts")]


def refused_lines(tmp) -> list[str]:
    path = tmp / "state" / "mqtt-refused.jsonl"
    return [json.loads(line)["event"] for line in path.read_text().splitlines()] if path.exists() else []


def test_an_event_the_broker_refused_is_not_sent_again_by_the_next_start(tmp_path, make_acl_broker):
    # On fa8372e0 the second start stored the journal's last event (refused in the first life) again, as a replay:
    # the subscriber got it once the ACL allowed alerts, before the continuation's first event.
    broker = make_acl_broker({"gw": {"write": [f"{BASE}/status", f"{BASE}/health", f"{BASE}/faults"]},   # no alerts
                              "watch": {"read": [f"{BASE}/#", "marker"], "write": ["marker"]}})
    (tmp_path / "gw.pw").write_text(PASSWORD + "\n")
    path = write_config(tmp_path, mqtt_port=broker.port)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"][0]["broker"].update(reconnect_min_s=0.2, reconnect_max_s=1, username="gw",
                                     password={"file": str(tmp_path / "gw.pw")})
    path.write_text(yaml.safe_dump(cfg))
    watch = Watcher(broker.port, f"{BASE}/#")

    first = AgentProcess(tmp_path, path, "run1")
    try:
        first.ready()
        first.feed(row(i) for i in range(STOP_AFTER))
        wait_for(lambda: len(alert_lines(tmp_path)) >= 2, "the alert's new event and an update", proc=first.proc)
        # every event the alert journal has, refused by the broker and kept for the operator
        wait_for(lambda: sorted(refused_lines(tmp_path)) == sorted(f"{e['alert_id']} #{e['seq']} {e['event']}"
                                                                     for e in alert_lines(tmp_path)),
                 "every alert event refused and kept in mqtt-refused.jsonl", proc=first.proc)
        assert first.terminate() == 0, first.stderr()[-3000:]
    finally:
        if first.proc.poll() is None:
            first.kill()
    refused = refused_lines(tmp_path)
    last = alert_lines(tmp_path)[-1]
    assert f"{last['alert_id']} #{last['seq']} {last['event']}" in refused

    broker.allow("gw", write=[f"{BASE}/alerts"])        # the ACL mended: what the start sends now arrives
    second = AgentProcess(tmp_path, path, "run2")
    try:
        assert "resumed from checkpoint" in second.ready()
        second.feed(row(i) for i in range(STOP_AFTER, STOP_AFTER + 20))
        # The continuation's first event: anything the start put in the outbox went out before it (one connection,
        # QoS 1, in order).
        wait_for(lambda: watch.wait(lambda ms: any(k == last["alert_id"] and s > last["seq"]
                                                   for k, s in alert_keys(ms)), 0.5),
                 "the alert's first event after the restart", proc=second.proc)
    finally:
        err2 = finished(second)
        watch.close()
    got = alert_keys(watch.messages)
    assert (last["alert_id"], last["seq"]) not in got, (got, err2[-3000:])
    assert all(k == last["alert_id"] and s > last["seq"] for k, s in got), got
    assert refused_lines(tmp_path) == refused, "refused again by the second life"
    assert "from the outbox" not in err2, err2[-3000:]


def test_events_dropped_for_a_bound_are_settled_across_a_reopen(tmp_path):
    # On fa8372e0 the outbox remembered acknowledged events alone: one dropped for max_age or max_events looked
    # never stored, and the start's recover stored it again.
    now = [1_000_000.0]
    path = tmp_path / "mqtt-outbox.sqlite"
    box = Outbox(path, max_events=10, max_age_s=60, clock=lambda: now[0], boot_clock=lambda: now[0])
    box.add("old", 2, "end", "{}")
    now[0] += 61
    box.expire()
    assert box.stats()["dropped"] == {"max_age": 1} and box.settled("old", 2) and not box.has("old", 2)
    for seq in range(11):                               # the 11th drops the oldest of the open alert: seq 0
        box.add("open", seq, "new" if seq == 0 else "update", "{}")
    assert box.stats()["dropped"] == {"max_age": 1, "max_events": 1}
    assert box.settled("open", 0) and not box.settled("open", 1) and box.has("open", 1)
    box.close()
    again = Outbox(path, max_events=10, max_age_s=60, clock=lambda: now[0], boot_clock=lambda: now[0])
    try:
        assert again.settled("old", 2) and again.settled("open", 0)
        assert not again.settled("open", 10) and not again.settled("never", 0)
    finally:
        again.close()
