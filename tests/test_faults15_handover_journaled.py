"""faults15: a fault handed over to another rule (faults14's tracker._hand_over: a `missing` sensor back reading out of
range goes on as `out_of_range` under its id) is journaled when it happens. Before, the hand-over reached the fault
journal only with the fault's next join or end: after a kill -9 the fault resumed from the journal as `missing`,
and its fault_end said `missing` alone — the out_of_range it was judged was lost.

Both shapes: c, a lone fault its skid1 mates may join (station.py's Grouped, its journal entry rewritten), and d,
alone on skid2, a sensor's own fault (its entry given `kinds_judged`).

Real parts: a real `stad-agent run` on stdin with a real state_dir, killed with SIGKILL and restarted
(tests/restart_helpers.py); payloads checked against the shipped schema."""
from __future__ import annotations

import json

import jsonschema

from agent.journaled import checked_open
from restart_helpers import AgentProcess, wait_for, write_config
from station_feed import FAULT_SCHEMA

T0 = 1_767_600_000


def _row(i: int, silent: str = "", broken: str = "") -> str:
    r = {"ts": T0 + i, "a": 1.0 + (i % 7) / 10, "b": 2.0 + (i % 5) / 10, "c": 3.0 + (i % 3) / 10,
         "d": 3.0 + (i % 4) / 10}
    r.update({s: 500.0 for s in broken})         # their range is 0–10: an open 4–20 mA loop
    return json.dumps({k: v for k, v in r.items() if k not in silent}) + "\n"


def _faults(tmp_path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    return [f for f in map(json.loads, (x for x in lines if x.endswith("\n"))) if f["event"].startswith("fault")]


def _journal_open(tmp_path) -> dict:
    try:
        return json.loads((tmp_path / "state" / "fault-journal.json").read_text())["tracker"]["open"]
    except (OSError, ValueError, KeyError):
        return {}


def test_a_hand_over_is_journaled_at_once_and_a_kill_9_keeps_its_kinds(tmp_path):
    sensors = [{"name": "a", "group": "skid1"}, {"name": "b", "group": "skid1"},
               {"name": "c", "group": "skid1", "min": 0, "max": 10}, {"name": "d", "group": "skid2", "min": 0, "max": 10}]
    cfg = write_config(tmp_path, checkpoint_s=3600, sensors=sensors,
                       faults={"missing_s": 3, "clear_s": 5, "stuck_s": 3600, "flatline_s": 3600})
    first = AgentProcess(tmp_path, cfg, "run1")
    first.ready()
    first.feed(_row(i) for i in range(150))
    assert first.finish() == 0 and _faults(tmp_path) == []      # its clean stop: the only checkpoint

    second = AgentProcess(tmp_path, cfg, "run2")
    assert "resumed from checkpoint" in second.ready()
    second.feed([_row(i) for i in range(150, 160)] + [_row(i, silent="cd") for i in range(160, 175)]
                + [_row(i, broken="cd") for i in range(175, 200)])
    told = wait_for(lambda: len(_faults(tmp_path)) >= 2 and _faults(tmp_path), "c's and d's faults", proc=second.proc)
    assert sorted((f["event"], f["sensor"], f["kind"]) for f in told) == [("fault", "c", "missing"),
                                                                          ("fault", "d", "missing")]
    # back, reading 500: `missing` gone clear_s later, judged out_of_range — no event, but the journal says it now
    handed = wait_for(lambda: all("kinds_judged" in _journal_open(tmp_path).get(s, {}) for s in "cd")
                      and _journal_open(tmp_path), "the hand-overs in the fault journal", timeout=60, proc=second.proc)
    second.kill()
    assert handed["c"]["kinds_judged"] == {"c": ["missing", "out_of_range"]} and handed["c"]["kind"] == "missing"
    assert handed["d"] == {**handed["d"], "kind": "missing", "kinds_judged": {"d": ["missing", "out_of_range"]}}
    assert "sensors" not in handed["d"]             # (a sensor's own fault's entry, its kinds added)
    assert _faults(tmp_path) == told                # nothing told at the hand-over

    # life 3: from life 1's checkpoint and the journal; the sensors healthy again after the downtime
    third = AgentProcess(tmp_path, cfg, "run3")
    assert "resumed from checkpoint" in third.ready()
    third.feed(_row(i) for i in range(400, 500))
    assert third.finish() == 0
    after = _faults(tmp_path)[len(told):]
    for f in after:
        jsonschema.validate(f, FAULT_SCHEMA)
    mine = [f for f in after if f["sensor"] in ("c", "d")]     # (the restart gap's `source` fault of stdin aside)
    assert [f["event"] for f in mine] == ["fault_end", "fault_end"], mine     # no second page
    ends = {f["sensor"]: f for f in mine}
    for s in "cd":
        end, fault = ends[s], next(f for f in told if f["sensor"] == s)
        assert (end["fault_id"], end["kind"], end["reason"]) == (fault["fault_id"], "missing", "cleared"), end
        # before: {"summary": "missing condition gone for 5 s"} — the out_of_range lost with the kill
        assert end["evidence"]["kinds_judged"] == {s: ["missing", "out_of_range"]}, end
        assert "out_of_range condition gone" in end["evidence"]["summary"], end


def test_a_sensor_faults_kinds_in_the_journal_are_checked_like_a_stations():
    """A sensor's own fault's `kinds_judged` (new here) is read by the restart: one that does not fit is named by its
    key path and that entry left out (the checkpoint's goes on), as a station's always was (agent/journaled.py)."""
    entry = {"fault_id": "gw-d-1", "kind": "missing", "start": float(T0), "group": "skid2"}
    kept, problems = checked_open({"d": {**entry, "kinds_judged": {"d": ["missing", "out_of_range"]}},
                                   "e": {**entry, "kinds_judged": {"e": ["missing", "wobbly"]}},
                                   "f": {**entry, "kinds_judged": ["missing"]}})
    assert list(kept) == ["d"]
    assert problems == {"e": "open.e.kinds_judged.e: ['missing', 'wobbly'] is no list of sensor fault kinds",
                        "f": "open.f.kinds_judged: expected a mapping of sensor to kinds, got list"}
