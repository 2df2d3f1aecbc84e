"""A live sender silent for a few seconds, then back on time, is no move of the time base (qa18,
found by bench/chaos.py's source stalls).

With `window.idle_flush_s` at its default (0) nothing closes the silent ticks on the wall clock, so
the first record back lies beyond the time base and is held as a jump. The old code confirmed it
as one: every stall of the sender (4 s, a minute) logged WARNING `time base moved: the data jumped
+4 s` and counted `time_base_moves.forward` (README tells operators to alert on it) — 13 times in
a 15-minute soak with 16 stalls — and a clean stop within the three records that confirm it
rejected the first records back, valid and on time, as `timestamp jump`. The records' stamps
stand to this host's clock as the data's did before the silence: the data was away, it did not
jump. A device clock that jumps while the data flows is still a move, and still rejected when the
input ends before it is confirmed."""
from __future__ import annotations

import time

import numpy as np

from agent.records import Record, Rejects
from agent.window import Aligner


def live(ts: float, now: float) -> Record:
    return Record(ts=ts, values={"a": 1.0, "b": 2.0}, origin="udp", received=now)


def aligner() -> Aligner:
    # No flush_until calls: idle_flush_s 0, the default — the wall clock closes nothing.
    return Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)


def flowing(al: Aligner, t0: float, n: int = 30) -> list:
    rows = []
    for i in range(n):
        rows += al.push(live(t0 + i, t0 + i + 0.05))     # stamped by the sender, received 50 ms later
    return rows


def test_a_sender_silent_then_back_on_time_is_no_time_base_move():
    for silent_s in (4, 60):
        al = aligner()
        t0 = time.time() - 600
        rows = flowing(al, t0)
        back = t0 + 30 + silent_s
        for i in range(10):
            rows += al.push(live(back + i, back + i + 0.05))
        assert not al.moves, (silent_s, al.moves)
        assert sum(al.rejects.counts.values()) == 0, al.rejects.counts
        gap = [r for r in rows if al.tick_of(t0 + 29) < al.tick_of(r.ts) < al.tick_of(back)]
        assert gap and gap[-1].missing.all(), [(r.ts - t0, r.missing) for r in gap]    # the silence: missing
        assert any(r.ts == al.tick_of(back) * al.tick_s and not r.missing.any() for r in rows)


def test_a_device_clock_jumping_while_the_data_flows_is_still_a_move():
    al = aligner()
    t0 = time.time() - 600
    flowing(al, t0)
    t2 = t0 + 30 + 60                   # stamps 60 s ahead of the host's clock from now on
    for i in range(10):
        al.push(live(t2 + i, t2 + i - 60))
    assert al.moves == {"forward": 1}, al.moves


def test_a_clean_stop_keeps_the_first_records_back_after_a_silence():
    al = aligner()
    t0 = time.time() - 600
    flowing(al, t0)
    back = t0 + 30 + 20
    al.push(live(back, back + 0.05))    # the first record back; the stop comes before two more
    rows = al.flush_all()
    assert al.rejects.counts["timestamp jump"] == 0, al.rejects.counts
    last = rows[-1]
    assert last.ts == al.tick_of(back) * al.tick_s and not last.missing.any(), (last.ts - t0, last.missing)
    assert not al.moves, al.moves


def test_a_clean_stop_still_rejects_an_unconfirmed_jump_of_the_device_clock():
    al = aligner()
    t0 = time.time() - 600
    flowing(al, t0)
    t2 = t0 + 30 + 60
    al.push(live(t2, t2 - 60))
    rows = al.flush_all()
    assert al.rejects.counts["timestamp jump"] == 1, al.rejects.counts
    assert np.all([r.ts < t2 for r in rows])
