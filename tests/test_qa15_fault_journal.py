"""A fault journal whose write failed (a full state disk) is written again once space returns,
not only at the next fault event — which may be hours away while the fault lasts: until then
health said the write failed and a restart resumed the fault journal's older state.

A real `stad-agent run` (stdin source, fake systemd), a real 2 MiB tmpfs for state_dir filled and freed.
"""
from __future__ import annotations

import json
import random

from conftest import wait_for
from restart_helpers import T0, AgentProcess, finished, write_config
from small_fs import small_fs  # noqa: F401 — a pytest fixture


def _row(i: int, stuck: bool) -> str:
    r = random.Random(i)
    c = 0.25 if stuck else r.gauss(0, 0.1)
    return json.dumps({"ts": T0 + i, "a": 1.0 + r.gauss(0, 0.1), "b": 2.0 + r.gauss(0, 0.1), "c": c}) + "\n"


def test_a_fault_journal_write_that_failed_is_written_again_when_space_returns(tmp_path, small_fs):
    # On the old code the journal was written only with the next fault event: with sensor c stuck
    # all along, 'is written again' never came and the journal kept the run's start (no fault).
    cfg = write_config(tmp_path, faults={"stuck_s": 10, "holdback_s": 0, "drift_holdback_s": 0})
    agent = AgentProcess(tmp_path, cfg, "agent")
    try:
        agent.ready()
        agent.feed([_row(i, False) for i in range(120)])
        wait_for(lambda: (small_fs.path / "checkpoint.bin").exists(), "a first checkpoint", 90, agent.proc)
        small_fs.fill()
        agent.feed([_row(i, True) for i in range(120, 200)])       # c freezes: a stuck fault, on a full disk
        agent.wait_log(r"cannot write the fault journal .*No space left on device")
        assert not (small_fs.path / "fault-journal.json").exists()
        small_fs.free()
        # c stays stuck: no new fault event; the loop's health step (every 5 s, input or not) tries again.
        agent.wait_log(r"the fault journal \S+ is written again \(1 write\(s\) failed over \d+ s\)", timeout=120)
        journal = json.loads((small_fs.path / "fault-journal.json").read_text())
        assert journal["event"]["event"] == "fault" and journal["event"]["sensor"] == "c", journal["event"]
        assert journal["tracker"]["open"]["c"]["fault_id"] == journal["event"]["fault_id"]
    finally:
        err = finished(agent)
    assert err.count("cannot write the fault journal") == 1, err[-3000:]
    summary = err.strip().splitlines()[-1]
    assert "fault journal 1;" in summary, summary      # one failed write, its retries not counted again

