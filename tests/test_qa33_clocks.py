"""Restarts and silences of a sender on a clock of its own — years off this host's, or at another rate (a replay
piped in at 10×) — judged as what they are, not as jumps of the data (qa33, docs/measured/first-week.md). Each
test failed on main at 2e16202. Real parts: an agent on a real state_dir driven turn by turn, a kill -9 between
two agents (tests/agent_turns.py)."""
from __future__ import annotations

import logging

from agent_turns import (HOST, OWN, agent_config, close, events, host_clock, record, restart_with_an_alert_open,
                         restart_with_the_clock_moved, turn)

from agent.service import Agent

RATE = 10.0         # the replay's pace: ten of its seconds to one of this host's


def test_a_restart_of_a_sender_at_another_rate_is_a_restart_gap(tmp_path, caplog):
    """A replay piped in at 10× on its own clock: the agent down 1.2 s of this host's clock is 12 s of the data's.
    Before, its stamp − arrival had drifted 10.8 s meanwhile (more than a short step), so the restart was a jump of
    the data: a `source` fault, the open alert ended. Now the last run's pace (its stamps' rate against this
    host's clock) says where the data should be: a restart gap, the alert goes on under its id."""
    caplog.set_level(logging.INFO, logger="stad")
    again, after = restart_with_an_alert_open(tmp_path, OWN, {"max_clock_skew_s": 0}, rate=RATE)
    [alert] = [e for e in events(tmp_path) if e["kind"] == "alert" and e["event"] == "new"]
    assert again.aligner.restart_gaps == 1 and again.aligner.last_restart_gap["skipped_s"] == 12.0, \
        (again.aligner.last_restart_gap, again.aligner.moves)
    assert not again.aligner.moves, again.aligner.moves
    assert not [e for e in after if e["kind"] in ("source", "missing")], after
    assert not [e for e in after if e["kind"] == "alert" and e["event"] in ("new", "end")], after
    assert again.pipeline.alerts.open.alert_id == alert["alert_id"]


def test_a_sender_at_another_rate_whose_clock_jumped_meanwhile_is_still_a_move(tmp_path):
    """The replay's clock moved 10 min on while the agent was down: off its pace, a move of the data."""
    again = restart_with_the_clock_moved(tmp_path, OWN, 600.0, RATE)
    assert again.aligner.restart_gaps == 0 and again.aligner.moves == {"forward": 1}, \
        (again.aligner.restart_gaps, again.aligner.moves)


def silence_then_back(tmp_path, base: float, rate: float, silent: int = 40, moved_s: float = 0.0) -> Agent:
    """Rows 0–79, then no row for `silent` rows of the sender's time, then 20 rows in its pace (its clock moved
    `moved_s` meanwhile): the agent (closed)."""
    agent = Agent(agent_config(tmp_path, max_clock_skew_s=0), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(agent, record(i, base, rate=rate))
        for i in range(80 + silent, 100 + silent):
            turn(agent, record(i, base + moved_s, rate=rate))
    finally:
        close(agent)
    return agent


def test_live_data_back_after_a_silence_from_an_own_clock_sender_is_no_jump(tmp_path, caplog):
    """Pumps on their own clock (six years off) fall silent 40 s and come back in the same pace: the data was
    away, it did not move. Before, `_back_after_silence` asked for stamps near this host's clock: a jump said,
    counted (`forward`), as for a sender whose clock was set anew."""
    caplog.set_level(logging.INFO, logger="stad")
    agent = silence_then_back(tmp_path, OWN, 1.0)
    assert not agent.aligner.moves, agent.aligner.moves
    assert not [r for r in caplog.records if "time base moved" in r.getMessage()]
    assert agent.aligner.newest_k * 1.0 == OWN + 139       # every record taken, none rejected
    assert not agent.aligner.rejects.total, agent.aligner.rejects.as_dict()


def test_a_replay_at_another_rate_back_after_a_silence_is_no_jump(tmp_path):
    """The same at 10×: 40 s of the replay's time is 4 s of this host's."""
    agent = silence_then_back(tmp_path, OWN, RATE)
    assert not agent.aligner.moves, agent.aligner.moves


def test_own_clock_data_back_after_a_silence_with_its_clock_moved_is_a_move(tmp_path):
    """Pumps on their own clock back after a silence with their clock set 10 min on: a move, as before."""
    agent = silence_then_back(tmp_path, OWN, 1.0, moved_s=600.0)
    assert agent.aligner.moves == {"forward": 1}, agent.aligner.moves


def test_a_backlog_burst_sways_the_measured_pace_for_a_window_only(tmp_path):
    """A broker hands over a minute of queued readings at once (a reconnect), then the pumps go on at this host's
    pace: the pace measured over the burst is far from 1; a minute of arrivals later it is 1 again, so a restart
    is judged by the pace the sender keeps, not by the burst."""
    agent = Agent(agent_config(tmp_path, max_clock_skew_s=0), clock=host_clock(HOST))
    try:
        for i in range(60):             # stamped OWN + 0 … 59, all received within 60 ms at HOST + 60
            rec = record(i, OWN)
            rec.received = HOST + 60 + i / 1000
            turn(agent, rec)
        for i in range(60, 70):
            turn(agent, record(i, OWN))
        assert agent.aligner.live_pace > 2, agent.aligner.live_pace
        for i in range(70, 160):
            turn(agent, record(i, OWN))
    finally:
        close(agent)
    assert agent.aligner.live_pace == 1.0, agent.aligner.live_pace
