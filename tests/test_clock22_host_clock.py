"""A step of this host's clock is not a step of the data's time (clock22; review22's leftovers 4 and 6).

review22 made a step of the clock forward harmless for data stamped with it. Left:
- A step **back** (NTP correcting a fast clock, a hand) under a relay on the gateway (data stamped with that
  clock, or on arrival) was still the data's step back: three records confirmed it, the window refilled
  (`window.steps` ticks: 16 min on roadside.yaml) and the open alert ended `restart`, though no time passed.
  Now the grid moves back with the clock: said, counted as a `back` move, the window and the alert kept, the
  learned state's times moved (the alert's `start` too: on the corrected clock that is when it began).
- A sender on a clock of its own (not stepped) with `max_clock_skew_s: 0`: a step of the host's clock forward
  alone closed the span it skipped as an outage once the aligner's wait ran out (every sensor `missing`,
  every report after it `late`). Its first report after the step says its time did not move: the wall-clock
  flush now reads the host's clock less that step. A step back under it moves nothing, as before.

The lab (tests/host_clock_lab.py): a real agent loop on a real UDP socket, `Agent(clock=)` stepped by the test.
"""
from __future__ import annotations

from host_clock_lab import TICK_S, ClockLab, log_all, said, start_of

HOUR_S = 3600.0
DAY_S = 86_400.0


def test_a_step_back_of_the_host_clock_moves_the_grid_with_it(tmp_path, caplog):
    log_all(caplog)
    lab = ClockLab(tmp_path, stamps="host")
    new = lab.alert_then_step(-HOUR_S)
    agent = lab.agent
    ours = lab.ours(new)
    # On main: three records confirmed a step back of the data, the alert ended `restart`, the window refilled.
    assert not [e for e in ours if e["event"] == "end"], [(e["event"], e["ts"], e.get("reason")) for e in ours]
    assert agent.pipeline.alerts.active and agent.pipeline.refill == 0
    assert agent.aligner.moves == {"back": 1}, agent.aligner.moves
    assert not [e for e in lab.events() if e.get("kind") == "missing"]
    # Its start moved back with the clock, by the ticks the grid moved: within a tick of the step.
    assert abs(agent.pipeline.alerts.open.start - start_of(new) + HOUR_S) <= TICK_S + 1e-3
    assert agent.aligner.host_ahead_s == 0.0
    assert len(said(caplog, "this host's clock stepped -60 min")) == 1
    assert len(said(caplog, "the grid moved back with it")) == 1


def test_a_sender_on_its_own_clock_is_not_moved_by_a_step_of_the_host_clock_forward(tmp_path, caplog):
    log_all(caplog)
    lab = ClockLab(tmp_path, stamps="own", max_clock_skew_s=0)
    new = lab.alert_then_step(+DAY_S)
    agent = lab.agent
    # On main: once the aligner's wait for a stepped record ran out the flush closed the day: a, b and c
    # `missing`, the alert ended, every report after it `late`.
    assert not [e for e in lab.events() if e.get("kind") == "missing"]
    assert not [e for e in lab.ours(new) if e["event"] == "end"], [(e.get("kind"), e["event"], e.get("reason"), e.get("fault")) for e in lab.events()]
    assert agent.rejects.counts["late"] < 5, agent.rejects.as_dict()      # (a stall under load may cost one)
    assert agent.pipeline.alerts.active and abs(agent.pipeline.alerts.open.start - start_of(new)) < 1e-3
    assert not agent.aligner.moves, agent.aligner.moves
    assert abs(agent.aligner.host_ahead_s - DAY_S) < 1.0
    assert len(said(caplog, "did not step with this host's")) == 1


def test_a_sender_on_its_own_clock_is_not_moved_by_a_step_of_the_host_clock_back(tmp_path, caplog):
    log_all(caplog)
    lab = ClockLab(tmp_path, stamps="own", max_clock_skew_s=0)
    new = lab.alert_then_step(-HOUR_S)
    agent = lab.agent
    assert not [e for e in lab.events() if e.get("kind") == "missing"]
    assert not [e for e in lab.ours(new) if e["event"] == "end"], [(e.get("kind"), e["event"], e.get("reason"), e.get("fault")) for e in lab.events()]
    assert agent.rejects.counts["late"] < 5, agent.rejects.as_dict()
    assert agent.pipeline.alerts.active and abs(agent.pipeline.alerts.open.start - start_of(new)) < 1e-3
    assert not agent.aligner.moves, agent.aligner.moves
    assert abs(agent.aligner.host_ahead_s + HOUR_S) < 1.0       # the flush reads the data's time, not an hour behind
