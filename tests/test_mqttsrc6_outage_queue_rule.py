"""mqttsrc6: the rule that tells the outage's queue (agent/sources/outage_queue.py), at its edges — what the
real-broker test (test_mqttsrc6_silent_broker_late_notice.py) does not reach in one run."""
from __future__ import annotations

from agent.records import Record
from agent.sources.outage_queue import OutageQueue


def rec(ts: float, *sensors: str) -> Record:
    return Record(ts=ts, values={s: 1.0 for s in sensors}, origin="mqtt plant/rtu")


def test_a_queue_is_told_however_long_before_the_reconnect_it_began_and_however_late_its_publisher_comes():
    # the broker's last delivery at 1000, sensor a's newest reading then 999.5; the source back at 2000, the
    # publisher of b only at 2600: everything each kept is the queue, down to its first live reading
    queue = OutageQueue(floor=1000.0, newest_before={"a": 999.5, "b": 999.0})
    assert queue.judge(rec(1000.0, "a"), ["a"], arrived=2000.0)
    assert queue.judge(rec(1999.5, "a"), ["a"], arrived=2000.1)
    assert not queue.judge(rec(2000.5, "a"), ["a"], arrived=2000.6)        # live again
    assert queue.drained()
    assert queue.judge(rec(1500.0, "b"), ["b"], arrived=2600.0)            # b's publisher came back late
    assert queue.judge(rec(2590.0, "b"), ["b"], arrived=2600.1)            # stamped after the source's reconnect
    assert not queue.drained()
    assert not queue.judge(rec(2600.5, "b"), ["b"], arrived=2600.6)
    assert queue.drained() and queue.take_said() == (4, 1000.0, 2590.0)


def test_what_was_read_before_and_a_step_back_after_the_drain_are_not_the_queue():
    queue = OutageQueue(floor=1000.0, newest_before={"a": 999.5})
    assert not queue.judge(rec(999.5, "a"), ["a"], arrived=2000.0)         # the last reading before, again
    assert not queue.judge(rec(990.0, "a"), ["a"], arrived=2000.1)         # further back than what was read
    assert queue.judge(rec(1200.0, "a"), ["a"], arrived=2000.2)
    assert not queue.judge(rec(2001.0, "a"), ["a"], arrived=2001.0)
    # read live again: a reading stamped back in the outage is a clock stepping back or a lag, judged as any
    assert not queue.judge(rec(1500.0, "a"), ["a"], arrived=2002.0)
    # a sensor never read before: bounded by the broker's last delivery
    assert not queue.judge(rec(900.0, "c"), ["c"], arrived=2003.0)
    assert queue.judge(rec(1100.0, "c"), ["c"], arrived=2003.1)
    # a record naming a sensor read live again is not the queue (its sensors would disagree)
    assert not queue.judge(rec(1300.0, "a", "c"), ["a", "c"], arrived=2003.2)
    assert not queue.judge(rec(1300.0), [], arrived=2003.3)                 # no configured sensor: nothing to tell


def test_a_publisher_that_kept_nothing_is_no_queue_said():
    # its first reading after the reconnect, stamped a moment before it came: flagged (harmless in an open tick), but
    # no "1 reading kept through the outage" — only readings a tick (kept_s) older than their arrival are said
    queue = OutageQueue(floor=1000.0, newest_before={"a": 999.5}, kept_s=0.5)
    assert queue.judge(rec(2000.0, "a"), ["a"], arrived=2000.01)
    assert not queue.judge(rec(2000.5, "a"), ["a"], arrived=2000.51)
    assert queue.live == {"a"} and not queue.drained() and queue.count == 0
