"""A station fault open across an upgrade from a release before `fault_update` (faults13) ends cleanly, its events
unique by (fault_id, seq) and increasing as sent. That release numbered fault 0 and fault_end 1 and told no join;
this one numbers as an alert does (fault 0, each fault_update the next, the end after them) and keeps the count of
updates told in the checkpoint and the journal entry (`updates`) — which the earlier release's files lack: none told.

Real files that release wrote: tests/fixtures/faults13_f18317d6.ckpt (its Pipeline's checkpoint, the station fault of
skid1 open, mate d joined untold) and .json (its fault journal's open entries then, the events it sent), made by
tests/fixtures/make_faults13_fixture.py with main f18317d6's tree (`git archive`). Restored from the checkpoint, the
fault goes on: d, back and silent again, joins it again (fault_update #1), it ends #2. With no checkpoint, the
journal's entry ends it (restart) #1. Every payload checked against the shipped schema."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema

from agent import config
from agent.checkpoint import decode
from agent.journaled import checked_open
from agent.pipeline import Pipeline
from conftest import through_file

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA = json.loads((FIXTURES.parents[1] / "agent/schemas/fault.schema.json").read_text())
sys.path.insert(0, str(FIXTURES))
from make_faults13_fixture import BEFORE, CONFIG, skid_rows  # noqa: E402

MADE = json.loads((FIXTURES / "faults13_f18317d6.json").read_text())


def _unique_and_increasing(events: list[dict]) -> None:
    """Every payload valid; per fault, its seqs in the order sent strictly increasing (so unique), from 0."""
    by_fault: dict[str, list[int]] = {}
    for ev in events:
        jsonschema.validate(ev, SCHEMA)
        by_fault.setdefault(ev["fault_id"], []).append(ev["seq"])
    for fid, seqs in by_fault.items():
        assert seqs[0] == 0 and all(a < b for a, b in zip(seqs, seqs[1:])), (fid, seqs)


def test_a_station_fault_open_in_an_earlier_release_s_checkpoint_goes_on_and_ends_with_unique_seqs():
    _, saved = decode((FIXTURES / "faults13_f18317d6.ckpt").read_bytes())
    assert MADE["before"] == BEFORE and [ev["event"] for ev in MADE["told"]] == ["fault"]     # the join untold then
    pipe = Pipeline(config.from_dict(CONFIG))
    pipe.restore(saved["pipeline"])
    [g] = pipe.health.stations.open.values()
    assert (g.sensors, g.updates) == (["a", "b", "d"], 0)       # no `updates` in its state: none told
    after = []
    for row in skid_rows()[BEFORE:]:
        after += [f.to_dict() for f in pipe.step(row).faults]
    fid = MADE["told"][0]["fault_id"]
    assert [(ev["event"], ev["seq"]) for ev in after if ev["fault_id"] == fid] == \
        [("fault_update", 1), ("fault_end", 2)]
    update, end = [ev for ev in after if ev["fault_id"] == fid]
    assert update["evidence"]["summary"].startswith("d (missing, again) joined"), update
    assert end["reason"] == "cleared" and end["sensors"] == ["a", "b", "d"] and list(end["evidence"]["joined"]) == ["d"]
    _unique_and_increasing(MADE["told"] + after)


def test_an_earlier_release_s_journal_entry_ends_its_station_fault_at_a_restart_as_seq_1():
    opened, problems = checked_open(MADE["open"])
    assert problems == {} and opened == MADE["open"]
    pipe = Pipeline(config.from_dict(CONFIG))
    [end] = [ev.to_dict() for ev in pipe.health.ended_at_restart(opened, 1_767_600_200.0)]
    assert (end["event"], end["seq"], end["reason"], end["sensors"]) == ("fault_end", 1, "restart", ["a", "b", "d"])
    _unique_and_increasing(MADE["told"] + [end])


def test_a_restart_from_a_checkpoint_before_a_join_goes_on_with_the_journal_s_count_of_updates():
    """This release's own kill -9: its checkpoint from before d's join (tick 100), its fault journal from after it
    (tick 180: the entry's `updates` 1). The restart steps the ticks the journal has told untold (the join again in
    them), then makes the open faults the journal's (agent/resume.py `_faults_told_until`): the events it tells
    after are those of a life that ran on — d's second join #2, the end #3 — with no seq told twice or skipped."""
    rows = skid_rows()
    straight, told = Pipeline(config.from_dict(CONFIG)), []
    for k, row in enumerate(rows):
        if k == 100:
            saved = through_file(straight.state_dict())
        if k == 181:
            journal = json.loads(json.dumps(straight.health.open_faults()))     # (as the file holds it)
        told.append([f.to_dict() for f in straight.step(row).faults])
    assert journal["skid1"]["updates"] == 1 and "updates" not in saved["health"]["stations"][0]
    restarted = Pipeline(config.from_dict(CONFIG))
    restarted.restore(through_file(saved))
    for row in rows[100:181]:
        restarted.step(row)                         # told by the last life: untold
    restarted.health.resume_open(journal)
    after = [[f.to_dict() for f in restarted.step(row).faults] for row in rows[181:]]
    fid = journal["skid1"]["fault_id"]
    assert after == told[181:]
    assert [(f["event"], f["seq"]) for t in told for f in t if f["fault_id"] == fid] == \
        [("fault", 0), ("fault_update", 1), ("fault_update", 2), ("fault_end", 3)]
    _unique_and_increasing([f for t in told for f in t])
