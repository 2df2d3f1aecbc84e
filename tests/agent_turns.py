"""A real agent on a real state_dir driven turn by turn (Agent._intake, the run loop's body) on a clock the test
sets, for restart tests (qa32, qa33); the kill -9 is a second agent started on the state_dir the first was
abandoned on (no stop, no final checkpoint). The sender stamps `base + i` at row i and its rows reach this host
`rate` to a second (a replay piped in at 10×: rate 10), so its stamps may run on a clock of their own, years
off this host's and at another pace."""
from __future__ import annotations

import json
import time

from agent import config
from agent.records import Record
from agent.service import Agent
from payloads import check_jsonl

HOST = float(int(time.time()) - 1000)       # this host's clock at row 0
OWN = HOST - 6 * 365 * 86400.0              # the pumps' own clock: six years behind (a PLC never set)
STEPS = 16


def agent_config(tmp_path, sinks: list | None = None, alerts: dict | None = None, **window):
    return config.from_dict({
        "sensors": ["a", "b"], "tick_s": 1.0, "topology": "group",
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
        "window": {"steps": STEPS, "carry_forward_s": 2, "lateness_ticks": 1, **window},
        "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]},
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 60, "cooldown_ticks": 2, "update_interval_s": 5,
                   "no_data_ticks": 120, **(alerts or {})},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}, *(sinks or [])],
        "state_dir": str(tmp_path / "state"), "checkpoint_s": 3600}, base_dir=str(tmp_path))


def record(i: int, base: float, step: float = 0.0, rate: float = 1.0) -> Record:
    """Row i stamped `base + i` by the sender, received on this host's clock at `HOST + i / rate` + 50 ms; `a`
    stepped by `step`."""
    values = {"a": 10 + (i * 7919 % 13) / 13 + step, "b": 5 + (i * 104729 % 17) / 17}
    return Record(ts=base + i, values=values, origin="udp", received=HOST + i / rate + 0.05)


def host_clock(now: float):
    """This host's clock as the test sets it (`clock.now`), given to the agent (`Agent(clock=)`)."""
    def clock() -> float:
        return clock.now
    clock.now = now
    return clock


def turn(agent: Agent, rec: Record) -> None:
    agent.clock.now = rec.received
    agent._intake(rec, None)


def close(agent: Agent) -> None:
    for src in agent.sources:
        src.close()
    agent.state_lock.release()          # the kernel's part of a kill -9


def events(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]

def alert_events(tmp_path) -> list[dict]:
    """The alert events the JSONL sink wrote (each validated against the shipped schema)."""
    return [e for e in check_jsonl(tmp_path / "alerts.jsonl") if e["kind"] == "alert"]


def one_alert_in_order(evs: list[dict], alert_id: str) -> None:
    """Every event is of `alert_id`, its seqs 0, 1, 2, … in order, and it was raised once (one `new`)."""
    assert {e["alert_id"] for e in evs} == {alert_id}, [(e["alert_id"], e["event"], e["seq"]) for e in evs]
    assert [e["seq"] for e in evs] == list(range(len(evs))), [(e["event"], e["seq"]) for e in evs]
    assert [e["event"] for e in evs].count("new") == 1



def life_fed(tmp_path, rows: range) -> tuple[Agent, list[dict]]:
    """A life started on the state_dir at this host's time of its first row, fed `rows` (stamped on HOST), then
    abandoned as a kill -9 leaves it: the agent (closed) and the events it wrote."""
    before = len(events(tmp_path)) if (tmp_path / "alerts.jsonl").exists() else 0
    agent = Agent(agent_config(tmp_path), clock=host_clock(HOST + rows[0]))
    try:
        for i in rows:
            turn(agent, record(i, HOST))
    finally:
        close(agent)
    return agent, events(tmp_path)[before:]


def restart_with_an_alert_open(tmp_path, base: float, window: dict, down_s: int = 12,
                               rate: float = 1.0) -> tuple[Agent, list[dict]]:
    """Rows 0–79 (a step on `a` from 70: an alert opens), the checkpoint, a kill -9, up again `down_s` rows
    later (`down_s / rate` s of this host's clock) and 20 more rows of the step: the new agent (closed) and the
    events after the restart."""
    first = Agent(agent_config(tmp_path, **window), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(first, record(i, base, 8.0 if i >= 70 else 0.0, rate))
        assert first.pipeline.alerts.open is not None
        assert first.save_checkpoint() is not None
    finally:
        close(first)
    before = len(events(tmp_path))
    again = Agent(agent_config(tmp_path, **window), clock=host_clock(HOST + (80 + down_s) / rate))
    try:
        assert again.checkpoint_start["state"] == "resumed"
        for i in range(80 + down_s, 100 + down_s):
            turn(again, record(i, base, 8.0, rate))
    finally:
        close(again)
    return again, events(tmp_path)[before:]


def restart_with_the_clock_moved(tmp_path, base: float, moved_s: float, rate: float = 1.0) -> Agent:
    """Rows 0–79 stamped on `base`, the checkpoint, a kill -9, up again 12 rows later (`12 / rate` s of this host's
    clock) with the sender's clock moved `moved_s` meanwhile, 20 rows: the new agent (closed)."""
    first = Agent(agent_config(tmp_path, max_clock_skew_s=0), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(first, record(i, base, rate=rate))
        assert first.save_checkpoint() is not None
    finally:
        close(first)
    again = Agent(agent_config(tmp_path, max_clock_skew_s=0), clock=host_clock(HOST + 92 / rate))
    try:
        for i in range(92, 112):
            turn(again, record(i, base + moved_s, rate=rate))
    finally:
        close(again)
    return again
