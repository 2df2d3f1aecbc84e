"""Journals and the sign of life a power cut tore are on health and /metrics, not in the log alone
(review22).

Cut short at a power cut (a prefix of the document on disk), `alert-journal.json`, `fault-journal.json`
and `alive.json` each drew one WARNING at the restart and nothing else: health's `state_reads` and
`stad_state_read_failures_total` named only `active_bundle` and `feedback`, so a fleet reading health
could not see that a gateway restarted without its last alert event. Now each is noted there too.
A real agent built on a real state directory holding the torn files.
"""
from __future__ import annotations

import json

from agent import config
from agent.service import Agent

TORN = {
    "alert-journal.json": '{"version": 1, "n": 7, "event": {"kind": "alert", "alert_id": "gw-x-2026',
    "fault-journal.json": '{"version": 1, "n": 2, "event": {"fault_id": "gw-x-a-2026',
    "alive.json": '{"at": 17966',
}


def agent_config(tmp_path):
    return config.from_dict({
        "node": {"id": "gw-x", "site": "lab"}, "sensors": ["a", "b"], "tick_s": 1.0, "topology": "group",
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}], "warmup": {"ticks": 30}, "window": {"steps": 16},
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state")}, base_dir=str(tmp_path))


def built(tmp_path) -> Agent:
    agent = Agent(agent_config(tmp_path))
    for src in agent.sources:
        src.close()
    agent.state_lock.release()
    return agent


def test_torn_journals_are_on_health(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    for name, text in TORN.items():
        (state / name).write_text(text)
    reads = built(tmp_path).health_snapshot()["state_reads"]
    # On the old code: {"active_bundle": None, "feedback": None}.
    assert reads["alert_journal"].startswith(f"{state / 'alert-journal.json'}: unreadable ("), reads
    assert reads["fault_journal"].startswith(f"{state / 'fault-journal.json'}: unreadable ("), reads
    assert reads["active_bundle"] is None and reads["feedback"] is None
    json.dumps(reads)


def test_no_state_files_nothing_noted(tmp_path):
    reads = built(tmp_path).health_snapshot()["state_reads"]
    assert reads == {"active_bundle": None, "feedback": None, "alert_journal": None, "fault_journal": None,
                     "alive": None}
