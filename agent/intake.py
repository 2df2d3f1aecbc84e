"""The queue between the source threads and the agent's loop, bounded in records and in bytes.

Why bounded both ways: an unpaced source (a replay, the simulator, a burst after a network
outage) reads far faster than the loop scores, and an unbounded or 10 000-record queue held
~12 MiB of records on the demo: most of the agent's memory beyond its code. A record count
alone does not bound memory (one JSON line may carry thousands of readings), so each record
is also weighed by an estimate of its size.

When the queue is full a source thread waits (back-pressure: a file is read later, a live
source's own buffer or the kernel holds the data, where its losses are counted by that
source). Every wait is counted (`blocked`, `blocked_s`). At a clean stop the loop scores the
records already queued; a record offered once the stop is set (waiting for room or not), or
left queued when the sources are closed (`discard_rest`: --max-ticks, an error), is counted as
`dropped_at_stop` — nothing is lost silently. One record larger than the byte bound on its own
is let in when the queue is empty, so a source is never stuck.
"""
from __future__ import annotations

import threading
import time
from collections import deque

from .records import Record

#: Records waiting for the loop at most: tens of milliseconds of the loop's work (~1 ms a tick on
#: the demo). An unpaced source keeps the queue full, so every record here is resident: 256 of the
#: demo's records held ~0.4 MiB, 64 hold ~0.1.
MAX_RECORDS = 64
#: discard_rest waits at most this long for the sources waiting for room to be answered (they are at once).
DISCARD_WAIT_S = 2.0
#: Estimated bytes of waiting records at most.
MAX_BYTES = 1 << 20

RECORD_BYTES = 200          # a Record with its dict, floats, origin string (CPython 3.11, measured)
VALUE_BYTES = 100           # each reading: a dict slot, a float, its share of the dict's table


def record_bytes(rec) -> int:
    """An estimate of the memory a record holds (0 for the loop's own markers)."""
    if not isinstance(rec, Record):
        return 0
    return RECORD_BYTES + VALUE_BYTES * len(rec.values) + len(rec.origin)


class IntakeQueue:
    """FIFO of records from the source threads, bounded by `max_records` and `max_bytes`."""

    def __init__(self, max_records: int = MAX_RECORDS, max_bytes: int = MAX_BYTES):
        if max_records < 1 or max_bytes < 1:
            raise ValueError("the intake queue needs room for at least one record and one byte")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._items: deque = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self.blocked = 0            # records whose source had to wait for room
        self.blocked_s = 0.0        # how long sources waited in all
        self.dropped_at_stop = 0    # records offered once the stop was set, or left queued at the close
        self._waiting = 0           # puts waiting for room now
        self.peak_records = 0
        self.peak_bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def _fits(self, size: int) -> bool:
        if not self._items:
            return True
        return len(self._items) < self.max_records and self._bytes + size <= self.max_bytes

    def put(self, item, stop: threading.Event | None = None, poll_s: float = 0.2) -> bool:
        """Queue `item`, waiting for room; False (and counted) when `stop` is set first — before it
        came or while it waited, room or not: the loop has taken (or dropped) what is queued."""
        size = record_bytes(item)
        with self._cond:
            if not self._fits(size):
                self.blocked += 1
                t0 = time.monotonic()
                self._waiting += 1
                while not self._fits(size) and not (stop is not None and stop.is_set()):
                    self._cond.wait(poll_s)
                self._waiting -= 1
                self._cond.notify_all()         # (discard_rest waits for the waiting to be answered)
                self.blocked_s += time.monotonic() - t0
            if stop is not None and stop.is_set():
                self.dropped_at_stop += 1
                return False
            self._add(item, size)
        return True

    def put_marker(self, item) -> None:
        """Queue a marker of the loop's (end of a source): never waits, weighs nothing."""
        with self._cond:
            self._add(item, 0)

    def _add(self, item, size: int) -> None:
        self._items.append((item, size))
        self._bytes += size
        self.peak_records = max(self.peak_records, len(self._items))
        self.peak_bytes = max(self.peak_bytes, self._bytes)
        self._cond.notify_all()

    def get(self, timeout: float):
        """The oldest item; None when none came within `timeout` seconds."""
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: self._items, timeout):
                return None
            item, size = self._items.popleft()
            self._bytes -= size
            self._cond.notify_all()
            return item

    def discard_rest(self) -> int:
        """After the sources are closed: drop what is still queued, counting its records (not the
        loop's markers) as `dropped_at_stop`; how many. A source waiting for room is answered before it
        returns (refused and counted, the stop being set), so that `dropped_at_stop` is the stop's whole
        count when the agent says it: the log said 64 records not scored, the summary 65 (user30)."""
        with self._cond:
            dropped = sum(1 for item, _ in self._items if isinstance(item, Record))
            self._items.clear()
            self._bytes = 0
            self.dropped_at_stop += dropped
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._waiting == 0, timeout=DISCARD_WAIT_S)
            return dropped

    def stats(self) -> dict:
        return {"depth": len(self._items), "bytes": self._bytes, "max_records": self.max_records,
                "max_bytes": self.max_bytes, "peak_records": self.peak_records, "peak_bytes": self.peak_bytes,
                "blocked": self.blocked, "blocked_s": round(self.blocked_s, 3),
                "dropped_at_stop": self.dropped_at_stop}
