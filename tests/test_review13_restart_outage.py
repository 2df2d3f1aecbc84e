"""A restart whose downtime the aligner closes as an outage does not refill the window when the
data comes back (review13).

Only live data stamped near this host's clock, arriving within the aligner's wait after a restart,
has the downtime skipped (no rows for it); there a downtime longer than the window refills it,
or the first score would join the ticks before the downtime to the new ones as if adjacent. Any
other restart closes the downtime as an outage — a recording or a source on its own clock, or live
data that came after the wait ran out — and the pipeline steps those ticks as missing rows: its
window holds them, nothing from before the downtime. The agent refilled the window for every
restart down longer than it all the same: the first T ticks of the data went unscored (T = 32,
16 min on the demo's 30-s ticks), which an outage while the agent runs never costs, and a restart
of tests/test_restart_kill.py's stdin feed said 'the window refills' where it scores at once.

A real agent on a real state_dir: the first life replays a recording up to 100 s ago and stops
(its checkpoint); the second reads a recording again, or a live UDP source driven turn by turn
(Agent._intake, the run loop's body) on a clock the test sets, so the wait, the outage and the
return are exact."""
from __future__ import annotations

import json
import logging
import time

from agent import config
from agent.records import Record
from agent.service import Agent

TICK = 1.0
STEPS = 16


def agent_config(tmp_path, source: dict):
    return config.from_dict({
        "sensors": ["a", "b"], "tick_s": TICK, "topology": "group", "sources": [source],
        "window": {"steps": STEPS, "carry_forward_s": 2, "lateness_ticks": 1, "idle_flush_s": 1.5},
        "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state")}, base_dir=str(tmp_path))


def reading(i: int) -> dict:
    return {"a": 10 + (i * 7919 % 13) / 13, "b": 5 + (i * 104729 % 17) / 17}


def recording(tmp_path, name: str, t0: float, rows: range) -> dict:
    path = tmp_path / name
    path.write_text("".join(json.dumps({"ts": t0 + i, **reading(i)}) + "\n" for i in rows))
    return {"type": "replay", "path": str(path), "format": "jsonl"}


def first_life(tmp_path) -> tuple[Agent, float]:
    """A warm agent's checkpoint, its last tick 100 s ago; that tick."""
    t0 = float(int(time.time()) - 200)
    first = Agent(agent_config(tmp_path, recording(tmp_path, "before.jsonl", t0, range(100))))
    assert first.run()["exit_reason"] == "input ended"
    return first, t0 + 99


def test_a_recording_after_a_restart_down_longer_than_the_window_is_scored_at_once(tmp_path, caplog):
    first, last = first_life(tmp_path)
    t0 = last - 99
    caplog.set_level(logging.INFO, logger="stad.agent")
    again = Agent(agent_config(tmp_path, recording(tmp_path, "after.jsonl", t0, range(140, 200))))   # 40 s on
    assert again.checkpoint_start["state"] == "resumed"
    again.run()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("first tick ")]
    assert ": scored by numpy" in line, line
    assert again.pipeline.ticks - first.pipeline.ticks >= 60


def test_the_data_back_after_a_restart_closed_as_an_outage_is_scored_at_once(tmp_path):
    first, last = first_life(tmp_path)

    again = Agent(agent_config(tmp_path, {"type": "udp", "bind": "127.0.0.1", "port": 0}))
    try:
        assert again.checkpoint_start["state"] == "resumed" and again.pipeline.warm
        now = last + 40                                     # up again 40 s after the last tick; no data
        for _ in range(20):                                 # 10 s of the loop's turns, nothing received
            now += 0.5
            again._intake(None, now)
        assert again.pipeline.last_ts >= now - 5 and again.aligner.restart_gaps == 0   # closed as an outage
        for i in range(3):                                  # the data is back, on time
            again._intake(Record(ts=now, values=reading(i), origin="udp", received=now), now)
            assert again.pipeline.refill == 0, (i, again.pipeline.refill)
            now += TICK
        assert again.pipeline.ticks > first.pipeline.ticks
    finally:
        for src in again.sources:
            src.close()
        again.state_lock.release()
