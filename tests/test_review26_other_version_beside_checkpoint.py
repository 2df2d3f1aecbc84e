"""A fault journal of another format version beside a restored checkpoint of this release: the faults it holds
open that the checkpoint does not are ended (reason restart) when the journal is newer (faults7's leftover;
review26). faults7 ended them only with no checkpoint; beside one they were ignored, and a subscriber held them
open for good.

Real parts: a real Agent (in-process) run over the first 100 ticks of the OPC UA test server's skid as a real CSV
(its checkpoint written at the end of its input); the same skid replayed further through a Pipeline to a `stuck`
temp_motor, whose fault journal (written with the agent's own EventJournal) is then marked another version's;
then a second Agent built on that state directory."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from agent import config
from agent.checkpoint import FAULT_JOURNAL_FILE, FORMAT_VERSION, EventJournal
from agent.service import Agent
from skid_replay import SENSORS, replayed, skid_csv


def _cfg(tmp_path, csv: str) -> dict:
    return {"tick_s": 1.0, "topology": "group", "sensors": [{"name": s, "group": "skid1"} for s in SENSORS],
            "warmup": {"ticks": 40}, "sources": [{"type": "replay", "path": str(tmp_path / csv)}],
            "scoring": {"chain": ["numpy"]}, "state_dir": str(tmp_path / "state"),
            "sinks": [{"type": "jsonl", "path": str(tmp_path / "out.jsonl")}]}


def _agent(tmp_path, csv: str) -> Agent:
    return Agent(config.from_dict(_cfg(tmp_path, csv), base_dir=str(tmp_path)))


def _faults(tmp_path) -> list[tuple]:
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    return [(f["event"], f["fault_id"], f["reason"]) for f in lines if f["event"] in ("fault", "fault_end")]


@pytest.mark.parametrize("newer", [True, False], ids=["newer", "older"])
def test_a_newer_foreign_fault_journal_s_open_fault_is_ended_beside_a_checkpoint(tmp_path, newer):
    """Older than the checkpoint (its tick before the checkpoint's last): the checkpoint's to know, not ended."""
    skid_csv(tmp_path / "first.csv", 100, 1.7, 60)
    skid_csv(tmp_path / "skid.csv", 300, 1.7, 60)
    first = _agent(tmp_path, "first.csv")
    first.run()
    assert (tmp_path / "state" / "checkpoint.bin").exists() and _faults(tmp_path) == []
    [stuck], _, pipe = replayed(_cfg(tmp_path, "skid.csv"), tmp_path)     # (a later life, of another release)
    journal = EventJournal(tmp_path / "state", FAULT_JOURNAL_FILE, "fault")
    journal.record(asdict(stuck), {"ts": stuck.ts, "open": pipe.health.open_faults(), "events": [asdict(stuck)]})
    doc = json.loads(journal.path.read_text())
    doc["version"] = FORMAT_VERSION + 1
    if not newer:
        doc["tracker"]["ts"] = first.pipeline.last_ts - 10.0
    journal.path.write_text(json.dumps(doc))
    second = _agent(tmp_path, "skid.csv")
    try:
        assert second.resumed is not None                          # the checkpoint of this release
        assert _faults(tmp_path) == ([("fault_end", stuck.fault_id, "restart")] if newer else [])   # main: none
        assert second.pipeline.health.open_faults() == {}
    finally:
        for sink in second.sinks:
            sink.close()
        second.state_lock.release()
