"""The outbox alone: durable, ordered, bounded, and every drop counted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.outbox import Outbox
from conftest import corrupt_tail


class Clock:
    """Time passing, moved on by the test: given as the wall clock and as the boot-time one (no step)."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def add(box: Outbox, alert_id: str, seq: int, kind: str) -> int:
    return box.add(alert_id, seq, kind, json.dumps({"alert_id": alert_id, "seq": seq, "replayed": False}))


def keys(box: Outbox) -> list[tuple[str, int]]:
    return [(e.alert_id, e.seq) for e in box.pending(limit=10_000)]


def test_events_come_back_in_order_and_ack_deletes(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=3600)
    ids = [add(box, "a", i, "new" if i == 0 else "update") for i in range(5)]
    assert ids == sorted(ids)
    assert keys(box) == [("a", i) for i in range(5)]
    box.ack(ids[0])
    box.ack(ids[2])
    assert keys(box) == [("a", 1), ("a", 3), ("a", 4)]
    assert box.depth == 3
    assert [e.id for e in box.pending(after=ids[1], limit=1)] == [ids[3]]


def test_unacknowledged_events_survive_reopen_as_replays(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=3600)
    first = add(box, "a", 0, "new")
    add(box, "a", 1, "end")
    box.ack(first)
    box.close()
    again = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=3600)
    assert again.recovered == 1
    [event] = again.pending()
    assert (event.alert_id, event.seq, event.replay) == ("a", 1, True)
    # ids are never reused: a new event sorts after the recovered one
    assert add(again, "b", 0, "new") > event.id


def test_requeue_marks_everything_unacknowledged_as_replay(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=3600)
    handed = add(box, "a", 0, "new")
    add(box, "a", 1, "update")
    box.handed(handed)
    assert box.in_flight == 1
    box.requeue()
    assert box.in_flight == 0
    assert all(e.replay for e in box.pending())


