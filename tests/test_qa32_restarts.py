"""What user12's first week left at a restart (docs/measured/first-week.md, "qa32"): each test failed on
batch39's code.

A real agent on a real state_dir driven turn by turn (Agent._intake, the run loop's body) on a clock the
test sets, as tests/test_restart_gap_held.py does; the kill -9 is a second agent started on the state_dir
the first was abandoned on (no stop, no final checkpoint): tests/agent_turns.py."""
from __future__ import annotations

import logging

from agent_turns import (HOST, OWN, agent_config, close, events, host_clock, record, restart_with_an_alert_open,
                         restart_with_the_clock_moved, turn)

from agent import config
from agent.alerts import AlertEvent, iso
from agent.service import Agent


def test_a_restart_is_a_restart_gap_whatever_clock_the_sender_stamps_with(tmp_path, caplog):
    """user12: pumps stamping with their own clock, years from this host's, and `max_clock_skew_s: 0` (so the
    agent takes them): a restart's downtime was taken for a jump of the data — its ticks closed as missing, a
    `source` fault for every sensor, and the open alert ended (`no_data` now, `cleared` before the lead's
    no-data rule) and opened again under a new id. The data's stamps stand to this host's clock as they did
    before the restart: the time between is the agent's downtime, skipped as with host-clock stamps, and the
    alert goes on under its id, its next event saying the 14 s unseen."""
    caplog.set_level(logging.INFO, logger="stad")
    again, after = restart_with_an_alert_open(tmp_path, OWN, {"max_clock_skew_s": 0})
    [alert] = [e for e in events(tmp_path) if e["kind"] == "alert" and e["event"] == "new"]
    assert again.aligner.restart_gaps == 1 and again.aligner.last_restart_gap["skipped_s"] == 12.0, \
        again.aligner.last_restart_gap
    assert not again.aligner.moves, again.aligner.moves
    assert not [e for e in after if e["kind"] in ("source", "missing")], after
    assert not [e for e in after if e["kind"] == "alert" and e["event"] in ("new", "end")], after
    ours = [e for e in after if e["kind"] == "alert"]
    assert ours and {e["alert_id"] for e in ours} == {alert["alert_id"]}, ours
    assert ours[0]["gap_s"] == 14.0, ours[0]        # ticks 78–91: 78, 79 open at the kill, 80–91 not run
    assert again.pipeline.alerts.open.alert_id == alert["alert_id"]


def test_host_clock_stamps_restart_the_same_way(tmp_path):
    """The same restart with the pumps stamping this host's time (the case that worked): the same gap, the
    same alert — the fix above makes the two alike, not a rule of its own."""
    again, after = restart_with_an_alert_open(tmp_path, HOST, {})
    assert again.aligner.restart_gaps == 1 and again.aligner.last_restart_gap["skipped_s"] == 12.0
    assert not [e for e in after if e["kind"] in ("source", "missing")], after
    ours = [e for e in after if e["kind"] == "alert"]
    assert ours and ours[0]["gap_s"] == 14.0 and again.pipeline.alerts.open is not None, ours


def test_own_clock_stamps_that_jumped_during_the_downtime_are_still_a_move(tmp_path):
    """The sender's clock itself jumped while the agent was down (its stamps no longer stand to this host's
    clock as before): that is a move of the data's time base, said and counted, not downtime."""
    again = restart_with_the_clock_moved(tmp_path, OWN, 600.0)     # the PLC's clock set 10 min on meanwhile
    assert again.aligner.restart_gaps == 0 and again.aligner.moves == {"forward": 1}, \
        (again.aligner.restart_gaps, again.aligner.moves)


def test_the_terminal_prints_an_open_alerts_new_once_across_a_restart(tmp_path, capsys):
    """user12: after a restart the terminal printed the open alert's `NEW` line a second time — the journal's
    last event is delivered again to every sink that may lack it, and the terminal cannot know it has it. A
    line on stdout is written just after the journal's (agent/delivery.py): printing it again told an
    operator reading the journal of a second alert. The jsonl file and MQTT still complete theirs."""
    terminal = [{"type": "terminal"}]
    first = Agent(agent_config(tmp_path, terminal), clock=host_clock(HOST))
    try:
        for i in range(80):
            turn(first, record(i, HOST, 8.0 if i >= 70 else 0.0))
            if first.pipeline.alerts.open is not None:
                break                   # killed 3 s into the alert (user12's restart), its `new` the last event
        assert first.save_checkpoint() is not None
    finally:
        close(first)
    [alert] = [e for e in events(tmp_path) if e["kind"] == "alert"]
    again = Agent(agent_config(tmp_path, terminal), clock=host_clock(HOST + i + 5))
    try:
        for k in range(i + 5, i + 40):
            turn(again, record(k, HOST, 8.0))
    finally:
        close(again)
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if f" NEW    {alert['alert_id']} #0 " in line]) == 1, out
    assert len(out) == len(set(out)) and len(out) == len([e for e in events(tmp_path) if e["kind"] == "alert"]), out


def test_an_alert_of_one_tick_says_so_not_lasted_0s():
    """user12: `END … lasted 0s (cleared)` for an alert whose one tick above the threshold was its start and
    its end — read as nothing having happened. It says the tick: `lasted one tick, <its time>`."""
    def ended(last_above: float) -> str:
        return AlertEvent(alert_id="gw-1", seq=1, event="end", node="gw", site="plant", ts=HOST + 60, start=HOST,
                          end=last_above, score=1.0, peak_score=9.0, threshold=4.0, tier="numpy", model_id="numpy",
                          model_sha256=None, top_sensors=[{"sensor": "a", "contribution": 1.0}], top_steps=[],
                          origin="a", ticks=1, reason="cleared").line()
    assert ended(HOST).endswith(f" lasted one tick, {iso(HOST)} (cleared)"), ended(HOST)
    assert ended(HOST + 15).endswith(" lasted 15s (cleared)"), ended(HOST + 15)


def test_the_banner_says_a_live_sources_readings_carry_their_own_time(tmp_path):
    """user12: `source: mqtt …: this host's clock` for pumps whose payloads carry their own `ts` (taken at
    that time: agent/sources/mqtt.py) — and their stamps were years off it. The banner says whose clock: each
    reading's `ts`, else this host's on arrival, and how far from this host's a stamp may be."""
    from agent.firstscreen import source_line

    def line(source: dict, **window) -> str:
        cfg = config.from_dict({"sensors": ["a"], "tick_s": 1.0, "sources": [source], "window": window},
                               base_dir=str(tmp_path))
        return source_line(cfg.sources[0], cfg.window.max_clock_skew_s)

    mqtt = {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": 1883}, "topics": {"plant/a": "a"}}
    assert line(mqtt).endswith(": each reading's own `ts`, else this host's clock on arrival; a stamp more "
                               "than 300 s from this host's clock is refused (window.max_clock_skew_s)"), line(mqtt)
    assert line(mqtt, max_clock_skew_s=0).endswith(
        ": each reading's own `ts`, else this host's clock on arrival; stamps not checked against this host's "
        "clock (window.max_clock_skew_s: 0)"), line(mqtt, max_clock_skew_s=0)
    udp = line({"type": "udp", "bind": "127.0.0.1", "port": 0})
    assert udp.startswith("udp 127.0.0.1:0 (JSON lines): each reading's own `ts`"), udp
    assert line({"type": "stdin"}).startswith("stdin (JSON lines): each reading's own `ts`")
