"""An outbox a power cut left as an empty database file beside its write-ahead log (review22).

A power cut can leave `mqtt-outbox.sqlite` with no bytes (a file whose data blocks never reached the
disk) while `mqtt-outbox.sqlite-wal` holds the events committed since the last checkpoint. SQLite
takes the empty file for a new database and deletes the WAL when it opens it: before, the restarted
agent sent none of those events and said nothing (seen on a gateway lab: four alert events of an
open alert gone from the outbox, no log line, no count). Now the WAL is read over the outbox's own
schema, the events in it go out again as replays, and the files are kept aside.
"""
from __future__ import annotations

import json
import logging
import shutil

from agent.outbox import Outbox


def power_cut_image(src_dir, dst_dir, name: str) -> None:
    """The outbox's files as a power cut leaves them: copied while it is open, the database emptied."""
    dst_dir.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(src_dir / f"{name}{suffix}", dst_dir / f"{name}{suffix}")
    (dst_dir / name).write_bytes(b"")


def test_events_in_the_wal_of_an_emptied_outbox_are_sent_again(tmp_path, caplog):
    live = tmp_path / "live"
    live.mkdir()
    box = Outbox(live / "o.sqlite", max_events=1000, max_age_s=3600)
    for seq in range(5):
        box.add("rs-gw-1", seq, "update" if seq else "new", json.dumps({"alert_id": "rs-gw-1", "seq": seq}))
    power_cut_image(live, tmp_path / "cut", "o.sqlite")
    box.close()
    assert (tmp_path / "cut" / "o.sqlite-wal").stat().st_size > 32      # the events are in the WAL only

    caplog.set_level(logging.INFO, logger="stad.outbox")
    after = Outbox(tmp_path / "cut" / "o.sqlite", max_events=1000, max_age_s=3600)
    pending = after.pending(limit=100)
    # On the old code: [] and not a word.
    assert [(e.alert_id, e.seq) for e in pending] == [("rs-gw-1", seq) for seq in range(5)]
    assert all(e.replay for e in pending)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("o.sqlite is empty" in m and "5 event(s)" in m for m in said), said
    aside = sorted(p.name for p in (tmp_path / "cut").iterdir() if ".corrupt-" in p.name)
    assert any(n.endswith("-wal") for n in aside), aside         # the WAL is kept, not deleted
    assert after.add("rs-gw-1", 5, "end", "{}") is not None and after.problem is None
    after.close()
    assert Outbox(tmp_path / "cut" / "o.sqlite", max_events=1000, max_age_s=3600).depth == 6


def test_an_empty_outbox_file_without_a_wal_is_a_new_outbox_said_nothing(tmp_path, caplog):
    (tmp_path / "o.sqlite").write_bytes(b"")
    box = Outbox(tmp_path / "o.sqlite", max_events=10, max_age_s=3600)
    assert box.pending(limit=10) == [] and box.problem is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    box.close()
