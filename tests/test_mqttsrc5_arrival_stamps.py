"""A reading stamped on arrival moves nothing while the data's senders stamp their own (mqttsrc5).

A plain number on an MQTT topic (or a JSON reading without "ts") has no time of its own: the source stamps it as it
comes. Read behind a broker's backlog, that arrival stands up to the backlog ahead of the stamped readings of other
senders read with it. mqttsrc4 left it: its bad-readings test with `5.0` for `NaN` moved the time base back 5 s —
the plain readings confirmed a jump (taken as the backlog draining, not said), the stamped ones after it a step
back (said). The rule now (LivePace._arrival_stamp_refused): such a reading, not in step with the time base while a
record stamped by its sender was taken within the last 60 s of arrivals, never starts, joins or confirms a move; it
is counted (`timestamp jump` ahead of the data, `late` behind it) with what to do, and goes. A feed of plain
numbers alone keeps its arrivals as the data's clock; a step of this host's clock is followed as before."""
from __future__ import annotations

import time

from conftest import wait_until
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture
from mqtt_source_reader import read_behind_a_backlog, started

from agent.records import Record, Rejects
from agent.window import Aligner


def test_plain_readings_among_stamped_ones_read_behind_a_backlog_move_nothing(make_broker):
    """The source stopped (SIGSTOP) while the sender publishes ten stamped readings, five plain `5.0` (stamped
    when the source reads them) and ten stamped readings more; run again 5 s later. Before: `{'back': 1}`."""
    reader, pub, last = started(make_broker)
    try:
        moves, counts = read_behind_a_backlog(reader, pub, last, "5.0")
        assert moves == {}, (moves, reader.log[-5:])
        assert counts == {"timestamp jump": 5}, counts
        assert wait_until(lambda: any("no ts of its own" in line for line in reader.log), 10), reader.log[-5:]
    finally:
        reader.stop()
        pub.close()


T0 = 1_796_000_000.0


def _aligner() -> Aligner:
    return Aligner(["a", "b"], 1.0, carry_forward_s=2.0, lateness_ticks=1, rejects=Rejects())


def test_a_feed_of_plain_readings_alone_keeps_its_arrivals_as_its_clock():
    """No sender stamps: a plain reading back after a 30-s silence is taken where it came (as before)."""
    aligner = _aligner()
    for i in range(20):
        aligner.push(Record(ts=T0 + i, values={"a": 1.0}, received=T0 + i, origin="mqtt p", arrival_stamped=True))
    for i in range(5):
        aligner.push(Record(ts=T0 + 50 + i, values={"a": 2.0}, received=T0 + 50 + i, origin="mqtt p",
                            arrival_stamped=True))
    aligner.flush_until(T0 + 60)
    assert aligner.moves == {} and not aligner.rejects.counts, (aligner.moves, aligner.rejects.counts)
    assert aligner.newest_k == T0 + 54


def test_plain_readings_in_step_with_stamped_ones_are_taken():
    """Undelayed, a plain reading stands in step with the stamped data: taken, nothing counted."""
    aligner = _aligner()
    for i in range(30):
        aligner.push(Record(ts=T0 + i + 0.2, values={"a": 1.0}, received=T0 + i + 0.25, origin="mqtt a"))
        aligner.push(Record(ts=T0 + i + 0.5, values={"b": 2.0}, received=T0 + i + 0.5, origin="mqtt b",
                            arrival_stamped=True))
    rows = aligner.flush_all()
    assert aligner.moves == {} and not aligner.rejects.counts, (aligner.moves, aligner.rejects.counts)
    assert aligner.newest_k == T0 + 29 and len(rows) > 0


def test_a_plain_reading_behind_the_stamped_data_is_late_not_a_step_back():
    """Stamped data whose sender runs 20 s ahead of this host, plain readings stamped at this host's clock: before,
    the plain ones confirmed a step back of 20 s; now each is `late`."""
    aligner = _aligner()
    for i in range(30):
        aligner.push(Record(ts=T0 + 20 + i, values={"a": 1.0}, received=T0 + i, origin="mqtt a"))
    for i in range(5):
        aligner.push(Record(ts=T0 + 30 + i, values={"b": 2.0}, received=T0 + 30 + i, origin="mqtt b",
                            arrival_stamped=True))
    assert aligner.moves == {}, aligner.moves
    assert aligner.rejects.counts == {"late": 5}, aligner.rejects.counts
