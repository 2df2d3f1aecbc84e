"""An MQTT-only gateway (no JSONL sink) killed while its state disk was full and an alert was open:
the restart continues that alert and ends it for the subscriber. Before, the alert journal could
not be written (its atomic write needs a new file), the restart resumed from an older one, and
only the JSONL could have told it about the alert raised since: with MQTT alone the subscriber
held that alert open for good. Now the journal goes to its spare (`alert-journal.json.spare`,
reserved at the start, written in place).

A real `stad-agent run` (stdin source, fake systemd), a real Mosquitto and subscriber, a real
2 MiB tmpfs for state_dir, kill -9.
"""
from __future__ import annotations

import json

from conftest import wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture
from restart_helpers import AgentProcess, check_alert_stream, finished, full_disk_config, row
from small_fs import small_fs  # noqa: F401 — a pytest fixture


def alerts(messages) -> dict[tuple, dict]:
    """The alert events received, each once (a replay repeats one), by (alert_id, seq)."""
    return {(p["alert_id"], p["seq"]): p for p in (json.loads(m.payload) for m in list(messages)
                                                   if m.topic.endswith("/alerts"))}


def open_alert(messages) -> dict | None:
    """The open alert the newest health message names (None: none open, or no health yet)."""
    healths = [json.loads(m.payload) for m in list(messages) if m.topic.endswith("/health")]
    return healths[-1].get("alert_open") if healths else None


def test_an_mqtt_only_agent_killed_on_a_full_disk_ends_the_alert_it_had_open(tmp_path, small_fs, make_broker):
    # On the old code the second alert's last event at the subscriber stayed an update: no end within 120 s.
    broker = make_broker()
    cfg_path = full_disk_config(tmp_path, broker.port,
                                lambda cfg: cfg.update(sinks=[s for s in cfg["sinks"] if s["type"] == "mqtt"]))
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()
    agent = AgentProcess(tmp_path, cfg_path, "first")
    try:
        agent.ready()
        agent.feed([row(i) for i in range(200)])
        assert sub.wait_for(lambda ms: len(alerts(ms)) >= 2, 120), "the first alert's events"
        wait_for(lambda: (small_fs.path / "checkpoint.bin").exists(), "a first checkpoint", 60, agent.proc)
        first = min(alerts(sub.messages))[0]
        small_fs.fill()
        agent.feed([row(i) for i in range(200, 285)])       # the first ends, a second opens: on a full disk
        # Judged from the retained health, not from the alert events: once the outbox's file is full its
        # events wait in memory and in the held file (stored and sent when space returns or by the next
        # start), so whether the second alert's events reach the subscriber before the kill depends on
        # whether SQLite still had free pages when they came.
        assert sub.wait_for(lambda ms: (open_alert(ms) or {}).get("alert_id", first) != first
                            and open_alert(ms)["seq"] >= 1, 120), "the second alert's first update, in health"
    finally:
        agent.kill()                                        # kill -9 with the second alert open
    second = open_alert(sub.messages)["alert_id"]

    small_fs.free()
    again = AgentProcess(tmp_path, cfg_path, "second")
    try:
        again.ready()
        again.feed([row(i) for i in range(285, 400)])
        assert sub.wait_for(lambda ms: any(a == second and p["event"] == "end" for (a, _), p in alerts(ms).items()),
                            120), "the second alert's end"
    finally:
        sub.close()
        finished(again)
    streams = check_alert_stream([alerts(sub.messages)[k] for k in sorted(alerts(sub.messages))])
    assert streams[second][-1]["event"] == "end"
