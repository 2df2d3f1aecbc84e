"""The aligner's half of a step of this host's clock (clock22), record by record, as the agent's loop drives it:
each live record carries its arrival on the host's clock, the wall-clock flush runs after each (`idle_flush_s`
1 s), and the owner tells the step (`host_clock_stepped`, by the boot-time clock) before the records after it.
The agent-level runs (a real loop, UDP, an alert open across the step) are tests/test_clock22_host_clock.py."""
from __future__ import annotations

from agent.records import Record, Rejects
from agent.window import Aligner

T0 = 1_796_000_000.0
DAY_S = 86_400.0
HOUR_S = 3_600.0


def new_aligner(rejects: Rejects) -> Aligner:
    return Aligner(["a", "b"], 1.0, carry_forward_s=2.0, lateness_ticks=1, rejects=rejects, max_gap_ticks=17,
                   max_clock_skew_s=0)


def feed(aligner: Aligner, times, stamp_of, host_of) -> list:
    """A record a second of the data's time `t`, stamped `stamp_of(t)`, received at `host_of(t)`, then the flush."""
    rows = []
    for t in times:
        rows += aligner.push(Record(ts=stamp_of(t), values={"a": 1.0, "b": 2.0}, received=host_of(t)))
        rows += aligner.flush_until(host_of(t) - 1.0)
    return rows


def test_a_sender_on_its_own_clock_goes_on_across_a_step_of_the_host_clock_and_a_restart():
    rj = Rejects()
    aligner = new_aligner(rj)
    rows = feed(aligner, [T0 + i for i in range(30)], lambda t: t, lambda t: t)
    aligner.host_clock_stepped(DAY_S, T0 + 30 + DAY_S)
    # Its own clock: the stamps go on, their arrival is a day later on the host's clock. Before clock22 the
    # flush closed the day once its wait ran out: ticks all missing, every report after them late.
    rows += feed(aligner, [T0 + i for i in range(30, 60)], lambda t: t, lambda t: t + DAY_S)
    assert aligner.host_ahead_s == DAY_S and not aligner.moves
    # A restart (the checkpoint's aligner state) keeps it: the data's time is where it was.
    state = aligner.state_dict()
    aligner = new_aligner(rj)
    aligner.restore(state)
    assert aligner.host_ahead_s == DAY_S
    rows += feed(aligner, [T0 + i for i in range(60, 80)], lambda t: t, lambda t: t + DAY_S)
    assert rj.total == 0, rj.as_dict()
    assert [r.ts for r in rows] == [T0 + i for i in range(len(rows))] and len(rows) >= 75
    assert not any(r.missing.any() for r in rows)


def test_data_stamped_with_the_host_clock_steps_back_with_it_as_one_grid():
    rj = Rejects()
    aligner = new_aligner(rj)
    rows = feed(aligner, [T0 + i for i in range(30)], lambda t: t, lambda t: t)
    aligner.host_clock_stepped(-HOUR_S, T0 + 30 - HOUR_S)
    # A record received before the step, still queued when it is told, is the old clock's: taken in step.
    rows += feed(aligner, [T0 + 30], lambda t: t, lambda t: t)
    # A relay stamping with the host's clock: stamps and arrival an hour back, no time passed.
    rows += feed(aligner, [T0 + i for i in range(31, 60)], lambda t: t - HOUR_S, lambda t: t - HOUR_S)
    assert rj.total == 0, rj.as_dict()
    assert aligner.moves == {"back": 1} and aligner.host_ahead_s == 0.0
    assert not any(r.missing.any() or r.carried.any() for r in rows)
    assert not [r for r in rows if r.rebased_from is not None]      # no new time base: no window refill
    # One grid: the old base to its last tick, then the tick after it an hour back; that row carries the move.
    assert [r.ts for r in rows] == [T0 + i for i in range(31)] + [T0 + i - HOUR_S for i in range(31, len(rows))]
    assert [(r.ts, r.clock_moved_s) for r in rows if r.clock_moved_s is not None] == [(T0 + 31 - HOUR_S, -HOUR_S)]
