"""docs/mqtt.md's "For a control room", as the consumer an integrator writes from it (docs/examples/control_room.py), run
against a real agent and a real Mosquitto through what a week brings: the consumer away while alerts open and
end, the agent killed with `kill -9` with an alert open and started again, the consumer back.

The broker's queue per session is small here (`max_queued_messages 25`: the 16-17 alert events of the absence
fit; a fleet fills Mosquitto's default 1000 as this fills 25). README said to subscribe status and health too, at
QoS 1 in the same persistent session, and a gateway's health every `health_interval_s` then filled the queue while
the consumer was away, so the broker dropped the alert events that came after (user28: 17 alert events of one
alert lost in 4 minutes away, two demo gateways, a queue of 200; here, with the example's status and health at
QoS 1, the second alert's #4-#7 updates and its #8 end never came and its row stayed open). The example takes
status and health at QoS 0 — their retained copy comes at every subscribe — so the session queues alert and fault
events only, and the table holds every event the agent wrote.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — fixture
from restart_helpers import AgentProcess, alert_lines, row, write_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "control_room.py"
NODE = "lab/gw-restart"
QUEUE = 25


class ControlRoom:
    """docs/examples/control_room.py as a process: its persistent session and its table file outlive it."""

    def __init__(self, tmp: Path, port: int, name: str, *more: str):
        self.table_path = tmp / "table.json"
        self.out = tmp / f"{name}.out"
        with self.out.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(EXAMPLE), "--host", "127.0.0.1", "--port", str(port), "--session", "ops-room",
                 "--table", str(self.table_path), "--schemas", str(ROOT / "agent" / "schemas"), *more],
                stdout=out, stderr=subprocess.STDOUT, text=True)

    def table(self) -> dict:
        return json.loads(self.table_path.read_text()) if self.table_path.exists() else {}

    def wait(self, predicate, what: str, timeout: float = 120.0) -> dict:
        return wait_for(lambda: predicate(self.table()) and self.table(), what, timeout, self.proc)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0, self.out.read_text()


def written(tmp: Path) -> dict[str, list[dict]]:
    """The agent's own record of its alert events (the jsonl sink), by alert."""
    by_alert: dict[str, list[dict]] = {}
    for e in alert_lines(tmp):
        by_alert.setdefault(e["alert_id"], []).append(e)
    return by_alert


def test_the_control_room_keeps_every_alert_event_across_its_absence_and_a_kill_9(tmp_path, make_broker):
    broker = make_broker(conf=[f"max_queued_messages {QUEUE}"])
    path = write_config(tmp_path, mqtt_port=broker.port)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"][0].update(health_interval_s=1)
    cfg["sinks"][0]["broker"].update(reconnect_min_s=0.2, reconnect_max_s=1)
    path.write_text(yaml.safe_dump(cfg))
    health = Collector(broker.port, ["stad/lab/+/health"], persistent=False)   # counts what the room misses
    health.wait_subscribed()
    room = ControlRoom(tmp_path, broker.port, "room1")
    agent = AgentProcess(tmp_path, path, "agent1")
    try:
        agent.ready()
        agent.feed([row(i) for i in range(186)])                     # rows 170-199 step: an alert opens
        first = room.wait(lambda t: any(r["state"] == "open" for r in t.get("alerts", {}).values()),
                          "the first alert open in the table")
        assert first["nodes"][NODE]["status"] == "online"
        room.stop()                                                  # the control room goes away …
        agent.feed([row(i) for i in range(186, 290)])                # … the first alert ends, a second opens
        wait_for(lambda: len(written(tmp_path)) == 2 and all(
            e["event"] != "end" for e in written(tmp_path)[sorted(written(tmp_path))[-1]]),
            "the second alert open", 120, agent.proc)
        away = len(health.on("/health"))
        assert health.wait_for(lambda msgs: len(msgs) >= away + QUEUE + 5, timeout=120), \
            "health kept coming while the room was away (more than its session's queue holds)"
        agent.kill()                                                 # kill -9 with the second alert open
        agent = AgentProcess(tmp_path, path, "agent2")
        agent.ready()
        agent.feed([row(i) for i in range(290, 340)])                # it ends after the restart
        wait_for(lambda: all(evs[-1]["event"] == "end" for evs in written(tmp_path).values()),
                 "every alert ended in the agent's jsonl", 120, agent.proc)
        room = ControlRoom(tmp_path, broker.port, "room2")           # the control room is back
        truth = written(tmp_path)

        def complete(t: dict) -> bool:
            rows = {r["id"]: r for r in t.get("alerts", {}).values()}
            return all(a in rows and set(rows[a]["seqs"]) >= {e["seq"] for e in evs} for a, evs in truth.items())

        table = room.wait(complete, "every alert event the agent wrote in the table")
        rows = {r["id"]: r for r in table["alerts"].values()}
        assert set(rows) == set(truth)
        for alert_id, evs in truth.items():
            assert rows[alert_id]["state"] == "ended" and rows[alert_id]["reason"] == evs[-1]["reason"], rows[alert_id]
            assert rows[alert_id]["missing"] == [], rows[alert_id]
        assert table["counts"].get("gaps", 0) == 0, table["counts"]
        assert not [k for k in table["counts"] if k.startswith(("invalid", "unusable", "not_json"))], table["counts"]
        assert room.wait(lambda t: t["nodes"][NODE]["status"] == "online", "the gateway online again")
    finally:
        room.proc.kill()
        room.proc.wait(timeout=30)
        if agent.proc.poll() is None:
            agent.kill()
        health.close()


def test_a_gateway_that_died_with_its_broker_shows_offline_by_its_own_health_interval(tmp_path, make_broker):
    """A site's power cut: broker and agent SIGKILLed, the broker back from its persistence with the agent's
    retained `online` (no connection was left to send its Will on). README: take a node whose health is older than
    twice `health_interval_s` as offline whatever its status says — but the consumer had no way to know each
    gateway's interval (roadside 60 s, industrial 30, a fleet 300) and had to guess one for the whole fleet. The
    health now carries it; the example is run with a fallback guess of an hour, so only the payload's 1 s can show
    the open alert as `gateway offline` within the deadline."""
    broker = make_broker()
    path = write_config(tmp_path, mqtt_port=broker.port)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"][0].update(health_interval_s=1)
    path.write_text(yaml.safe_dump(cfg))
    room = ControlRoom(tmp_path, broker.port, "room", "--stale-s", "3600")
    agent = AgentProcess(tmp_path, path, "agent")
    try:
        agent.ready()
        agent.feed([row(i) for i in range(186)])                      # an alert opens and stays open
        table = room.wait(lambda t: any(r["state"] == "open" for r in t.get("alerts", {}).values())
                          and t["nodes"][NODE].get("health_interval_s") == 1, "the open alert and the node's health")
        assert table["nodes"][NODE]["status"] == "online"
        broker.wait_saved("stad/lab/gw-restart/status", "stad/lab/gw-restart/health")
        broker.kill()                                                 # the site's power cut: broker first, …
        agent.kill()                                                  # … the agent with it, no Will sent
        broker.start()
        table = room.wait(lambda t: [r["shown"] for r in t["alerts"].values() if r["state"] == "open"]
                          == ["gateway offline"], "the open alert shown as gateway offline", timeout=120)
        assert table["nodes"][NODE]["status"] == "online", "the retained status still says online (it lies)"
    finally:
        room.proc.kill()
        room.proc.wait(timeout=30)
        if agent.proc.poll() is None:
            agent.kill()
