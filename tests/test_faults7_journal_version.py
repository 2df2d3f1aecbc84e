"""faults7 (qa31's leftover): a journal of another format version (another release's: a downgrade) is ignored
whole, as before, but what it held open is ended (reason `restart`) when no checkpoint can judge it — before,
a subscriber fed by MQTT alone held that alert and that fault open for good.

Real parts: a real `stad-agent run` on stdin whose only sink is MQTT (nothing listens: the outbox, a real SQLite
file, keeps every event), killed with SIGKILL; its journals' version changed, its checkpoint removed."""
from __future__ import annotations

import json
import sqlite3

from conftest import free_port
from restart_helpers import AgentProcess, row, wait_for, write_config

from agent.checkpoint import FORMAT_VERSION


def _outbox(tmp_path) -> list[tuple[str, str]]:
    """(kind, payload) of every event the outbox holds, oldest first."""
    path = tmp_path / "state" / "mqtt-outbox.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(str(path))
    try:
        return db.execute("SELECT kind, payload FROM events ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def test_an_alert_and_a_fault_held_open_by_a_journal_of_another_version_are_ended_at_restart(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, mqtt_port=port, sinks=[{"type": "mqtt", "broker": {
        "host": "127.0.0.1", "port": port, "reconnect_min_s": 5, "reconnect_max_s": 60}}])
    first = AgentProcess(tmp_path, cfg, "run1")
    first.ready()
    lines = [row(i) for i in range(150)] + [json.dumps({k: v for k, v in json.loads(row(i)).items() if k != "c"}) + "\n"
                                             for i in range(150, 185)]
    first.feed(lines)
    wait_for(lambda: {"new", "fault"} <= {k for k, _ in _outbox(tmp_path)}, "an open alert and a fault", proc=first.proc)
    first.kill()
    held = [json.loads(p) for k, p in _outbox(tmp_path)]
    alert = next(e for e in held if e.get("event") == "new")
    fault = next(e for e in held if e.get("event") == "fault")
    assert not [e for e in held if e.get("event") in ("end", "fault_end")]
    state = tmp_path / "state"
    for name in ("alert-journal.json", "fault-journal.json"):
        doc = json.loads((state / name).read_text())
        doc["version"] = FORMAT_VERSION + 1                     # another release's journal
        (state / name).write_text(json.dumps(doc))
    (state / "checkpoint.bin").unlink(missing_ok=True)          # (its checkpoint refused alike: none)
    second = AgentProcess(tmp_path, cfg, "run2")
    second.ready()
    assert second.finish() == 0
    ends = [json.loads(p) for k, p in _outbox(tmp_path)[len(held):] if k in ("end", "fault_end")]
    assert [(e["event"], e.get("alert_id") or e["fault_id"], e["reason"]) for e in ends] == \
        [("end", alert["alert_id"], "restart"), ("fault_end", fault["fault_id"], "restart")], ends
    err = second.stderr()
    assert err.count("format version 2") == 2, err[-3000:]     # said once for each journal
