"""A restart after a run whose alert journal could not be written (a full state disk) and that was
then killed: the JSONL sink holds alert events newer than the journal's last one."""
from __future__ import annotations

import json
import logging

from agent import config
from agent.sinks import open_sink
from conftest import alert_event


def test_a_journal_older_than_the_jsonl_is_not_written_again_out_of_order_and_the_newer_events_are_said(tmp_path,
                                                                                                        caplog):
    # On the old code the JSONL compared the journal's event with its last alert line only: a#3 (the
    # journal's, written long before) was written again after b#2 as 'decided before the last stop
    # but not written', out of order, and nothing said that b's events were never journaled.
    path = tmp_path / "alerts.jsonl"
    cfg = config.from_dict({"sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
                            "sinks": [{"type": "jsonl", "path": str(path)}], "state_dir": str(tmp_path)})
    sink = open_sink(cfg.sinks[0], cfg.sink_context())
    journaled = alert_event("a", 3, "end")
    for ev in [alert_event("a", 0, "new"), alert_event("a", 1), alert_event("a", 2), journaled,
               alert_event("b", 0, "new"), alert_event("b", 1), alert_event("b", 2)]:
        sink.emit(ev)
    sink.close()
    caplog.set_level(logging.INFO, logger="stad.sink.jsonl")
    restarted = open_sink(cfg.sinks[0], cfg.sink_context())
    restarted.recover(journaled)
    restarted.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["alert_id"], e["seq"]) for e in lines] == [("a", 0), ("a", 1), ("a", 2), ("a", 3), ("b", 0),
                                                           ("b", 1), ("b", 2)]
    said = [r.getMessage() for r in caplog.records]
    assert not any("decided before the last stop but not written" in m for m in said), said
    assert any("3 alert event(s) after a #3 (the alert journal's last) were written here but not journaled" in m
               and "(the last: b #2)" in m for m in said), said


def test_the_journals_event_missing_from_the_jsonl_is_still_written(tmp_path):
    path = tmp_path / "alerts.jsonl"
    cfg = config.from_dict({"sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
                            "sinks": [{"type": "jsonl", "path": str(path)}], "state_dir": str(tmp_path)})
    sink = open_sink(cfg.sinks[0], cfg.sink_context())
    sink.emit(alert_event("a", 0, "new"))
    sink.recover(alert_event("a", 1))
    sink.close()
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [0, 1]
