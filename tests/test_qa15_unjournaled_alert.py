"""A run that could not write its alert journal (a full state disk) and died while an alert was
open: the restart ends that alert for every subscriber — before, it said so from the JSONL and
left it open, and subscribers held it open for good.

A real `stad-agent run` (stdin source, fake systemd), a real Mosquitto, a real 2 MiB tmpfs for
state_dir, kill -9; the JSONL, on another disk, holds the events the journal lacks. (With the
journal's spare, the journal itself has them: test_qa16_mqtt_only_restart.py.)
"""
from __future__ import annotations

import json

import jsonschema

from conftest import REPO, wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture
from restart_helpers import (AgentProcess, alert_keys, alert_lines, check_alert_stream, finished, full_disk_config, row,
                             warm_with_an_alert)
from small_fs import small_fs  # noqa: F401 — a pytest fixture

ALERT = json.loads((REPO / "agent/schemas/alert.schema.json").read_text())


def test_an_alert_left_open_by_a_run_that_could_not_journal_it_is_ended_by_the_restart(tmp_path, small_fs,
                                                                                      make_broker):
    # On the old code the restart said 'the restart cannot continue or end an alert they left open' and
    # sent nothing: the subscriber's last event of the second alert was an update, never an end.
    broker = make_broker()
    cfg_path = full_disk_config(tmp_path, broker.port)
    # The journal's spare cannot be made (a directory holds its name): as on a disk full before the
    # agent's first start, the JSONL alone tells the restart what the journal lacks.
    (small_fs.path / "alert-journal.json.spare").mkdir()
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()
    agent = AgentProcess(tmp_path, cfg_path, "first")
    try:
        agent.ready()
        warm_with_an_alert(agent, small_fs.path)
        first = alert_lines(tmp_path)[0]["alert_id"]
        small_fs.fill()
        agent.feed([row(i) for i in range(200, 285)])       # the first ends, a second opens: on a full disk
        agent.wait_log(r"cannot write the alert journal .*No space left on device")
        wait_for(lambda: [e for e in alert_lines(tmp_path) if e["alert_id"] != first and e["seq"] >= 1],
                 "the second alert's first update", 120, agent.proc)
    finally:
        agent.kill()                                        # kill -9 with the second alert open
    before = alert_lines(tmp_path)
    second = before[-1]
    assert second["alert_id"] != first and second["event"] != "end", second

    small_fs.free()
    again = AgentProcess(tmp_path, cfg_path, "second")
    try:
        again.ready()
        again.wait_log(rf"alert {second['alert_id']} \(#{second['seq']}, \S+\) was left open by the last run, "
                       r"which died with it missing from the alert journal \(its state disk was full or "
                       r"failing\); the restart cannot judge it: ending it \(reason restart\) from its last event "
                       r"in the jsonl sink")

        def ended(ms) -> list[dict]:
            return [p for p in (json.loads(m.payload) for m in ms if m.topic.endswith("/alerts"))
                    if p["alert_id"] == second["alert_id"] and p["event"] == "end"]
        assert sub.wait_for(lambda ms: ended(ms), 120)
    finally:
        sub.close()
        finished(again)
    end = ended(sub.messages)[0]
    jsonschema.validate(end, ALERT)
    assert end["seq"] == second["seq"] + 1 and end["reason"] == "restart" and end["ts"] == second["ts"]
    assert end["start"] == second["start"] and end["end"] == second["ts"]
    # The JSONL: every alert's stream whole (new first, seq without gap or repeat, one end, last).
    streams = check_alert_stream(alert_lines(tmp_path))
    assert streams[second["alert_id"]][-1]["reason"] == "restart"
    # Every JSONL event reached the subscriber (the outbox kept what the full disk held: held file).
    assert {(e["alert_id"], e["seq"]) for e in alert_lines(tmp_path)} <= alert_keys(sub.messages)


def test_an_alert_event_is_rebuilt_from_its_jsonl_line_as_it_was():
    from dataclasses import replace

    from agent.sinks.jsonl import alert_from_line
    from conftest import alert_event
    ev = alert_event("a", 3, "end")
    ev = replace(ev, ts=1_767_600_123.25, start=1_767_600_100.5, end=1_767_600_120.0,
                 top_steps=[{"ts": 1_767_600_122.0, "weight": 0.6}], gap_s=12.0)
    line = json.loads(json.dumps({"kind": "alert", **ev.to_dict()}))
    assert alert_from_line(line) == ev
