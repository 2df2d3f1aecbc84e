"""qa36: an outbox's held file (`<outbox>.held`, agent/held_file.py) whose header — outside its crc32, which covers the
body only — holds a count no run writes: a bit flipped by a bad disk, a hand.

Before: `not_kept` or `max_events` of 1e999 raised OverflowError in int(), past the outbox's ValueError, and the MQTT
sink (the agent) did not start; -5 was counted as -5 events lost (health `dropped` went negative, and a later loss
was under-counted); "7" was taken as 7. A byte count of 1e999 (the journals' spares too) raised OverflowError. Now
each is said (the outbox's one line: the held file unusable, its events lost, how many unknown) and the file cleared.
Real files, the real Outbox.
"""
from __future__ import annotations

import json
import logging
import time

import pytest

from agent.held_file import HEADER_BYTES, HeldFile
from agent.outbox import Outbox


def held_with(path, **header) -> None:
    """A held file of two rows written by HeldFile, its header's keys then set to `header` (the crc32 still right)."""
    now = time.time()
    held = HeldFile(path)
    assert held.write([(now, "a", 0, "new", "{}"), (now, "a", 1, "update", "{}")], max_events=3, not_stored=4) == 2
    held.close()
    data = path.read_bytes()
    head = json.loads(data[:HEADER_BYTES])
    raw = json.dumps({**head, **header}).replace("Infinity", "1e999").encode()
    assert len(raw) < HEADER_BYTES
    path.write_bytes(raw.ljust(HEADER_BYTES - 1) + b"\n" + data[HEADER_BYTES:])


@pytest.mark.parametrize("header, said", [
    ({"not_kept": float("inf")}, "its header's not_kept is Infinity, not a count"),
    ({"max_events": -5}, "its header's max_events is -5, not a count"),
    ({"not_kept": "7"}, "its header's not_kept is \"7\", not a count"),
    ({"bytes": float("inf")}, "its header's bytes is Infinity, not a byte count within the file"),
    ({"bytes": 10 ** 9}, "its header's bytes is 1000000000, not a byte count within the file"),
], ids=["not_kept-1e999", "max_events-negative", "not_kept-string", "bytes-1e999", "bytes-past-the-file"])
def test_a_held_file_header_holding_no_count_is_said_and_cleared_never_counted_or_a_traceback(tmp_path, caplog,
                                                                                               header, said):
    path = tmp_path / "mqtt-outbox.sqlite"
    held_with(path.with_name(path.name + ".held"), **header)
    caplog.set_level(logging.ERROR, logger="stad")
    box = Outbox(path, max_events=1000, max_age_s=86400)
    try:
        [line] = [r.getMessage() for r in caplog.records if "the held file" in r.getMessage()]
        assert line.endswith(f"is unusable: {said}; those events are lost (how many is unknown)"), line
        assert box.dropped == {}, box.dropped             # nothing counted from it (-5 was counted before)
        assert box.depth == 0
    finally:
        box.close()
    assert HeldFile(path.with_name(path.name + ".held")).read() == ([], 0, 0)     # cleared


def test_a_held_file_written_by_the_outbox_reads_back_whole(tmp_path):
    """The checks refuse none of what HeldFile writes."""
    path = tmp_path / "o.sqlite.held"
    held_with(path)
    rows, not_kept, bounded = HeldFile(path).read()
    assert [r[2] for r in rows] == [0, 1] and (not_kept, bounded) == (4, 3)
