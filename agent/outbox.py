"""A durable queue of alert and fault events waiting for the broker's acknowledgement: SQLite in WAL mode.

Every event is committed here before it is handed to the MQTT client and deleted only when the
broker acknowledges it, so a broker outage, a restart or a kill -9 loses nothing. Rows keep
their insertion order (AUTOINCREMENT ids are never reused).

The outbox is bounded by `max_events` and `max_age_s`. Over the count bound, events of alerts
that have already ended go first, oldest first; only then the oldest events of the alert still
open. Events handed to the client and not yet acknowledged are never dropped. Every drop is
counted by reason, persisted, and logged. Fault events (`kind` fault / fault_end, keyed by their
fault_id) share the queue and its order; for the count bound they count as ended.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger("stad.outbox")

FAULT_KINDS = ("fault", "fault_end")

EXPIRE_EVERY_S = 10.0      # how often add() looks for events older than max_age_s
LOG_FIRST_DROPS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    created  REAL    NOT NULL,
    alert_id TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    payload  TEXT    NOT NULL,
    replay   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_created ON events (created);
CREATE TABLE IF NOT EXISTS drops (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class StoredEvent:
    id: int
    alert_id: str
    seq: int
    payload: str
    replay: bool       # stored while the broker was unreachable, or already sent once before
    kind: str = "new"  # new | update | end | fault | fault_end

    @property
    def is_fault(self) -> bool:
        return self.kind in FAULT_KINDS


class Outbox:
    def __init__(self, path: str | Path, max_events: int, max_age_s: float, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_events = max_events
        self.max_age_s = max_age_s
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives a power cut too, not only a crash; alerts are rare enough.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._handed: set[int] = set()
        self._open_alert: str | None = None     # the alert whose end has not been seen yet
        self._next_expiry = 0.0
        self.dropped: dict[str, int] = dict(self._db.execute("SELECT reason, count FROM drops"))
        # Whatever a previous run left was not acknowledged: it goes out again as a replay.
        self.requeue()
        with self._lock:
            self.recovered = self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            self._depth = self.recovered
            self._expire(force=True)

    # -- writing ---------------------------------------------------------------------------------

    def add(self, alert_id: str, seq: int, kind: str, payload: str, replay: bool = False) -> int:
        """Commit one event; returns its row id. Enforces the bounds afterwards."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO events (created, alert_id, seq, kind, payload, replay) VALUES (?, ?, ?, ?, ?, ?)",
                (self.clock(), alert_id, seq, kind, payload, int(replay)))
            self._depth += 1
            if kind in FAULT_KINDS:
                pass
            elif kind == "end":
                if self._open_alert == alert_id:
                    self._open_alert = None
            else:
                self._open_alert = alert_id
            self._expire()
            if self._depth > self.max_events:
                self._drop_oldest(self._depth - self.max_events)
            return cur.lastrowid

    def ack(self, row_id: int) -> None:
        """The broker has it: forget it."""
        with self._lock:
            self._handed.discard(row_id)
            cur = self._db.execute("DELETE FROM events WHERE id = ?", (row_id,))
            self._depth -= cur.rowcount

    # -- sending ---------------------------------------------------------------------------------

    def pending(self, after: int = 0, limit: int = 100) -> list[StoredEvent]:
        """Events with an id above `after`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, alert_id, seq, payload, replay, kind FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit)).fetchall()
        return [StoredEvent(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    def handed(self, row_id: int) -> None:
        """The event went to the client; until acknowledged, the bounds leave it alone."""
        with self._lock:
            self._handed.add(row_id)

    def requeue(self) -> None:
        """The connection went away: everything not acknowledged goes out again, as a replay."""
        with self._lock:
            self._db.execute("UPDATE events SET replay = 1 WHERE replay = 0")
            self._handed.clear()

    # -- bounds ----------------------------------------------------------------------------------

    def _expire(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now < self._next_expiry:
            return
        self._next_expiry = now + EXPIRE_EVERY_S
        ids = [r[0] for r in self._db.execute("SELECT id FROM events WHERE created < ? ORDER BY id",
                                              (now - self.max_age_s,)) if r[0] not in self._handed]
        self._delete(ids, "max_age")

    def _drop_oldest(self, n: int) -> None:
        ended = self._oldest_unhanded("alert_id IS NOT ?", (self._open_alert,), n)
        still_open = self._oldest_unhanded("alert_id IS ?", (self._open_alert,), n - len(ended)) \
            if len(ended) < n else []
        self._delete(ended + still_open, "max_events")

    def _oldest_unhanded(self, where: str, params: tuple, n: int) -> list[int]:
        rows = self._db.execute(f"SELECT id FROM events WHERE {where} ORDER BY id LIMIT ?",
                                params + (n + len(self._handed),))
        return [r[0] for r in rows if r[0] not in self._handed][:n]

    def _delete(self, ids: list[int], reason: str) -> None:
        if not ids:
            return
        self._db.execute("BEGIN")
        self._db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in ids])
        total = self.dropped.get(reason, 0) + len(ids)
        self._db.execute("INSERT INTO drops (reason, count) VALUES (?, ?) "
                         "ON CONFLICT (reason) DO UPDATE SET count = excluded.count", (reason, total))
        self._db.execute("COMMIT")
        self.dropped[reason] = total
        self._depth -= len(ids)
        if total <= LOG_FIRST_DROPS or total % 1000 < len(ids):
            limit = f"max_events {self.max_events}" if reason == "max_events" else f"max_age_s {self.max_age_s:g}"
            log.warning("outbox %s reached: dropped %d alert event(s), %d dropped for this reason so far",
                        limit, len(ids), total)

    # -- state -----------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def in_flight(self) -> int:
        return len(self._handed)

    def close(self) -> None:
        with self._lock:
            self._db.close()
