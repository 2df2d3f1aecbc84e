"""The counts a held file carries (events a run lost on a full disk) survive a second kill -9 at the
next start, before any outbox write worked — and are not counted twice once a commit stores them.

A real 2 MiB tmpfs (tests/small_fs.py), filled so that the outbox cannot even be created. The
process dying is the Outbox left without close(): every write of the held file is a pwrite in
place, so nothing is buffered that a kill -9 would lose — the file is what a killed process leaves.
(test_qa16_second_kill.py runs the real agent through the same on a disk where a commit worked.)
"""
from __future__ import annotations

import time

from agent.held_file import HeldFile
from agent.outbox import Outbox
from small_fs import small_fs  # noqa: F401 — a pytest fixture


def rows(n: int) -> list[tuple]:
    now = time.time()
    return [(now - n + i, "a", i, "update", "x" * 100) for i in range(n)]


def test_a_second_kill_at_the_next_start_keeps_the_lost_counts(small_fs):
    # On the old code the second start rewrote the held file without its counts: the third counted none.
    path = small_fs.path / "mqtt-outbox.sqlite"
    held = HeldFile(path.with_name(path.name + ".held"))
    kept = held.write(rows(1200), max_events=3)                # the first run, killed: the newest that fit
    assert 0 < kept < 1200
    held.close()
    lost = {"not_stored": 1200 - kept, "max_events": 3}
    small_fs.fill()
    second = Outbox(path, max_events=100_000, max_age_s=86400)  # cannot even create its file
    assert second.problem and second.dropped == lost and second.stats()["held"] == kept
    # killed here: no close()
    small_fs.free()
    third = Outbox(path, max_events=100_000, max_age_s=86400)
    try:
        assert third.dropped == lost
        assert third.depth == kept and third.pending()[0].seq == 1200 - kept
    finally:
        third.close()
    again = Outbox(path, max_events=100_000, max_age_s=86400)
    try:
        assert again.dropped == lost     # stored once, not counted twice
    finally:
        again.close()
