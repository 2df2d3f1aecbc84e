"""The journals' times and seqs are read as times and counts (agent/journaled.py `journal_ts`, `event_problem`), naming
the key, by every reader.

review37: the alert journal's reader, the fault journal's and the other-version fault journal's took `tracker.ts`
with float(); the other-version alert journal's reader checked its event with float(ts), int(seq). A 400-digit
integer, 1e999 (JSON's infinity to Python), NaN or a string there (a flipped bit, a hand edit, another release's
file after a downgrade) raised OverflowError, ValueError or TypeError outside any try: `Agent(...)` failed at every
start while the file was there (fault journal: 400 digits; other-version alert journal: all four); a NaN was taken
as a time, and a seq of -4 ended its alert as #-3. Now each is "not usable", said with the file and the key,
counted in health's state reads, and the agent starts. A real Agent built over a state directory that holds only
the damaged journal (the document EventJournal writes, as text: a 400-digit number cannot go through json.dumps).
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


#: This release's alert journal's last event, as the journal holds it (AlertEvent's fields, asdict).
EVENT = {"alert_id": "a1", "seq": 1, "event": "new", "node": "gw", "site": "site", "ts": 1764000000.0,
         "start": 1763999990.0, "end": None, "score": 9.0, "peak_score": 9.0, "threshold": 5.0, "tier": "numpy",
         "model_id": None, "model_sha256": None, "top_sensors": [], "top_steps": [], "origin": None, "ticks": 10}


def _alert_journal_problem(tmp_path, event: dict, ts: str) -> str | None:
    """Health's state read of an alert journal holding `event` and a tracker taken at `ts` (JSON text), the only
    file in state_dir, once an Agent is built over it."""
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / JOURNAL_FILE).write_text(
        '{"version": %d, "n": 1, "event": %s, "tracker": {"ts": %s, "state": {}}}' % (FORMAT_VERSION, json.dumps(event), ts))
    agent = _agent(tmp_path)
    try:
        return agent.state_reads["alert_journal"]
    finally:
        _close(agent)


@pytest.mark.parametrize("ts, said", [(HUGE, "tracker.ts: 1000000"), ("NaN", "tracker.ts: nan is not a time")],
                         ids=["400 digits", "NaN"])
def test_an_alert_journals_ts_that_is_no_time_is_not_usable(tmp_path, ts, said):
    problem = _alert_journal_problem(tmp_path, EVENT, ts)
    assert problem is not None and f"not usable ({said}" in problem, problem


def _other_version_alert_journal(tmp_path, seq: str, ts: str) -> None:
    event = ('{"alert_id": "a1", "seq": %s, "event": "new", "node": "gw", "site": "site", "ts": %s, '
             '"start": 1763999990.0, "end": null, "score": 9.0, "peak_score": 9.0, "threshold": 5.0, "tier": "numpy", '
             '"model_id": null, "model_sha256": null, "top_sensors": [], "top_steps": [], "origin": null, "ticks": 10}'
             % (seq, ts))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / JOURNAL_FILE).write_text('{"version": %d, "n": 1, "event": %s, "tracker": {"ts": 1}}'
                                                    % (FORMAT_VERSION + 1, event))


@pytest.mark.parametrize("seq, ts, said", [
    ("1e999", "1764000000.0", "event.seq: inf is not a count"),
    ("-4", "1764000000.0", "event.seq: -4 is not a count"),
    ("1", HUGE, "event.ts: 1000000"),
    ("1", "NaN", "event.ts: nan is not a time"),
    ("1", '"1764000000"', "event.ts: '1764000000' is not a time"),
], ids=["seq 1e999", "seq -4", "ts 400 digits", "ts NaN", "ts a string"])
def test_an_other_version_alert_journals_event_that_cannot_be_ended_is_said_and_the_agent_starts(tmp_path, caplog,
                                                                                               seq, ts, said):
    _other_version_alert_journal(tmp_path, seq, ts)
    agent = _agent(tmp_path)        # on main: OverflowError / ValueError / TypeError, but for seq -4 (#-3 sent)
    try:
        assert f"(format version {FORMAT_VERSION + 1}): its last event not usable ({said}" in caplog.text
        assert not (tmp_path / "alerts.jsonl").exists() or "a1" not in (tmp_path / "alerts.jsonl").read_text()
    finally:
        _close(agent)


def test_an_other_version_alert_journals_sound_open_alert_is_still_ended(tmp_path):
    _other_version_alert_journal(tmp_path, "3", "1764000000.0")
    agent = _agent(tmp_path)
    try:
        [line] = (tmp_path / "alerts.jsonl").read_text().splitlines()
        ended = json.loads(line)
        assert (ended["alert_id"], ended["seq"], ended["event"], ended["reason"]) == ("a1", 4, "end", "restart")
    finally:
        _close(agent)


@pytest.mark.parametrize("key, value, said", [("seq", -1, "event.seq: -1 is not a count"),
                                             ("threshold", None, "event.threshold: None is not a finite number"),
                                             ("threshold", "5", "event.threshold: '5' is not a finite number")],
                         ids=["seq -1", "threshold null", "threshold a string"])
def test_this_versions_alert_journal_with_an_event_that_is_none_is_not_usable(tmp_path, key, value, said):
    """With no checkpoint the journal's open alert is ended at the start against its event's threshold: a threshold
    that was no number stopped Agent(...) there (TypeError, ValueError: found by a fuzz of the journals' leaves)."""
    problem = _alert_journal_problem(tmp_path, {**EVENT, key: value}, "1764000000.0")
    assert problem is not None and f"not usable ({said})" in problem, problem


@pytest.mark.parametrize("seq, ts, said", [('"3"', '"2025-11-24T16:00:00.000Z"', "event.seq: '3' is not a count"),
                                           ("1e999", '"2025-11-24T16:00:00.000Z"', "event.seq: inf is not a count"),
                                           ("-2", '"2025-11-24T16:00:00.000Z"', "event.seq: -2 is not a count"),
                                           ("2", "null", "event.ts: None is not a time")],
                         ids=["seq a string", "seq 1e999", "seq -2", "ts null"])
def test_a_jsonl_sinks_last_alert_line_with_a_seq_that_is_none_is_not_ended(tmp_path, caplog, seq, ts, said):
    """The JSONL sink's newest alert line, newer than any journal (the last run could not journal it), is the
    alert a restart ends (reason restart) under its seq + 1: a string seq stopped the start (TypeError), 1e999
    wrote an end event of seq Infinity (no JSON for a strict reader), -2 one of seq -1; a null ts stopped the start
    (TypeError comparing it with the checkpoint's: found by a fuzz of the line's leaves)."""
    line = ('{"kind":"alert","alert_id":"a1","seq":%s,"event":"new","node":"gw","site":"site",'
            '"ts":%s,"start":"2025-11-24T15:59:50.000Z","end":null,"score":9.0,'
            '"peak_score":9.0,"threshold":5.0,"tier":"numpy","model_id":null,"model_sha256":null,"top_sensors":[],'
            '"top_steps":[],"origin":null,"ticks":10,"reason":null,"replayed":false,"gap_s":null,"schema_version":1}\n'
            % (seq, ts))
    (tmp_path / "alerts.jsonl").write_text(line)
    agent = _agent(tmp_path)
    try:
        assert f"cannot read its last alert line back ({said}); an alert it left open is not ended" in caplog.text
        assert (tmp_path / "alerts.jsonl").read_text() == line          # nothing ended under a seq that is none
    finally:
        _close(agent)
