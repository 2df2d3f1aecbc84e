"""faults7: the fault and alert journals across restarts (faults6's and qa31's leftovers).

- A lone fault resumed from the fault journal alone (the checkpoint older) can be joined by a mate judged faulty
  within `faults.station_join_s` of its start, as before the restart: one page (agent/faults/station.py resume).
- A mate's join is journaled when it happens (agent/delivery.py): a second kill -9 before the fault's end does
  not tell the mate again on its own.

Real parts: a real `stad-agent run` on stdin with a real state_dir, killed with SIGKILL and restarted
(tests/restart_helpers.py); payloads checked against the shipped schema."""
from __future__ import annotations

import json

import jsonschema

from restart_helpers import AgentProcess, wait_for, write_config
from station_feed import FAULT_SCHEMA

JOIN_S = 40


def _row(i: int, silent: str = "") -> str:
    r = {"ts": 1_767_600_000 + i, "a": 1.0 + (i % 7) / 10, "b": 2.0 + (i % 5) / 10, "c": (i % 3) / 10,
         "d": 3.0 + (i % 4) / 10}
    return json.dumps({k: v for k, v in r.items() if k not in silent}) + "\n"


def _faults(tmp_path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    return [f for f in map(json.loads, (x for x in lines if x.endswith("\n"))) if f["event"] in ("fault", "fault_end")]


def _journal_open(tmp_path) -> dict:
    try:
        return json.loads((tmp_path / "state" / "fault-journal.json").read_text())["tracker"]["open"]
    except (OSError, ValueError, KeyError):
        return {}


def _life2() -> list[str]:
    """Rows 150–164, c silent from 155: life 2's, sent again by the next life's source (a sender re-sending
    what was not acknowledged: no restart gap, whose silence is another matter)."""
    return [_row(i) for i in range(150, 155)] + [_row(i, "c") for i in range(155, 165)]


def _c_told_then_killed(tmp_path):
    """Life 1 stops cleanly at row 150 (the only checkpoint); life 2 is killed -9 once c's lone fault is told.
    (the config, c's `fault` event)"""
    sensors = [{"name": s, "group": "skid1"} for s in "abc"] + [{"name": "d", "group": "skid2"}]
    cfg = write_config(tmp_path, checkpoint_s=3600, sensors=sensors, faults={"station_join_s": JOIN_S})
    first = AgentProcess(tmp_path, cfg, "run1")
    first.ready()
    first.feed(_row(i) for i in range(150))
    assert first.finish() == 0 and _faults(tmp_path) == []
    second = AgentProcess(tmp_path, cfg, "run2")
    assert "resumed from checkpoint" in second.ready()
    second.feed(_life2())
    wait_for(lambda: _faults(tmp_path), "c's fault", proc=second.proc)
    second.kill()
    [told] = _faults(tmp_path)
    assert (told["event"], told["sensor"], told["kind"]) == ("fault", "c", "missing")
    assert "sensors" not in _journal_open(tmp_path)["c"]         # a lone fault nobody joined: a sensor's entry
    return cfg, told


def _resumed(tmp_path, cfg, name: str, b_silent_until: int, healthy_until: int = 0) -> AgentProcess:
    """A life resumed from life 1's checkpoint, fed life 2's rows again, c silent to 170, c and b to
    `b_silent_until`, then all read up to `healthy_until`."""
    life = AgentProcess(tmp_path, cfg, name)
    assert "resumed from checkpoint" in life.ready()
    life.feed(_life2() + [_row(i, "c") for i in range(165, 170)] + [_row(i, "cb") for i in range(170, b_silent_until)]
              + [_row(i) for i in range(b_silent_until, healthy_until)])
    return life


def _one_page(tmp_path, told: dict, before: int) -> None:
    """After the first `before` events: no fault of b or c told again, and c's one fault_end lists b as joined."""
    check = _faults(tmp_path)
    for f in check:
        jsonschema.validate(f, FAULT_SCHEMA)
    after = check[before:]
    assert not [f for f in after if f["event"] == "fault" and f["sensor"] in ("b", "c")], after
    [end] = [f for f in after if f["fault_id"] == told["fault_id"]]
    assert (end["event"], end["sensor"], end["reason"]) == ("fault_end", "c", "cleared")
    assert "b" in end["evidence"]["joined"], end


def test_a_lone_fault_resumed_from_the_journal_alone_is_joined_by_a_mate(tmp_path):
    """Life 3 resumes c's lone fault from the journal (its checkpoint is life 1's); b, silent within
    `station_join_s` of c's start, joins it: one page, as it would have without the restart (it was a second)."""
    cfg, told = _c_told_then_killed(tmp_path)
    assert _resumed(tmp_path, cfg, "run3", 180, 300).finish() == 0
    _one_page(tmp_path, told, 1)


def test_a_mate_that_joined_after_a_restart_is_journaled_at_its_join_and_survives_a_second_kill_9(tmp_path):
    """Life 3 resumes c's lone fault from the journal; b joins it; the journal is written at the join (nothing else
    is told: before, the join reached the journal only with c's end) and life 3 is killed. Life 4, b still silent
    past `station_join_s` after c's start (a second page had it lost its join), keeps b under c's page."""
    cfg, told = _c_told_then_killed(tmp_path)
    third = _resumed(tmp_path, cfg, "run3", 180)
    joined = wait_for(lambda: _journal_open(tmp_path).get("c", {}).get("joined"), "b's join in the fault journal",
                      timeout=60, proc=third.proc)
    third.kill()
    assert list(joined) == ["b"] and _faults(tmp_path) == [told]
    assert _resumed(tmp_path, cfg, "run4", 215, 330).finish() == 0
    _one_page(tmp_path, told, 1)