def test_a_kill_9_right_after_add_loses_nothing(tmp_path):
    path = tmp_path / "o.sqlite"
    writer = textwrap.dedent(f"""
        import os, signal
        from agent.outbox import Outbox
        box = Outbox({str(path)!r}, max_events=1000, max_age_s=3600)
        for i in range(50):
            box.add("a", i, "update", '{{"seq": %d}}' % i)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", writer], cwd=os.getcwd())
    assert proc.returncode == -signal.SIGKILL
    box = Outbox(path, max_events=1000, max_age_s=3600)
    assert keys(box) == [("a", i) for i in range(50)]


def test_over_max_events_ended_alerts_go_first_oldest_first(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_events=10, max_age_s=3600)
    for alert in ("old", "mid"):
        add(box, alert, 0, "new")
        add(box, alert, 1, "update")
        add(box, alert, 2, "end")
    for i in range(6):
        add(box, "open", i, "new" if i == 0 else "update")
    # 12 events for a bound of 10: the two oldest of the ended alert 'old' went
    assert box.depth == 10
    assert box.dropped == {"max_events": 2}
    assert keys(box)[:2] == [("old", 2), ("mid", 0)]
    for i in range(6, 12):
        add(box, "open", i, "update")
    # the ended alerts are gone before any event of the open one
    assert {a for a, _ in keys(box)} == {"open"}
    assert box.dropped == {"max_events": 8}
    # with only the open alert left, its oldest events give way
    add(box, "open", 12, "update")
    assert keys(box)[0] == ("open", 3)
    assert box.dropped["max_events"] == 9


def test_events_in_flight_are_never_dropped(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_events=10, max_age_s=3600)
    first = add(box, "old", 0, "new")
    box.handed(first)
    add(box, "old", 1, "end")
    for i in range(9):
        add(box, "open", i, "update")
    assert keys(box)[0] == ("old", 0)
    assert ("old", 1) not in keys(box)


@pytest.mark.parametrize("then_add", [True, False])
def test_over_max_age_events_expire_and_are_counted(tmp_path, then_add):
    # then_add=False: the broker comes back after an outage longer than max_age_s with no alert raised
    # since. On the old code only add() expired events, so these were sent, older than the bound says.
    clock = Clock()
    box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=60, clock=clock, boot_clock=clock)
    add(box, "a", 0, "new")
    add(box, "a", 1, "end")
    clock.now += 61
    if then_add:
        add(box, "b", 0, "new")
    assert keys(box) == ([("b", 0)] if then_add else [])
    assert box.dropped == {"max_age": 2}


def test_an_event_that_aged_past_max_age_between_two_looks_is_not_sent(tmp_path):
    # Expiry looked every 10 s: an event 55 s old at one look and 61 s at the next pending() was
    # handed out, older than max_age_s 60 (review 9).
    clock = Clock()
    box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=60, clock=clock, boot_clock=clock)
    add(box, "a", 0, "new")
    clock.now += 55
    assert keys(box) == [("a", 0)]
    clock.now += 6
    assert keys(box) == [] and box.dropped == {"max_age": 1} and box.depth == 0


def test_drop_counts_survive_a_restart(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_events=10, max_age_s=3600)
    for i in range(15):
        add(box, "a", i, "update")
    box.close()
    assert Outbox(tmp_path / "o.sqlite", max_events=10, max_age_s=3600).dropped == {"max_events": 5}


operations = st.lists(st.one_of(
    st.tuples(st.just("add"), st.sampled_from(["new", "update", "end"])),
    st.tuples(st.just("ack"), st.integers(0, 30)),
    st.tuples(st.just("hand"), st.integers(0, 30)),
    st.tuples(st.just("requeue"), st.none()),
    st.tuples(st.just("reopen"), st.none()),
), max_size=60)


@settings(max_examples=40, deadline=None)
@given(ops=operations)
def test_every_event_is_acknowledged_dropped_or_still_waiting_in_order(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("prop") / "o.sqlite"
    box = Outbox(path, max_events=10, max_age_s=3600)
    added, acked, alert, seq = 0, 0, 0, 0
    for op, arg in ops:
        if op == "add":
            add(box, f"a{alert}", seq, arg)
            added += 1
            seq += 1
            if arg == "end":
                alert, seq = alert + 1, 0
        elif op in ("ack", "hand"):
            waiting = box.pending(limit=1000)
            if waiting:
                target = waiting[arg % len(waiting)].id
                if op == "ack":
                    box.ack(target)
                    acked += 1
                else:
                    box.handed(target)
        elif op == "requeue":
            box.requeue()
        else:
            box.close()
            box = Outbox(path, max_events=10, max_age_s=3600)
        assert box.depth <= 10 + box.in_flight
    waiting = box.pending(limit=1000)
    assert added == acked + len(waiting) + sum(box.dropped.values())
    assert [e.id for e in waiting] == sorted(e.id for e in waiting)
    box.close()


def test_sync_setting_normal_by_default_full_when_asked(tmp_path):
    import sqlite3
    for sync, level in (("normal", 1), ("full", 2)):
        box = Outbox(tmp_path / f"{sync}.sqlite", max_events=10, max_age_s=3600, sync=sync)
        add(box, "a", 0, "new")
        assert box.stats()["sync"] == sync and box._db.execute("PRAGMA synchronous").fetchone()[0] == level
        box.close()
    default = Outbox(tmp_path / "d.sqlite", max_events=10, max_age_s=3600)
    assert default.stats()["sync"] == "normal"
    assert sqlite3.connect(tmp_path / "d.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    default.close()


def test_a_corrupt_outbox_is_moved_aside_what_it_holds_is_saved_and_storing_goes_on(tmp_path, caplog):
    # On the old code the corrupt file stayed in place: every later event was refused as not_stored
    # for good ("database disk image is malformed"), with a log line promising it would work again.
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_events=1000, max_age_s=3600)
    for i in range(200):
        box.add(f"a{i}", 0, "new", json.dumps({"alert_id": f"a{i}", "pad": "p" * 300}))
    box._count("max_age", 3)
    box.add("z", 0, "new", "{}")                   # writes the drop count
    box.close()
    corrupt_tail(path, pages=2)

    box = Outbox(path, max_events=1000, max_age_s=3600)
    assert box.problem is None
    saved = box.pending(limit=10_000)
    assert 100 < len(saved) < 201 and all(e.replay for e in saved)
    assert [e.alert_id for e in saved] == [f"a{i}" for i in range(len(saved))]       # in order, from the start
    assert box.dropped["corrupt"] == 201 - len(saved) and box.dropped["max_age"] == 3
    assert box.add("b", 0, "new", "{}") is not None and "not_stored" not in box.dropped
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("o.sqlite.corrupt-")]
    assert aside and any(n.endswith("Z") for n in aside)
    assert any("was corrupt: moved to o.sqlite.corrupt-" in r.getMessage() for r in caplog.records)
    box.close()
    assert Outbox(path, max_events=1000, max_age_s=3600).depth == len(saved) + 1   # the new file is whole


def test_an_outbox_file_that_is_not_a_database_is_replaced(tmp_path):
    path = tmp_path / "o.sqlite"
    path.write_bytes(b"\x00garbage" * 100)
    box = Outbox(path, max_events=10, max_age_s=3600)
    assert box.problem is None and box.add("a", 0, "new", "{}") is not None
    assert box.depth == 1
    assert [p for p in tmp_path.iterdir() if p.name.startswith("o.sqlite.corrupt-")]
