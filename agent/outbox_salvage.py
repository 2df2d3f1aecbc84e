"""A damaged outbox file found when the outbox opens (agent/outbox.py): told apart from a storage problem, the
events still readable in it read out, its files moved aside for forensics.

Why a module of its own: the outbox is a queue — add, hand to the client, acknowledge, bound — and reads as one;
what it does with a file it cannot open as it is happens once, at an open, and is a craft of its own (SQLite's
error codes, a write-ahead log read over a database rebuilt with the outbox's schema, the files renamed and the
oldest ones removed). The outbox asks `cut_short` and `readable` first, then takes the rows `salvage_wal` or
`quarantine` give as replays; every count (`corrupt`, and the drop counts the damaged file held) goes through the
outbox's own `count(reason, n)`.

- A file SQLite finds corrupt (a power cut on an SD card, a disk error) would refuse every event for good —
  waiting does not mend it (`readable` False, `quarantine`).
- A file a power cut emptied (shorter than SQLite's header) beside a write-ahead log that holds frames is no new
  outbox: SQLite would take it for one and delete the log, the events committed since the last checkpoint with
  it, without a word (review22; `cut_short`, `salvage_wal`).
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

log = logging.getLogger("stad.outbox")

SQLITE_HEADER_BYTES = 100  # a database file shorter than this holds no database
WAL_HEADER_BYTES = 32      # a write-ahead log longer than its header holds frames
CORRUPT_CODES = {11, 26}   # SQLITE_CORRUPT, SQLITE_NOTADB
#: Corrupt outboxes moved aside that are kept, the newest (qa29: each one stayed for good, up to an outbox's size each
#: on a small state partition; what was readable in one is in the new outbox already, the files are for forensics).
CORRUPT_KEPT = 3

Count = Callable[[str, int], None]      # the outbox's drop count: (reason, events)


def readable(path: Path) -> bool:
    """Whether SQLite can read the existing file (False only when it finds it corrupt, not when the
    disk refuses access: that is a storage problem, retried)."""
    try:
        db = sqlite3.connect(str(path), isolation_level=None)
        try:
            (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()     # reads every page once
        finally:
            db.close()
    except sqlite3.Error as exc:
        return not is_corrupt(exc)
    return verdict == "ok"


def quarantine(path: Path, count: Count) -> tuple[list[tuple], Path | None]:
    """Move a corrupt outbox aside: the (created, alert_id, seq, kind, payload) rows still readable in it,
    oldest first (none when it could not be moved), and where it went. Logs what was saved and counts what
    was not (`corrupt`) when it can."""
    rows, held = rows_in(f"file:{path}?mode=ro", count)
    aside = move_aside(path)
    if aside is None:
        return [], None
    lost = max(0, held - len(rows)) if held is not None else None
    if lost:
        count("corrupt", lost)
    log.error("outbox %s was corrupt: moved to %s; %d event(s) still readable in it are sent again, %s; "
              "a new outbox is started", path, aside.name, len(rows),
              f"{lost} could not be read (counted as corrupt)" if held is not None
              else f"how many could not be read is unknown (sqlite3 {aside.name} .recover may find more)")
    return rows, aside


def cut_short(path: Path) -> bool:
    """The database file shorter than SQLite's header, or missing, while its write-ahead log holds frames: a power
    cut emptied the file (its blocks never reached the disk) or lost its name (a new outbox's, before its
    directory was synced). SQLite would take it for a new database and delete the log — the events committed
    since the last checkpoint — without a word (a missing file until chaos9)."""
    try:
        if Path(f"{path}-wal").stat().st_size <= WAL_HEADER_BYTES:
            return False
    except OSError:
        return False
    try:
        return path.stat().st_size < SQLITE_HEADER_BYTES
    except FileNotFoundError:
        return True
    except OSError:
        return False


def salvage_wal(path: Path, schema: str, count: Count) -> tuple[list[tuple], Path | None]:
    """The rows of an emptied outbox's write-ahead log (`cut_short`), read over a new database of
    the outbox's own `schema` (its tables' root pages are where the outbox put them, so the log's pages
    are read as what they were), and where the files were moved aside, kept (none, and no rows, when they
    could not be). Rows whose pages were checkpointed into the lost file are not in the log: how many is
    unknown, said, not counted."""
    wal = Path(f"{path}-wal")
    rebuilt = path.with_name(f"{path.name}.rebuilt")
    rows: list[tuple] = []
    try:
        with wal.open("rb") as f:
            page_size = int.from_bytes(f.read(WAL_HEADER_BYTES)[8:12], "big")
        for part in ("", "-wal", "-shm"):
            Path(f"{rebuilt}{part}").unlink(missing_ok=True)
        db = sqlite3.connect(str(rebuilt), isolation_level=None)
        try:
            db.execute(f"PRAGMA page_size={page_size}")
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)
        finally:
            db.close()
        shutil.copyfile(wal, f"{rebuilt}-wal")
        rows, _ = rows_in(str(rebuilt), count)
    except (OSError, sqlite3.Error) as exc:
        log.debug("outbox %s: its write-ahead log could not be read (%s)", path, exc)
    finally:
        for part in ("", "-wal", "-shm"):
            Path(f"{rebuilt}{part}").unlink(missing_ok=True)
    wal_bytes = wal.stat().st_size
    state = "empty" if path.exists() else "missing"
    aside = move_aside(path)
    if aside is None:
        return [], None
    log.error("outbox %s is %s (cut short by a power cut?) beside its write-ahead log of %d bytes: %d "
              "event(s) read from the log are sent again, as replays; events already moved into the lost "
              "file are lost for MQTT (how many is unknown; the jsonl sink keeps its copy); the files are "
              "kept as %s; a new outbox is started", path, state, wal_bytes, len(rows),
              f"{aside.name} and {aside.name}-wal" if state == "empty" else f"{aside.name}-wal")
    return rows, aside


def unwritable(path: Path) -> OSError | None:
    """Why the outbox at `path` cannot be written (its directory on a read-only file system, or not this user's to
    write), None when it can. Asked before SQLite opens it: SQLite opens such a file read-only without a word when a
    -shm beside it lets it (a kill -9 leaves one), and that connection stays read-only once the disk is writable
    again — every acknowledgement and event refused for the rest of the run (review42)."""
    directory = path.parent
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return OSError(errno.EROFS, os.strerror(errno.EROFS), str(directory))
    except OSError as exc:
        return exc
    for part in (directory, path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if part.exists() and not os.access(part, os.W_OK):
            return OSError(errno.EACCES, os.strerror(errno.EACCES), str(part))
    return None


def rows_read_only(path: Path) -> list[tuple]:
    """The (created, alert_id, seq, kind, payload) rows of an outbox the agent cannot open for writing (its
    directory on a read-only file system, an SD card remounted so; or not this user's to write: review42),
    read without writing anything: with its write-ahead log when a kill -9 left one (SQLite reads it read-only
    beside the -shm left with it), else the file alone (`immutable`: on a read-only file system SQLite can make
    no -shm, and a WAL-mode file with none is refused). Its drop counts are not taken: they stay in the file."""
    wal = Path(f"{path}-wal")
    rows: list[tuple] = []
    if wal.exists() and wal.stat().st_size > WAL_HEADER_BYTES:
        rows, _ = rows_in(f"file:{path}?mode=ro", lambda reason, n: None)
    return rows or rows_in(f"file:{path}?immutable=1", lambda reason, n: None)[0]


def rows_in(uri: str, count: Count) -> tuple[list[tuple], int | None]:
    """The (created, alert_id, seq, kind, payload) rows readable in the database at `uri`, oldest first
    (the first bad page ends them), and how many it says it holds (None: it cannot say); its drop
    counts added to the outbox's (`count`)."""
    rows: list[tuple] = []
    held: int | None = None
    try:
        db = sqlite3.connect(uri, uri=uri.startswith("file:"), isolation_level=None)
        try:
            try:
                held = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            except sqlite3.Error:
                pass
            try:                        # the drop counts so far stay counted
                for reason, n in db.execute("SELECT reason, count FROM drops").fetchall():
                    count(reason, n)
            except sqlite3.Error:
                pass
            try:
                cur = db.execute("SELECT created, alert_id, seq, kind, payload FROM events ORDER BY id")
                for row in cur:         # rows before the damage come out; the first bad page ends it
                    rows.append(row)
            except sqlite3.Error:
                pass
        finally:
            db.close()
    except sqlite3.Error:
        pass
    return rows, held


def move_aside(path: Path) -> Path | None:
    """The outbox's files renamed to `<file>.corrupt-<UTC time>` (its -wal and -shm with it); None,
    logged, when they cannot be."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        for suffix in ("-wal", "-shm", ""):
            part = Path(f"{path}{suffix}")
            if part.exists():
                part.replace(Path(f"{aside}{suffix}"))
    except OSError as exc:
        log.error("outbox %s is corrupt and cannot be moved aside (%s)", path, exc.strerror or exc)
        return None
    forget_old_aside(path)
    return aside


def forget_old_aside(path: Path) -> None:
    """Remove the corrupt outboxes moved aside beyond the newest CORRUPT_KEPT (with their -wal and -shm;
    the UTC stamp in the name orders them), each removal logged."""
    stamps = sorted({p.name.split(".corrupt-", 1)[1].split("-", 1)[0]
                     for p in path.parent.glob(f"{path.name}.corrupt-*")})
    for stamp in stamps[:-CORRUPT_KEPT]:
        old = path.with_name(f"{path.name}.corrupt-{stamp}")
        try:
            for suffix in ("-wal", "-shm", ""):
                Path(f"{old}{suffix}").unlink(missing_ok=True)
        except OSError as exc:
            log.warning("outbox: cannot remove %s, an older corrupt outbox (%s)", old.name, exc.strerror or exc)
            continue
        log.warning("outbox: removed %s, the oldest corrupt outbox moved aside (the newest %d are kept)",
                    old.name, CORRUPT_KEPT)


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether SQLite's error says the file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB), not that storing failed."""
    code = getattr(exc, "sqlite_errorcode", None)       # Python >= 3.11
    if code is not None:
        return (code & 0xFF) in CORRUPT_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text
