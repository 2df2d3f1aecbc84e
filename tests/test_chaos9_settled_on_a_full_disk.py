"""A held event settled while the state disk is full is still settled for the next start (qa51 left it; chaos9).

The outbox holds in memory the events its file cannot take (a full disk) and sends them from there; one the broker
acknowledges — or refuses, or a bound drops — is settled, and its newest seq written to the `settled` table with the
next commit. With the disk still full at the stop there was none: the next start's recovery of the alert journal's
last event (agent/journal_resume.py) found it neither stored nor settled, stored it again and the broker got it a
second time (a refused one sent again, a dropped one sent after all). The held file (written in place, on a full disk
too) now keeps the settled marks beside the held rows. A real Outbox on a real full tmpfs (tests/small_fs.py: root).
"""
from __future__ import annotations

from agent.held_file import HeldFile
from agent.outbox import Outbox
from small_fs import small_fs  # noqa: F401 — a pytest fixture


def test_held_events_settled_while_the_disk_is_full_are_settled_after_a_stop_on_it(small_fs):
    # On 19acb1bf the reopened outbox knew neither settled: the journal's recovery would store the last one again.
    path = small_fs.path / "mqtt-outbox.sqlite"
    box = Outbox(path, max_events=100, max_age_s=3600)
    try:
        assert box.add("a-1", 0, "new", "{}") is not None
        small_fs.fill()
        seq = 1
        while box.stats()["held"] == 0:                 # until the outbox's own file refuses one
            assert seq < 2000, "the outbox kept storing on a full disk"
            box.add("a-1", seq, "update", "r" * 3000)
            seq += 1
        box.add("f-1", 0, "fault", "{}")                 # held too
        held = {(e.alert_id, e.seq): e.id for e in box.pending(limit=5000) if e.held}
        assert ("a-1", seq - 1) in held and ("f-1", 0) in held, held
        box.ack(held[("a-1", seq - 1)])                  # the broker has it, from memory
        box.drop(held[("f-1", 0)], "refused")            # the broker refused it
        assert box.settled("a-1", seq - 1) and box.settled("f-1", 0)
        assert box.problem is not None, "the disk is still full: nothing committed"
    finally:
        box.close()                                     # the stop, on the still-full disk
    again = Outbox(path, max_events=100, max_age_s=3600)     # the next start, the disk still full
    try:
        assert again.settled("a-1", seq - 1) and again.settled("f-1", 0)
        assert not again.settled("a-1", seq)
    finally:
        again.close()
    kept = HeldFile(path.with_name(path.name + ".held"))
    assert kept.read_all()[3] == {"a-1": seq - 1, "f-1": 0}     # where they waited
    small_fs.free()
    third = Outbox(path, max_events=100, max_age_s=3600)     # and once it has room: committed to `settled`
    try:
        assert third.add("a-1", seq + 5, "update", "{}") is not None
    finally:
        third.close()
    kept.clear()                                        # not from the held file: from `settled`
    kept.close()
    fourth = Outbox(path, max_events=100, max_age_s=3600)
    try:
        assert fourth.settled("a-1", seq - 1) and fourth.settled("f-1", 0)
    finally:
        fourth.close()
