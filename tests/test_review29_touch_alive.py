"""alive.json's time of change (agent/alive.py `_touch_alive`, every ALIVE_S while live data flows): a touch
that failed leaves its problem in health (`state_writes.checkpoint`) only until a touch works again — before,
no touch ever cleared it (review28) — and a touch that works clears no problem the checkpoint's own writes left
(a full disk stops the checkpoint, not a change of a file's times). The failures are real: the temporary file
a write goes through (`<file>.tmp`) is a directory, which no one may open for writing, root or not."""
from __future__ import annotations

import time

from agent import config
from agent.alive import ALIVE_FILE
from agent.records import Record
from agent.service import Agent


def live_agent(tmp_path) -> Agent:
    """A real agent on a live source (stdin), its loop not started: the test calls its turns' parts."""
    cfg = config.from_dict({"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sources": [{"type": "stdin"}],
                            "window": {"steps": 16, "carry_forward_s": 2}, "warmup": {"ticks": 20},
                            "scoring": {"chain": ["numpy"]}, "sinks": [], "state_dir": str(tmp_path / "state")},
                           base_dir=str(tmp_path))
    return Agent(cfg)


def feed(agent: Agent, n: int) -> None:
    now = time.time()
    for i in range(n):
        agent.records_in += 1
        agent._intake(Record(ts=now - n + i, values={"a": 1.0 + i % 3, "b": 2.0 + i % 2}, received=now - n + i), None)


def test_a_failed_touch_of_alive_json_is_cleared_by_the_next_that_works(tmp_path):
    agent = live_agent(tmp_path)
    try:
        alive = tmp_path / "state" / ALIVE_FILE
        blocker = alive.with_name(alive.name + ".tmp")
        blocker.mkdir()                     # alive.json missing: the touch creates it, through this
        agent._touch_alive()
        failed = agent.state_writes.snapshot()["checkpoint"]
        assert failed["failed"] == 1 and failed["problem"] and not alive.exists(), failed
        blocker.rmdir()
        agent._touch_alive()
        assert alive.exists()
        # On the old code the problem stayed, said on health until the next checkpoint or sign of life.
        assert agent.state_writes.snapshot()["checkpoint"] == {"failed": 1, "problem": None}
    finally:
        agent._close(True)


def test_a_touch_that_works_leaves_the_checkpoints_own_failure_said(tmp_path):
    agent = live_agent(tmp_path)
    try:
        feed(agent, 60)
        alive = tmp_path / "state" / ALIVE_FILE
        agent._touch_alive()
        assert alive.exists() and agent.state_writes.snapshot()["checkpoint"]["problem"] is None
        blocker = agent.checkpoints.path.with_name(agent.checkpoints.path.name + ".tmp")
        blocker.mkdir()
        assert agent.save_checkpoint() is None
        problem = agent.state_writes.snapshot()["checkpoint"]["problem"]
        assert problem
        agent._touch_alive()                # works: alive.json is there
        assert agent.state_writes.snapshot()["checkpoint"] == {"failed": 1, "problem": problem}
        blocker.rmdir()
        assert agent.save_checkpoint() is not None
        assert agent.state_writes.snapshot()["checkpoint"] == {"failed": 1, "problem": None}
    finally:
        agent._close(True)
