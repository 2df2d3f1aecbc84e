"""The lines said when the sign of life (alive.json, agent/alive.py) cannot be written read as sentences.

Each failure is said under the checkpoint's key (agent/state_writes.py), whose line ends "a restart will
<what the caller says>". bench/chaos.py (chaos1, seed 2, a full state disk while an alert was open) found
`… alive.json: [Errno 28] No space left on device; a restart will an alert the next start ends `restart` ends
at the checkpoint's last tick above` — three more of alive.py's callers handed over a clause of their own
("the next start's downtime reads …"), not what a restart will do. The failures here are real: the temporary
file a write goes through (`alive.json.tmp`) is a directory, which no one may open for writing, root or not."""
from __future__ import annotations

import logging
import time

from agent import config
from agent.alive import ALIVE_FILE
from agent.records import Record
from agent.service import Agent


def live_agent(tmp_path) -> Agent:
    """A real agent on a live source (stdin), its loop not started: the test calls its turns' parts."""
    cfg = config.from_dict({"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sources": [{"type": "stdin"}],
                            "window": {"steps": 16, "carry_forward_s": 2}, "warmup": {"ticks": 20},
                            "alerts": {"min_duration_ticks": 1},
                            "scoring": {"chain": ["numpy"]}, "sinks": [], "state_dir": str(tmp_path / "state")},
                           base_dir=str(tmp_path))
    return Agent(cfg)


def feed(agent: Agent, values: list[tuple[float, float]]) -> None:
    now = time.time()
    n = len(values)
    for i, (a, b) in enumerate(values):
        agent.records_in += 1
        agent._intake(Record(ts=now - n + i, values={"a": a, "b": b}, received=now - n + i), None)


def said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cannot write the checkpoint" in r.getMessage()
            and ALIVE_FILE in r.getMessage()]


def blocked(tmp_path):
    """alive.json's temporary file made a directory: every write of alive.json fails."""
    alive = tmp_path / "state" / ALIVE_FILE
    alive.with_name(alive.name + ".tmp").mkdir(parents=True)
    return alive


def test_a_failed_first_sign_of_life_says_what_a_restart_will_do(tmp_path, caplog):
    agent = live_agent(tmp_path)
    try:
        blocked(tmp_path)
        with caplog.at_level(logging.ERROR, logger="stad"):
            agent._touch_alive()            # alive.json missing: created, through the blocked temporary file
        lines = said(caplog)
        assert len(lines) == 1 and lines[0].endswith(
            "; a restart will read its downtime from the checkpoint's time (said once; the failed writes are "
            "counted in health state_writes)"), lines
    finally:
        agent._close(True)


def test_a_failed_mark_of_an_open_alert_says_what_a_restart_will_do(tmp_path, caplog):
    agent = live_agent(tmp_path)
    try:
        calm = [(1.0 + i % 3 * 0.1, 2.0 + i % 2 * 0.1) for i in range(40)]
        feed(agent, calm + [(50.0 + i % 2, 2.0) for i in range(10)])
        assert agent.pipeline.warm and agent.pipeline.alerts.open is not None, "no alert opened"
        blocked(tmp_path)
        with caplog.at_level(logging.ERROR, logger="stad"):
            assert agent._mark_above()
        lines = said(caplog)
        assert len(lines) == 1 and "; a restart will end an alert open at a kill -9 (`restart`) at the " \
            "checkpoint's last tick above, not at this one's (said once;" in lines[0], lines
    finally:
        agent._close(True)


def test_a_failed_mark_of_a_clean_stop_says_what_a_restart_will_do(tmp_path, caplog):
    agent = live_agent(tmp_path)
    try:
        blocked(tmp_path)
        with caplog.at_level(logging.ERROR, logger="stad"):
            agent._mark_clean_stop(time.time() - 10)
        lines = said(caplog)
        assert len(lines) == 1 and "; a restart will word this clean stop's restart gap as a kill's (said once;" \
            in lines[0], lines
    finally:
        agent._close(True)
