"""Events held in memory (a state disk that takes none) are bounded by the outbox's own rule, and each drop said (qa49).

The stored outbox, over `max_events`, drops ended alerts' events (and fault events) first, oldest first, then the open
alert's, never one handed to the client. Held in memory, the oldest went whatever they were: the open alert's `new`
before an ended alert's `update`, and one in flight — counted as dropped though the broker acknowledged it. And the
held drops were counted but never said in the log (the stored ones were). Now one rule for both, and the line names
the events. Real SQLite and a real file system: the outbox's path lies under a regular file (ENOTDIR), so it can
never be created — the held path as on a full or read-only disk.
"""
from __future__ import annotations

import json
import logging

from agent.outbox import Outbox


def add(box: Outbox, alert_id: str, seq: int, kind: str) -> None:
    box.add(alert_id, seq, kind, json.dumps({"alert_id": alert_id, "seq": seq}))


def held(box: Outbox) -> list[tuple[str, int]]:
    return [(e.alert_id, e.seq) for e in box.pending(limit=10_000)]


def unopenable(tmp_path) -> Outbox:
    (tmp_path / "a-file").write_text("")
    box = Outbox(tmp_path / "a-file" / "o.sqlite", max_events=10, max_age_s=3600)
    assert box.problem is not None
    return box


def test_held_events_over_max_events_ended_alerts_go_first_and_each_drop_is_said(tmp_path, caplog):
    box = unopenable(tmp_path)
    with caplog.at_level(logging.WARNING, logger="stad.outbox"):
        add(box, "open", 0, "new")          # the open alert's first event, the oldest held
        for alert in ("old", "mid"):
            add(box, alert, 0, "new")
            add(box, alert, 1, "update")
            add(box, alert, 2, "end")
        add(box, "open", 1, "update")        # `open` is the alert still open
        for i in range(2, 5):
            add(box, "open", i, "update")
    # 11 events for a bound of 10: the oldest of an ended alert went, not the open alert's `new` (on ad79f86d it did)
    assert box.depth == 10 and box.dropped == {"max_events": 1}
    assert held(box)[0] == ("open", 0) and ("old", 0) not in held(box)
    said = [r.getMessage() for r in caplog.records if "reached: dropped" in r.getMessage()]
    assert said == ["outbox max_events 10 reached: dropped 1 alert event(s) held in memory alone (the file cannot take "
                    f"them: {box.problem}) — new old #0, 1 dropped for this reason so far"], said


def test_a_held_event_in_flight_is_never_dropped(tmp_path):
    box = unopenable(tmp_path)
    add(box, "old", 0, "new")
    add(box, "old", 1, "end")
    first = box.pending(limit=1)[0]
    box.handed(first.id)                    # with the client, not acknowledged yet
    for i in range(9):
        add(box, "open", i, "update")
    assert held(box)[0] == ("old", 0)       # on ad79f86d: dropped, counted, then acknowledged all the same
    assert ("old", 1) not in held(box)
    box.ack(first.id)
    assert box.dropped == {"max_events": 1} and box.depth == 9
