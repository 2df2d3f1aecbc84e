"""A journal's `tracker.ts` is read as a time (agent/journaled.py `journal_ts`), naming the key, by all three readers.

review37: the alert journal's reader, the fault journal's and the other-version fault journal's took it with
float(). A 400-digit integer there (a flipped bit, a hand edit: JSON has no limit) raised a bare OverflowError
that the fault journal's reader did not catch: `Agent(...)` failed at every start while the file was there. A NaN
was taken (newer and older than no checkpoint), a string of digits too. Now each is "not usable", said with the
file and the key, counted in health's state reads, and the agent starts. A real Agent built over a state
directory that holds only the damaged journal (as the agent writes it: EventJournal's document).
"""
from __future__ import annotations

import json

import pytest

from agent.checkpoint import FAULT_JOURNAL_FILE, FORMAT_VERSION, JOURNAL_FILE
from agent.config import from_dict
from agent.service import Agent
from conftest import PUMP

HUGE = "1" + "0" * 400


def _agent(tmp_path) -> Agent:
    return Agent(from_dict({
        "sensors": PUMP, "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 200},
        "sources": [{"type": "simulate", "scenario": "pump", "seed": 1, "duration_s": 30}],
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state")}))


def _close(agent: Agent) -> None:
    for sink in agent.sinks:
        sink.close()
    agent.state_lock.release()


def _journal(tmp_path, name: str, tracker: str, version: int = FORMAT_VERSION) -> None:
    """The journal's JSON text with `tracker` written into it as text (a 400-digit number cannot go through
    json.dumps as a float)."""
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / name).write_text('{"version": %d, "n": 1, "event": {}, "tracker": %s}' % (version, tracker))


@pytest.mark.parametrize("ts, said", [(HUGE, "tracker.ts: 1000000"), ("NaN", "tracker.ts: nan is not a time"),
                                      ('"1764000000"', "tracker.ts: '1764000000' is not a time")],
                         ids=["400 digits", "NaN", "a string"])
def test_a_fault_journals_ts_that_is_no_time_is_not_usable_and_the_agent_starts(tmp_path, ts, said):
    _journal(tmp_path, FAULT_JOURNAL_FILE, '{"ts": %s, "open": {}, "events": []}' % ts)
    agent = _agent(tmp_path)            # on main: OverflowError for the 400-digit one
    try:
        problem = agent.state_reads["fault_journal"]
        assert problem.startswith(f"{tmp_path / 'state' / FAULT_JOURNAL_FILE}: not usable ({said}"), problem
    finally:
        _close(agent)


def test_an_other_version_fault_journals_ts_that_is_no_time_ends_nothing(tmp_path, caplog):
    _journal(tmp_path, FAULT_JOURNAL_FILE, '{"ts": %s, "open": {}}' % HUGE, version=FORMAT_VERSION + 1)
    agent = _agent(tmp_path)
    try:
        assert "its open faults not usable (tracker.ts: 1000000" in caplog.text
    finally:
        _close(agent)


@pytest.mark.parametrize("ts, said", [(HUGE, "tracker.ts: 1000000"), ("NaN", "tracker.ts: nan is not a time")],
                         ids=["400 digits", "NaN"])
def test_an_alert_journals_ts_that_is_no_time_is_not_usable(tmp_path, ts, said):
    event = {"alert_id": "a1", "seq": 1, "event": "new", "node": "gw", "site": "site", "ts": 1764000000.0,
             "start": 1763999990.0, "end": None, "score": 9.0, "peak_score": 9.0, "threshold": 5.0, "tier": "numpy",
             "model_id": None, "model_sha256": None, "top_sensors": [], "top_steps": [], "origin": None, "ticks": 10}
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / JOURNAL_FILE).write_text(
        '{"version": %d, "n": 1, "event": %s, "tracker": {"ts": %s, "state": {}}}'
        % (FORMAT_VERSION, json.dumps(event), ts))
    agent = _agent(tmp_path)
    try:
        problem = agent.state_reads["alert_journal"]
        assert problem is not None and f"not usable ({said}" in problem, problem
    finally:
        _close(agent)
