"""The outbox's held file (agent/held_file.py): what a run held in memory on a full disk comes back
at the next start; a file a power cut tore is said, not trusted. (The full disk and the kill -9
themselves: test_qa15_outbox_kill.py.)"""
from __future__ import annotations

import logging
import time

from agent.held_file import HEADER_BYTES, HeldFile
from agent.outbox import Outbox


def rows(n: int, pad: int = 100) -> list[tuple]:
    now = time.time()
    return [(now - n + i, "a", i, "update", "x" * pad) for i in range(n)]


def test_the_held_file_keeps_the_newest_rows_that_fit_and_counts_the_rest(tmp_path):
    held = HeldFile(tmp_path / "o.sqlite.held", size=HEADER_BYTES + 1500)
    assert held.read() == ([], 0, 0)
    written = rows(40)
    kept = held.write(written, max_events=3)
    assert 0 < kept < 40
    back, not_kept, bounded = held.read()
    assert back == written[40 - kept:] and not_kept == 40 - kept and bounded == 3
    assert (tmp_path / "o.sqlite.held").stat().st_size == HEADER_BYTES + 1500      # written in place
    held.clear()
    assert held.read() == ([], 0, 0)
    held.close()


def test_a_torn_held_file_is_said_and_not_trusted(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad.outbox")
    held = HeldFile(tmp_path / "o.sqlite.held")
    held.write(rows(3), max_events=0)
    held.close()
    with open(tmp_path / "o.sqlite.held", "r+b") as f:      # a power cut while it was rewritten
        f.seek(HEADER_BYTES + 10)
        f.write(b"\0\0\0")
    box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=86400)
    assert box.depth == 0 and box.stats()["held"] == 0
    said = [r.getMessage() for r in caplog.records if "is unusable" in r.getMessage()]
    assert said and "its 3 event(s) are damaged (checksum mismatch" in said[0] and "how many is unknown" in said[0]
    box.close()
    assert HeldFile(tmp_path / "o.sqlite.held").read() == ([], 0, 0)       # cleared: not said again


def test_rows_a_previous_run_held_are_stored_as_replays_at_start(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad.outbox")
    held = HeldFile(tmp_path / "o.sqlite.held")
    held.write(rows(5), max_events=2)
    held.close()
    box = Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=86400)
    pending = box.pending()
    assert [e.seq for e in pending] == [0, 1, 2, 3, 4] and all(e.replay for e in pending)
    assert box.dropped == {"max_events": 2}
    assert any("the last run stopped without storing 7 event(s) it held in memory (its disk was full); 5 kept in "
               "o.sqlite.held are sent now, as replays; 2 did not fit and are lost (counted as max_events 2)"
               in r.getMessage() for r in caplog.records)
    box.close()
    assert Outbox(tmp_path / "o.sqlite", max_events=100, max_age_s=86400).dropped == {"max_events": 2}
