"""A fault a restart ends with no checkpoint restored is stamped with the last tick the last run saw it open (qa47).

user27 added a station, which refused the checkpoint: `FAULT_END stuck K028_speed … ended 16:38:30 (restart)` for a
loop still stuck at the stop (16:46:30) — 16:38:30 was the fault journal's last write (a fault event elsewhere). A
clean stop writes a checkpoint at the stop; refused, its header still says its last tick, and the restart ends the
faults there (agent/resume.py `_header_last_ts`, agent/journal_resume.py `_last_seen_open`). A real agent on stdin:
sensor `a` falls silent (a `missing` fault), the rest report on for 100 s, SIGTERM; a sensor added; started again.
"""
from __future__ import annotations

import json
import random

import yaml

from agent.alerts import iso
from agent.checkpoint import read_meta
from agent.journaled import journal_ts
from conftest import wait_for
from restart_helpers import T0, AgentProcess, write_config


def line(i: int, with_a: bool) -> str:
    r = random.Random(i)
    values = {"b": 2.0 + r.gauss(0, 0.1), "c": r.gauss(0, 0.1)} | ({"a": 1.0 + r.gauss(0, 0.1)} if with_a else {})
    return json.dumps({"ts": T0 + i, **values}) + "\n"


def test_a_fault_ended_by_a_restart_without_a_checkpoint_ends_at_the_stop_not_the_journals_last_write(tmp_path):
    cfg = write_config(tmp_path)
    state = tmp_path / "state"
    first = AgentProcess(tmp_path, cfg, "life1")
    try:
        first.ready()
        first.feed([line(i, with_a=i < 100) for i in range(200)])
        wait_for(lambda: (state / "fault-journal.json").exists() and (state / "checkpoint.bin").exists()
                 and (read_meta(state / "checkpoint.bin").get("last_ts") or 0) >= T0 + 190,
                 "a checkpoint past the fault", 120, first.proc)
        assert first.terminate() == 0, first.stderr()[-3000:]
    finally:
        if first.proc.poll() is None:
            first.kill()
    journal = json.loads((state / "fault-journal.json").read_text())
    assert "a" in journal["tracker"]["open"], journal["tracker"]
    written, stopped = journal_ts(journal), read_meta(state / "checkpoint.bin")["last_ts"]
    assert stopped >= written + 60, (iso(written), iso(stopped))

    doc = yaml.safe_load(cfg.read_text())
    doc["sensors"].append("d")          # the checkpoint is refused (sensors differ)
    cfg.write_text(yaml.safe_dump(doc))
    second = AgentProcess(tmp_path, cfg, "life2")
    try:
        second.ready()
        assert second.terminate() == 0, second.stderr()[-3000:]
    finally:
        if second.proc.poll() is None:
            second.kill()
    assert "refused" in second.stderr(), second.stderr()[-3000:]
    events = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines() if x.strip()]
    [end] = [e for e in events if e.get("event") == "fault_end" and e.get("sensor") == "a"]
    assert end["reason"] == "restart", end
    assert end["end"] == iso(stopped) and end["ts"] == iso(stopped), (end, iso(written), iso(stopped))
