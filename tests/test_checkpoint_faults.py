"""Sensor-fault events across kill -9 (issue 11): every fault event is journaled before any sink
sees it (state_dir/fault-journal.json), so a fault raised after the last checkpoint still gets its
fault_end from the restarted agent, under the same fault_id; without a usable checkpoint it is
ended with reason restart; a fault event that never reached a sink is delivered at the restart;
fault ids are never reused by a later life of the agent."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.checkpoint import CHECKPOINT_FILE, FAULT_JOURNAL_FILE
from payloads import check_jsonl
from restart_helpers import AgentProcess, copy_run, fault_lines, row, row_without_c, wait_for, write_config

DROP_FROM = 155            # sensor c sends nothing from this row on (life 2): a `missing` fault




@pytest.fixture(scope="module")
def killed_with_a_fault_open(tmp_path_factory) -> tuple[Path, dict]:
    """Life 1 stops cleanly after row 149 (its checkpoint: the last one); life 2 resumes, sensor c
    goes silent at row 155, the `missing` fault is out; then kill -9, no checkpoint since."""
    tmp = tmp_path_factory.mktemp("fault-killed")
    cfg = write_config(tmp, checkpoint_s=3600)          # no periodic checkpoint: only the clean stop's
    first = AgentProcess(tmp, cfg, "run1")
    first.ready()
    first.feed(row(i) for i in range(150))
    assert first.finish() == 0
    assert fault_lines(tmp) == []
    second = AgentProcess(tmp, cfg, "run2")
    assert "resumed from checkpoint" in second.ready()
    second.feed([row(i) for i in range(150, DROP_FROM)] + [row_without_c(i) for i in range(DROP_FROM, 170)])
    [fault] = wait_for(lambda: [f for f in fault_lines(tmp) if f["event"] == "fault"], "the fault event of c",
                       proc=second.proc)
    second.kill()
    assert fault["kind"] == "missing" and [f["event"] for f in fault_lines(tmp)] == ["fault"]
    return tmp, fault


def test_a_fault_raised_after_the_last_checkpoint_gets_its_end_after_kill_9(tmp_path, killed_with_a_fault_open):
    killed, fault = killed_with_a_fault_open
    cfg = copy_run(killed, tmp_path)
    # The crash came between the journal and the JSONL: the fault line is not in the file.
    jsonl = tmp_path / "alerts.jsonl"
    jsonl.write_text("".join(x for x in jsonl.read_text().splitlines(keepends=True) if '"fault_id"' not in x))
    assert (tmp_path / "state" / FAULT_JOURNAL_FILE).exists()
    third = AgentProcess(tmp_path, cfg, "run3")
    assert "resumed from checkpoint" in third.ready()
    third.feed(row(i) for i in range(170, 260))                       # c is back from row 170
    third.feed(row_without_c(i) for i in range(260, 270))           # …and silent again
    assert third.finish() == 0
    err = third.stderr()
    assert re.search(rf"sensor fault\(s\) open when the last run stopped, continued: c missing \({fault['fault_id']}\)",
                     err), err[-3000:]
    events = fault_lines(tmp_path)
    check_jsonl(jsonl)
    first = [(e["event"], e["fault_id"], e["reason"]) for e in events if e["fault_id"] == fault["fault_id"]]
    # Delivered again at the restart (it was missing), then ended once c had been back for clear_s.
    assert first == [("fault", fault["fault_id"], None), ("fault_end", fault["fault_id"], "cleared")]
    later = [e for e in events if e["fault_id"] != fault["fault_id"]]
    assert [e["event"] for e in later] == ["fault", "fault_end"]           # the new fault; ended at the stop
    assert later[-1]["reason"] == "shutdown"
    # The same sensor and kind in a later life: a new id, never the old life's.
    old_life, new_life = fault["fault_id"].rsplit("-", 1)[1], later[0]["fault_id"].rsplit("-", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{6}", old_life) and re.fullmatch(r"[0-9a-f]{6}", new_life) and old_life != new_life


def test_without_a_usable_checkpoint_the_open_fault_ends_with_reason_restart(tmp_path, killed_with_a_fault_open):
    killed, fault = killed_with_a_fault_open
    cfg = copy_run(killed, tmp_path)
    (tmp_path / "state" / CHECKPOINT_FILE).unlink()
    third = AgentProcess(tmp_path, cfg, "run3")
    assert "warming up" in third.ready()
    third.feed(row(i) for i in range(170, 200))
    assert third.finish() == 0
    assert "no usable checkpoint to judge them by: ending them (reason restart)" in third.stderr()
    check_jsonl(tmp_path / "alerts.jsonl")
    events = [(e["event"], e["fault_id"], e["reason"]) for e in fault_lines(tmp_path)]
    assert events == [("fault", fault["fault_id"], None), ("fault_end", fault["fault_id"], "restart")]


def test_fault_ids_end_in_a_per_life_suffix_and_an_older_checkpoint_keeps_its_open_fault_ids():
    import numpy as np

    from agent import config
    from agent.pipeline import Pipeline
    from agent.window import Row

    cfg = config.from_dict({"sensors": ["a", "b", "c"], "sources": [{"type": "stdin"}], "tick_s": 1,
                            "window": {"steps": 8}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]}})
    rng = np.random.default_rng(3)
    rows = [Row(ts=1e9 + t, values=np.where(t >= 40 and np.arange(3) == 2, np.nan, 1 + rng.normal(size=3)),
                missing=(np.arange(3) == 2) & (t >= 40), carried=np.zeros(3, bool)) for t in range(60)]

    def life() -> tuple[Pipeline, str]:
        p = Pipeline(cfg)
        ids = [f.fault_id for r in rows for f in p.step(r).faults if f.sensor == "c"]
        assert len(ids) == 1
        return p, ids[0]

    (one, first), (_, second) = life(), life()
    stem = first.rsplit("-", 1)[0]
    assert second.rsplit("-", 1)[0] == stem and second != first          # same fault, another life
    state = one.state_dict()
    del state["health"]["ids"]                                          # as written before ids were kept
    restored = Pipeline(cfg)
    restored.restore(state)
    assert restored.health.open_faults()["c"]["fault_id"] == stem        # its fault_end matches its fault


def test_the_jsonl_writes_only_the_journaled_fault_events_it_lacks(tmp_path):
    """A tick's fault events are journaled together; a crash may leave some of them unwritten."""
    from agent import config
    from agent.faults.events import FaultEvent
    from agent.sinks.jsonl import JsonlSink

    cfg = config.from_dict({"sensors": ["a", "b", "c"], "sources": [{"type": "stdin"}],
                            "sinks": [{"type": "jsonl", "path": str(tmp_path / "a.jsonl")}]})
    batch = [FaultEvent(fault_id=f"gw-{s}-1-abcdef", seq=0, event="fault", node="gw", site="lab", sensor=s, group="",
                        kind="missing", ts=1e9, start=1e9, end=None, evidence={"summary": "no reading"})
             for s in ("a", "b", "c")]
    sink = JsonlSink(cfg.sinks[0], cfg.sink_context())
    sink.fault(batch[0])                        # the crash came after the first of three
    sink.recover_faults(batch)
    sink.recover_faults(batch)                  # a second restart: all there, nothing again
    sink.close()
    lines = check_jsonl(tmp_path / "a.jsonl")
    assert [x["sensor"] for x in lines] == ["a", "b", "c"]
