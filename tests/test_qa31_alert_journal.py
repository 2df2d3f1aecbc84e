"""An alert journal that names a sensor the config no longer has, or holds a count past any integer, must not stop
the agent. faults4 put the fault an alert ended with (`after_fault`: while it lasts, new alerts are judged without
that sensor) into the alert tracker's state, which the alert journal carries; a user whose sensor x was judged
faulty removes x from the config and restarts — the checkpoint is refused (the sensors differ), the journal's
tracker is taken, and on the old code the first tick above the threshold died looking x up (ValueError in the
tick thread). A count of `inf` (a hand edit; JSON takes Infinity) stopped it at its start (OverflowError), an
open alert's start that is no time or an explanation without its sensors at the alert's next event.

A real `stad-agent run` (stdin source, fake systemd): a first life stopped with a real alert open, its alert journal
then edited at one key and its checkpoint removed; the second life must start, say the file and the key,
warm up and score every row (on the old code the after_fault case died at the first tick above the threshold).
"""
from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import wait_for
from journal_damage import damage as damage_at, second_life
from restart_helpers import AgentProcess, alert_lines, row, write_config


@pytest.fixture(scope="module")
def first_life(tmp_path_factory):
    """A first life stopped by SIGTERM with its alert open (rows 170-199 are anomalous): the journal holds it."""
    tmp = tmp_path_factory.mktemp("qa31-alerts")
    agent = AgentProcess(tmp, write_config(tmp), "run1")
    try:
        agent.ready()
        agent.feed([row(i) for i in range(186)])
        wait_for(lambda: any(a["event"] == "new" for a in alert_lines(tmp)), "the alert raised", 90, agent.proc)
        assert agent.terminate() == 0
    finally:
        if agent.proc.poll() is None:
            agent.kill()
    assert json.loads((tmp / "state" / "alert-journal.json").read_text())["tracker"]["state"]["open"]
    return tmp


DAMAGE = {
    "after_fault names a removed sensor": ("after_fault", {"fault_id": "gw-restart-x-1", "sensor": "x", "kind": "stuck"},
                                          "alerts.after_fault: sensor 'x' is not in the config"),
    "a count past any integer": ("raised", float("inf"), "tracker not usable"),
    "an open alert's start that is no time": (("open", "start"), "08:02:50", "alerts.open.start: '08:02:50' is not a time"),
    "an open alert's explanation without sensors": (("open", "explain"), {"top_steps": []}, "alerts.open.explain: expected"),
    "an open alert's no-data count that is no count": (("open", "unheard"), "3", "alerts.open.unheard: '3' is not a count"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_alert_journal_is_said_and_the_agent_scores_on(tmp_path, first_life, damage):
    shutil.copytree(first_life / "state", tmp_path / "state")
    cfg = write_config(tmp_path)
    (tmp_path / "state" / "checkpoint.bin").unlink()
    journal = tmp_path / "state" / "alert-journal.json"
    doc = json.loads(journal.read_text())
    key, value, said = DAMAGE[damage]
    damage_at(doc["tracker"]["state"], key if isinstance(key, tuple) else (key,), value)
    journal.write_text(json.dumps(doc))
    err = second_life(tmp_path, cfg, [row(i) for i in range(186, 396)])      # anomalous from 270 and from 370
    assert re.search(rf"alert journal {re.escape(str(journal))}.*{re.escape(said)}", err), err[-3000:]
    assert re.search(r"summary: \d+ ticks, 210 records in", err), err[-3000:]      # every row scored through


def test_a_journal_s_station_fault_on_a_group_of_the_config_is_kept(tmp_path, first_life):
    """A `station` fault names its group, not a sensor (faults5): the journal's check took it for a sensor not in
    the config and forgot it at every restart, saying so (review25). Now a group of the config is a name it has."""
    shutil.copytree(first_life / "state", tmp_path / "state")
    cfg = write_config(tmp_path, sensors=[{"name": s, "group": "skid"} for s in ("a", "b", "c")])
    (tmp_path / "state" / "checkpoint.bin").unlink()
    journal = tmp_path / "state" / "alert-journal.json"
    doc = json.loads(journal.read_text())
    doc["tracker"]["state"]["after_fault"] = {"fault_id": "gw-restart-skid-1", "sensor": "skid", "kind": "station"}
    journal.write_text(json.dumps(doc))
    err = second_life(tmp_path, cfg, [row(i) for i in range(186, 396)])
    assert "is not in the config" not in err and "forgotten" not in err, err[-3000:]
    assert re.search(r"summary: \d+ ticks, 210 records in", err), err[-3000:]
