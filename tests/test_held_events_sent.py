"""Alert events the outbox cannot store (its disk is full) are sent from memory while the broker is up.

Before, they waited in memory and in the held file until the disk had room again or the next start:
a gateway whose state disk filled up kept every incident from a control room whose broker was
answering. Now pending() hands them to the sink after the stored ones; an acknowledged one is
forgotten (never stored, not sent again), and the held file no longer keeps it for a restart.

A real MQTT sink and a real Mosquitto and subscriber; a real 2 MiB tmpfs for the state.
"""
from __future__ import annotations

import json

from agent import config
from agent.held_file import HeldFile
from agent.sinks import open_sink
from conftest import alert_event, wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture
from small_fs import small_fs  # noqa: F401 — a pytest fixture


def received(messages) -> list[tuple]:
    """(alert_id, seq, replayed) of each alert event that arrived, in arrival order."""
    return [(p["alert_id"], p["seq"], bool(p.get("replayed"))) for p in
            (json.loads(m.payload) for m in list(messages) if m.topic.endswith("/alerts"))]


def test_events_held_on_a_full_disk_reach_the_subscriber_while_it_is_full_and_once(small_fs, make_broker):
    # On the old code no held event was sent before the disk had room: the first wait timed out.
    broker = make_broker()
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()
    cfg = config.from_dict({"sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
                            "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port}}],
                            "state_dir": str(small_fs.path)})
    sink = open_sink(cfg.sinks[0], cfg.sink_context())
    try:
        assert sub.wait_for(lambda ms: any(m.topic.endswith("/status") and m.payload == b"online" for m in ms), 60)
        small_fs.fill()
        seq = 0
        while sink.outbox.stats()["held"] == 0:             # until the outbox's own file refuses one
            assert seq < 2000, "the outbox kept storing on a full disk"
            event = alert_event("a", seq, "new" if seq == 0 else "update")
            event.reason = "r" * 3000
            sink.emit(event)
            seq += 1
        for extra in range(seq, seq + 5):                   # more while it is full: all held
            sink.emit(alert_event("a", extra))
        sent = {("a", i) for i in range(seq + 5)}
        assert sub.wait_for(lambda ms: {(a, s) for a, s, _ in received(ms)} >= sent, 60), \
            sorted(sent - {(a, s) for a, s, _ in received(sub.messages)})
        assert sink.outbox.problem is not None              # still full: they came from memory
        wait_for(lambda: sink.outbox.stats()["held"] == 0 and sink.outbox.depth == 0, "the acks of the held events", 60)
        assert HeldFile(small_fs.path / "mqtt-outbox.sqlite.held").read() == ([], 0, 0)   # a restart resends none

        small_fs.free()
        sink.emit(alert_event("a", seq + 5, "end"))         # stored again: the held ones are not stored after it
        assert sub.wait_for(lambda ms: ("a", seq + 5) in {(a, s) for a, s, _ in received(ms)}, 60)
        assert sink.outbox.problem is None and sink.outbox.recovered == 0
    finally:
        sink.close()
    arrived = received(sub.messages)
    sub.close()
    assert sorted((a, s) for a, s, _ in arrived) == sorted(sent | {("a", seq + 5)})     # each once
    assert not any(replayed for _, _, replayed in arrived)


def test_held_events_in_flight_when_space_returns_are_stored_as_replays_and_sent_again(small_fs):
    # The outbox alone (the sink's calls made by hand): what the sink had in flight from memory when the
    # disk took the held rows after all goes out again from the file, as replays; an acknowledgement of
    # the old (held) id is then ignored, and what the broker acknowledged before is never stored.
    from agent.outbox import HELD_ID_BASE, Outbox
    box = Outbox(small_fs.path / "o.sqlite", max_events=100_000, max_age_s=86400)
    stored = box.add("a", 0, "new", "{}")
    small_fs.fill()
    seq = 1
    while box.stats()["held"] == 0:
        assert seq < 2000, "the outbox kept storing on a full disk"
        box.add("a", seq, "update", '{"pad": "%s"}' % ("x" * 3000))
        seq += 1
    box.add("a", seq, "update", "{}")
    pending = box.pending(limit=10_000)
    held = [e for e in pending if e.id >= HELD_ID_BASE]
    assert len(held) >= 2 and [e.seq for e in held] == list(range(seq - len(held) + 1, seq + 1))
    assert box.pending(after=pending[-1].id, held_after=held[-1].id) == []
    for e in held:
        box.handed(e.id)
    box.ack(held[0].id)                                 # the broker has the first held one: forgotten
    assert box.stats()["held"] == len(held) - 1 and box.depth == len(pending) - 1
    moved = box.held_moved
    small_fs.free()
    box.add("a", seq + 1, "end", "{}")                  # the held rows are stored first, then this one
    assert box.held_moved == moved + 1 and box.stats()["held"] == 0
    box.ack(held[1].id)                                 # an old id: ignored, its stored copy goes out again
    again = box.pending(after=stored, limit=10_000)
    assert [e.seq for e in again] == [e.seq for e in pending if e.id != stored and e.id != held[0].id] + [seq + 1]
    assert all(e.replay for e in again if e.seq in {h.seq for h in held[1:]})
    assert all(e.id < HELD_ID_BASE for e in again)
    box.close()
