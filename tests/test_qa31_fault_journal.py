"""A fault journal whose open station fault (faults5) was damaged on disk — a flipped bit, a hand edit, an
older or newer agent's idea of its keys — must not stop the agent: it says which file and which key, counts
it in health's state reads, resumes the rest, and keeps scoring (README: Restarts, checkpoints and kill -9).

A real `stad-agent run` (stdin source, fake systemd): a first life whose station skid1 (a, b) falls silent
— one `station` fault, journaled — stopped by SIGTERM (the fault left open for the next start); its fault
journal then damaged at one key and made newer than the checkpoint (the restart then takes its open faults),
or the checkpoint removed (the restart ends them, reason restart). On the old code each second life died at
its start (AttributeError, OverflowError: a crash loop under systemd) or at its first tick past the journal
(a station whose sensor's kind is none: ValueError in the tick thread).
"""
from __future__ import annotations

import json
import random
import re
import shutil

import pytest

from agent.checkpoint import read_meta
from conftest import wait_for
from journal_damage import damage as damage_at, second_life
from restart_helpers import T0, AgentProcess, write_config

SENSORS = [{"name": "a", "group": "skid1"}, {"name": "b", "group": "skid1"}, {"name": "c", "group": "skid2"}]


def _rows(lo: int, hi: int, silent: tuple = ()) -> list[str]:
    out = []
    for i in range(lo, hi):
        r = random.Random(i)
        values = {"a": 1.0 + r.gauss(0, 0.1), "b": 2.0 + r.gauss(0, 0.1), "c": r.gauss(0, 0.1)}
        out.append(json.dumps({"ts": T0 + i, **{k: v for k, v in values.items() if k not in silent}}) + "\n")
    return out


@pytest.fixture(scope="module")
def first_life(tmp_path_factory):
    """A stopped first life's directory: its station fault open in the fault journal and the checkpoint."""
    tmp = tmp_path_factory.mktemp("qa31-journal")
    cfg = write_config(tmp, sensors=SENSORS, checkpoint_s=3600, faults={"holdback_s": 0, "drift_holdback_s": 0})
    agent = AgentProcess(tmp, cfg, "run1")
    try:
        agent.ready()
        agent.feed(_rows(0, 90))
        agent.feed(_rows(90, 110, silent=("a", "b")))
        journal = tmp / "state" / "fault-journal.json"
        wait_for(lambda: journal.exists() and "station" in journal.read_text(), "the station fault journaled", 90,
                 agent.proc)
        assert agent.terminate() == 0
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    doc = json.loads(journal.read_text())
    assert doc["tracker"]["open"]["skid1"]["kinds"] == {"a": "missing", "b": "missing"}, doc
    return tmp


DAMAGE = {
    "kinds not a mapping": (("kinds",), "x"),
    "a kind that is none": (("kinds", "a"), "bogus"),
    "a start past any time": (("start",), 1e308),
    "no sensors": (("sensors",), []),
}


@pytest.mark.parametrize("restored", [True, False], ids=["checkpoint", "no checkpoint"])
@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_open_station_fault_in_the_journal_is_said_and_the_agent_runs_on(tmp_path, first_life, damage,
                                                                                   restored):
    shutil.copytree(first_life / "state", tmp_path / "state")
    cfg = write_config(tmp_path, sensors=SENSORS, checkpoint_s=3600, faults={"holdback_s": 0, "drift_holdback_s": 0})
    journal = tmp_path / "state" / "fault-journal.json"
    doc = json.loads(journal.read_text())
    (*path, key), value = DAMAGE[damage]
    fault_id = doc["tracker"]["open"]["skid1"]["fault_id"]
    damage_at(doc["tracker"]["open"]["skid1"], (*path, key), value)
    if restored:     # newer than the checkpoint: its open faults are the ones the restart goes on with
        doc["tracker"]["ts"] = read_meta(tmp_path / "state" / "checkpoint.bin")["last_ts"] + 1
    else:
        (tmp_path / "state" / "checkpoint.bin").unlink()
    journal.write_text(json.dumps(doc))
    err = second_life(tmp_path, cfg, _rows(110, 200))
    said = f"fault journal {journal}: open fault skid1 not usable (open.skid1.{'.'.join([*path, key])}"
    assert said in err and ("the checkpoint's goes on" if restored else "left out") in err, err[-3000:]
    assert re.search(r"summary: \d+ ticks, 90 records in", err), err[-3000:]        # every row went through
    if restored:     # the checkpoint's station fault went on in the entry's place, and ended with a, b back
        ends = [e for e in map(json.loads, (tmp_path / "alerts.jsonl").read_text().splitlines())
                if e.get("event") == "fault_end" and e.get("kind") == "station"]
        assert [e["fault_id"] for e in ends] == [fault_id], ends
