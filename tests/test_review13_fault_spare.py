"""A station's power cut on a full state disk: the fault journal's spare holds the tick's fault
events for every sensor (review13).

The journals' spares (agent/checkpoint.py EventJournal) take a document the full disk refuses, so
that a restart after a kill -9 continues or ends what was open. The fault journal's document holds
the tick's fault events and the open faults — about 0.6 KB a sensor — and its spare was 16 KiB
whatever the site: from about 35 sensors faulting in one tick (a power cut takes a whole station)
it did not fit, the faults were not journaled at all, and every MQTT subscriber held them open for
good after the restart. The spare is now sized by the sensors (2 KiB each, 16 KiB at least).

A real agent on a real state_dir; the journal's atomic write is made to fail by a directory in its
place (the spare, a file beside it, is written in place as on a full disk)."""
from __future__ import annotations

import time
from dataclasses import asdict

from agent import config
from agent.checkpoint import FAULT_JOURNAL_FILE, EventJournal
from agent.faults.tracker import FaultEvent
from agent.service import Agent
from agent.state_writes import StateWrites

SENSORS = [f"S{i // 4:02d}_{kind}" for i, kind in zip(range(48), ["flow", "occ", "speed", "temp"] * 12)]


def test_the_fault_events_of_every_sensor_in_one_tick_fit_the_spare(tmp_path):
    (tmp_path / "none.jsonl").write_text("")
    cfg = config.from_dict({
        "sensors": SENSORS, "tick_s": 30, "topology": "group", "scoring": {"chain": ["numpy"]},
        "sources": [{"type": "replay", "path": str(tmp_path / "none.jsonl"), "format": "jsonl"}],
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}], "state_dir": str(tmp_path / "state")},
        base_dir=str(tmp_path))
    agent = Agent(cfg)
    try:
        state = tmp_path / "state"
        (state / FAULT_JOURNAL_FILE).mkdir()                # the journal cannot be written: the spare must do
        now = time.time()
        events = [FaultEvent(
            fault_id=f"gw-a-{s}-20260106T065000Z-8b5bc6", seq=0, event="fault", node="gw-a", site="demo-corridor",
            sensor=s, group=s.split("_")[0], kind="missing", ts=now, start=now - 90, end=None,
            evidence={"summary": f"no reading for 90 s (3 ticks) while its station's {', '.join(SENSORS[:4])} also fell silent",
                      "silent_s": 90.0, "last_value": 38.9611, "neighbours": {n: 8.01 for n in SENSORS[:4]}})
                  for s in SENSORS]
        agent._emit_faults(events)                          # one tick: the station's power cut, all 48 sensors
        assert agent.state_writes.snapshot()["fault_journal"]["failed"] == 1
        doc = EventJournal(state, FAULT_JOURNAL_FILE, "fault").read()
        assert doc is not None, "the spare did not take the document"
        assert sorted(doc["tracker"]["open"]) == sorted(SENSORS)
        assert doc["tracker"]["events"] == [asdict(e) for e in events]
    finally:
        agent.journal.close()
        agent.fault_journal.close()
        agent.state_lock.release()


def test_a_fault_journal_lost_is_said_in_english(tmp_path, caplog):
    """The line for a journal neither written nor kept in its spare said 'an fault open at a crash'."""
    writes = StateWrites()
    for key in ("alert_journal", "fault_journal"):
        writes.failure(key, tmp_path / key, OSError(28, "No space left on device"))
    said = caplog.text
    assert "; an alert open at a crash cannot be continued" in said and "; a fault open at a crash cannot" in said, said
