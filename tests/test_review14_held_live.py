"""A live record held for a move of the time base when a checkpoint is written is still live after
the restart (review14, found while splitting the aligner's clock rules out of agent/window.py).

The checkpoint kept a held record's stamp, values and label but not its arrival on this host's
clock (`Record.received`), which the live rules read: live data back after a silence is no move
(qa18), the first live data after a restart is the agent's downtime (qa17). A kill -9 in the
two records between a sender's return from a silence and its confirmation restored that record as
not live, and the first data after the restart, joining it, was confirmed as a jump: WARNING `time
base moved: the data jumped +31 s` and `time_base_moves.forward` counted (README tells operators to
alert on it), no restart gap. A checkpoint written before the arrival was kept restores as before:
its held records not live."""
from __future__ import annotations

import logging

from agent.records import Record, Rejects
from agent.window import Aligner
from conftest import through_file

T0 = 1.7e9


def live(ts: float) -> Record:
    return Record(ts=ts, values={"a": 1.0, "b": 2.0}, origin="udp", received=ts)


def aligner(rejects: Rejects) -> Aligner:
    # No flush_until calls: idle_flush_s 0, the default — the wall clock closes nothing.
    return Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=0, rejects=rejects, max_gap_ticks=9)


def checkpoint_while_held() -> dict:
    """Data every second, silent 30 s, back on time: the agent is killed with the first record back
    held (two more confirm it); the last checkpoint holds it."""
    before = aligner(Rejects())
    for i in range(60):
        before.push(live(T0 + i))
    assert before.push(live(T0 + 90)) == [] and [len(c.records) for c in before.held] == [1]
    return through_file({"aligner": before.state_dict()})["aligner"]


def test_a_live_record_held_at_a_checkpoint_is_live_after_the_restart(caplog):
    rejects = Rejects()
    after = aligner(rejects)
    after.restore(checkpoint_while_held())
    # Live (its arrival kept) and in pace with the last run's clock: taken at the restore as that run's
    # data back after its silence (clock16); not live, it would stay held (below).
    assert after.held == [] and after.newest_k == int(T0) + 90
    caplog.set_level(logging.INFO, logger="stad")
    rows = [r for i in range(120, 130) for r in after.push(live(T0 + i))] + after.flush_all()   # back 28 s on
    assert after.moves == {} and "time base moved" not in caplog.text       # old code: forward 1, the warning
    assert after.restart_gaps == 1 and rejects.total == 0
    assert rows[-1].ts == T0 + 129 and not rows[-1].missing.any()


def test_a_checkpoint_from_before_the_arrival_was_kept_restores_its_held_records_not_live():
    state = checkpoint_while_held()
    state["held"] = {k: v for k, v in state["held"].items() if k != "received"}    # main's form before
    after = aligner(Rejects())
    after.restore(state)
    assert [(k, rec.ts, rec.received) for k, rec in after.held[0].records] == [(int(T0) + 90, T0 + 90, None)]
