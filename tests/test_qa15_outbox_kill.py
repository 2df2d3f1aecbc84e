"""kill -9 while the state disk is still full: the alert events the outbox held in memory (it could
not store them) reach the subscriber after the restart, or are counted and said — before, they were
lost without a count, and a subscriber could not learn that alerts were lost.

A real `stad-agent run` (stdin source, fake systemd), a real Mosquitto away while the disk is full,
a real 2 MiB tmpfs for state_dir; the JSONL, on another disk, has every event.
"""
from __future__ import annotations

import json
import sqlite3

import jsonschema

from conftest import REPO, wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture
from restart_helpers import (T0, AgentProcess, alert_keys, alert_lines, finished, full_disk_config, row,
                             warm_with_an_alert)
from small_fs import small_fs  # noqa: F401 — a pytest fixture

ALERT = json.loads((REPO / "agent/schemas/alert.schema.json").read_text())
HEALTH = json.loads((REPO / "agent/schemas/health.schema.json").read_text())


def test_events_held_on_a_full_disk_reach_the_subscriber_after_a_kill_9(tmp_path, small_fs, make_broker):
    # On the old code the events held in memory at the kill were gone: the restart said nothing, the
    # subscriber never got them and no count anywhere said they were lost.
    broker = make_broker()
    broker.kill()                                   # away from the start: the outbox only fills
    cfg_path = full_disk_config(tmp_path, broker.port)
    agent = AgentProcess(tmp_path, cfg_path, "first")
    try:
        agent.ready()
        warm_with_an_alert(agent, small_fs.path)
        small_fs.fill()
        agent.feed([row(i) for i in range(200, 400)])       # two more alerts, on a full disk
        agent.wait_log(r"outbox .*: cannot store alert events")
        wait_for(lambda: any(e["ts"] >= _iso(T0 + 370) for e in alert_lines(tmp_path)), "the rows fed taken",
                 120, agent.proc)
    finally:
        agent.kill()                                        # kill -9, the disk still full
    jsonl = {(e["alert_id"], e["seq"]) for e in alert_lines(tmp_path)}
    assert len(jsonl - _stored(small_fs.path)) >= 3          # held in memory at the kill, not in the outbox

    small_fs.free()
    broker.start()
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()
    again = AgentProcess(tmp_path, cfg_path, "second")
    try:
        again.ready()
        said = again.wait_log(r"the last run stopped without storing (\d+) event\(s\) it held in memory \(its disk "
                              r"was full\); (\d+) kept in mqtt-outbox.sqlite.held are sent now, as replays")
        assert int(said.group(1)) == int(said.group(2)) > 0
        assert sub.wait_for(lambda ms: jsonl <= alert_keys(ms), 120), sorted(jsonl - alert_keys(sub.messages))
    finally:
        sub.close()
        finished(again)
    for m in sub.messages:
        if m.topic.endswith("/alerts"):
            jsonschema.validate(json.loads(m.payload), ALERT)
        elif m.topic.endswith("/health"):
            jsonschema.validate(json.loads(m.payload), HEALTH)
    db = sqlite3.connect(str(small_fs.path / "mqtt-outbox.sqlite"))
    try:
        assert dict(db.execute("SELECT reason, count FROM drops")).get("not_stored", 0) == 0
    finally:
        db.close()


def _iso(ts: float) -> str:
    from agent.alerts import iso
    return iso(ts)


def _stored(state) -> set:
    db = sqlite3.connect(f"file:{state / 'mqtt-outbox.sqlite'}?mode=ro", uri=True)
    try:
        return set(db.execute("SELECT alert_id, seq FROM events WHERE kind IN ('new', 'update', 'end')"))
    finally:
        db.close()
