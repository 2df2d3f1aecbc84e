"""warmup.replay's tail read meets a CSV header again longer than the line bound before its start (qa49; chaos8 left).

A whole read skips the rows after such a header up to the next header it can read (chaos8: `line too long — a header
again (…) past 1,048,576 characters, unread: the rows after it are skipped …`). The tail read (`header_before`,
which finds the columns in force at its start) read the long header's first 64 KiB as its columns — its last field cut
short — and every row of the tail under it was `wrong column count`, unlike the whole read. Now it judges the line as
the whole read does (its first 64 KiB name the time column: a header again), says it once and skips its rows.
Real files, read by the replay source the warm-up reads them with.
"""
from __future__ import annotations

from pathlib import Path

from agent.records import Rejects
from agent.sources.replay import warmup_source
from agent.sources.replay_lines import MAX_LINE_CHARS

T0 = 1_700_000_000


def joined(tmp_path: Path) -> tuple[Path, int]:
    """A recording under `timestamp,a,b`, one under a header again past the line bound, one under `timestamp,b,a`;
    the byte of one of the middle recording's rows."""
    wide = ",".join(["timestamp", "b", "a"] + [f"tag{i:06d}" for i in range(MAX_LINE_CHARS // 9)])
    first = "".join(f"{T0 + k},{k % 3},1\n" for k in range(30))
    middle = "".join(f"{T0 + 30 + k},{k % 5},9\n" for k in range(200))
    last = "timestamp,b,a\n" + "".join(f"{T0 + 300 + k},7,{k % 4}\n" for k in range(50))
    text = "timestamp,a,b\n" + first + wide + "\n" + middle + last
    path = tmp_path / "r.csv"
    path.write_text(text)
    return path, len(text.encode()) - len(last) - len(middle) // 2


def test_the_tail_read_skips_the_rows_of_a_long_header_again_before_its_start_as_a_whole_read(tmp_path):
    path, inside = joined(tmp_path)
    whole_rejects, tail_rejects = Rejects(), Rejects()
    whole = list(warmup_source(path, None, ["a", "b"], whole_rejects).records())
    source = warmup_source(path, None, ["a", "b"], tail_rejects)
    start = source.tail_start(path, path.stat().st_size - inside)
    assert start is not None and start > inside - 40
    tail = list(source.tail_records(path, start))

    assert whole_rejects.counts == {"line too long": 1}
    assert [(r.ts, r.values) for r in tail] == [(r.ts, r.values) for r in whole if r.ts >= T0 + 300]
    assert tail[0].values == {"b": 7.0, "a": 0.0}           # the last header's columns
    # On ad79f86d: {'wrong column count': 101}, the long header's first 64 KiB read as the columns.
    assert tail_rejects.counts == {"line too long": 1}, tail_rejects.counts
    where, said = tail_rejects.first["line too long"]
    assert where == f"r.csv (byte {path.read_bytes().index(b'timestamp,b,a,tag'):,}, before the tail read)", where
    assert said.startswith("a header again ('timestamp,b,a,tag000000,…') past 1,048,576 characters, unread: the rows "
                           "after it are skipped up to the next header"), said
    skipped = path.read_bytes()[start:].count(b",9\n")     # the middle recording's rows from the tail's start
    assert [rows for _, rows in source.skipped.values()] == [skipped]   # kept for training's 1 % rule
