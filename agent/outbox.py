"""A durable queue of alert and fault events waiting for the broker's acknowledgement: SQLite in WAL mode.

Every event is committed here before it is handed to the MQTT client and deleted only when the
broker acknowledges it, so a broker outage, a restart or a kill -9 loses nothing. Rows keep
their insertion order (AUTOINCREMENT ids are never reused).

Durability (`outbox.sync`): an event is on disk when add() returns, whatever the setting — its commit
syncs the WAL (SQLite's synchronous=FULL for that transaction; the rows held while storing fails are
stored the same way, before the held file forgets them): a power cut must not take an event the outbox
said it stored. Until chaos9 (7 Dec 2026) `normal` left that commit in the page cache, and a power cut
lost the events committed since the last checkpoint (about one second; the journals had the last one).
`normal` (the default) is SQLite's synchronous=NORMAL in WAL mode for every other commit — an
acknowledgement's delete, a drop, the replay marks: a power cut may lose the last second of them, so an
acknowledged event can be sent again after it (as a replay: at least once, never lost). `full` syncs
those too — a disk sync in every ack() as well. Checkpoints never run inside add(): the sink's worker
runs them (`checkpoint()`, on its own connection), and the WAL file is truncated back to
`WAL_SIZE_LIMIT` after each one, so the WAL stays bounded.

The outbox is bounded by `max_events` and `max_age_s`. Over the count bound, events of alerts
that have already ended go first, oldest first; only then the oldest events of the alert still
open. Events handed to the client and not yet acknowledged are never dropped. Every drop is
counted by reason, persisted, and logged: `max_events`, `max_age` (an event's age does not jump with a step
of this host's clock while the agent runs: `_now`), `refused` (the broker
answered with a failure, see drop()), `not_stored` (the disk could not take it). Fault events
(`kind` fault / fault_end, keyed by their fault_id) share the queue and its order; for the
count bound they count as ended.

When storage fails (disk full, I/O error, the file cannot even be created at start) the agent
goes on: an event that cannot be committed is held in memory — at most `max_events`, the oldest
beyond it counted as `max_events`; `held` in stats() — one line is logged when storing starts
failing and one when it works again, and every add() tries again, storing the held events first,
in their order, as replays — so it recovers by itself when space returns and the broker still
gets every event. (Counting them as dropped at once, as before, lost every alert raised while a
full disk lasted, even when the agent ran on until space returned.) Held events are sent from
memory meanwhile: pending() gives them after the stored ones, under ids above any SQLite row id
(HELD_ID_BASE), and an acknowledged one is forgotten, never stored — a full state disk must not keep
an incident from a control room whose broker is up (before, held events waited for space or the next
start). When held events are stored after all, `held_moved` counts it: the sink starts again from the
oldest stored event, and what it had in flight goes out again as replays. Held events are also kept in
`<file>.held` (agent/held_file.py: space reserved while the disk had room), so a stop, a crash or a
kill -9 on the still-full disk loses none that fit: the next start stores them and counts the rest
as `not_stored`. Only without a held file (a disk full before it could be made) are events still
held at a stop counted as `not_stored` then (the JSONL sink, on another disk, keeps its copy). An acknowledgement that cannot be written is remembered and
written later; the event is not sent again meanwhile.

The newest settled seq of each of the last SETTLED_KEPT alert and fault ids is kept (`settled`, written with the
DELETE that lets the row go): settled is acknowledged by the broker, or dropped and counted (`refused`, `max_age`,
`max_events`, `corrupt`). A start's `recover` of the journals' last events (agent/journal_resume.py) stores only an
event never stored: an acknowledged row is gone from `events`, and the sink stored it again as a replay — a subscriber
got the last event a second time after every restart, a clean stop with the broker up included (user33; qa50); a
dropped one was counted and said as dropped, then stored again by the next start and sent once more (refused once
more, or sent though its bound had let it go; qa51). Events still held in memory at a stop without a held file are
counted `not_stored` and not settled: never stored, which is what the journal's recovery is for.

A file SQLite finds corrupt at start (a power cut on an SD card, a disk error) would refuse every
event for good — waiting does not mend it. So it is moved aside (`<file>.corrupt-<UTC time>`, with
its -wal and -shm; agent/outbox_salvage.py), the events still readable in it are copied into a new outbox as replays, and
the error line says how many were saved and where the rest can be looked for; the events that
could not be read are counted as `corrupt` (when SQLite can still count them). When the new
outbox cannot be created or cannot take them (the disk that corrupted it is full), the saved
events are held in memory — at most `max_events`, the oldest beyond it counted as `max_events`;
`held` in stats() — and stored by the first open that works; the ones still held when the agent
stops are counted as `not_stored` (the file moved aside keeps them).

A file a power cut emptied (shorter than SQLite's header) beside a write-ahead log that holds frames
is no new outbox: SQLite would take it for one and delete the log, the events committed since the last
checkpoint with it, without a word (review22). The log is read over a new database of this schema, the
events in it go out again as replays, and the files are moved aside the same way.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Callable, Literal

from . import outbox_salvage as salvage
from .held_file import HeldFile
from .host_clock_step import HOST_CLOCK_STEP_S, ClockStepWatch, boot_id, since_boot
log = logging.getLogger("stad.outbox")

FAULT_KINDS = ("fault", "fault_update", "fault_end")

EXPIRE_EVERY_S = 10.0      # how often add() looks for events older than max_age_s
LOG_FIRST_DROPS = 5
WAL_SIZE_LIMIT = 1 << 20   # bytes the WAL file is truncated back to after a checkpoint
SYNC_MODES = {"normal": "NORMAL", "full": "FULL"}
HELD_ID_BASE = 1 << 62   # ids pending() gives held events: above any SQLite row id, in their order
SETTLED_KEPT = 1024      # alert and fault ids whose newest settled seq is remembered (`settled`)
# the newest settled seq of a settled (acknowledged or dropped) stored row's alert (or fault) id; `?`s: n, the row id
_SETTLED_ROW = ("INSERT INTO settled (alert_id, seq, n) SELECT alert_id, seq, ? FROM events WHERE id = ? "
                "ON CONFLICT (alert_id) DO UPDATE SET seq = MAX(seq, excluded.seq), n = excluded.n")
_SETTLED = ("INSERT INTO settled (alert_id, seq, n) VALUES (?, ?, ?) "
            "ON CONFLICT (alert_id) DO UPDATE SET seq = MAX(seq, excluded.seq), n = excluded.n")
_LIMITS = {"max_events": "max_events {max_events}", "max_age": "max_age_s {max_age_s:g}"}

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
CREATE TABLE IF NOT EXISTS settled (alert_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS clock (id INTEGER PRIMARY KEY CHECK (id = 1), wall REAL NOT NULL, boot REAL NOT NULL,
                                  boot_id TEXT);
"""


def _events_named(rows: list[tuple], shown: int = 3) -> str:
    """Which events (created, alert_id, seq, kind, payload) rows are, for a line: the first `shown` by id and seq."""
    named = ", ".join(f"{r[3]} {r[1]} #{r[2]}" for r in rows[:shown])
    return named + (f" and {len(rows) - shown} more" if len(rows) > shown else "")


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

    @property
    def held(self) -> bool:
        """Held in memory (the file could not take it), not stored: its id is from HELD_ID_BASE up."""
        return self.id >= HELD_ID_BASE


class Outbox:
    def __init__(self, path: str | Path, max_events: int, max_age_s: float,
                 sync: Literal["normal", "full"] = "normal", clock: Callable[[], float] = time.time,
                 boot_clock: Callable[[], float] | None = None, boot: str | None = None):
        """`clock`: the wall clock events are stamped with; `boot_clock`: one no step moves, that tells a step
        of the wall clock (ClockStepWatch) so that an event's age does not jump with it (review41); None: CLOCK_BOOTTIME.
        `boot`: this boot's id (None: the kernel's), which tells whether `boot_clock` ran on since the file's last
        commit (`_down_step`, review42)."""
        self.path = Path(path)
        self.max_events = max_events
        self.max_age_s = max_age_s
        self.sync = SYNC_MODES[sync]
        self.clock = clock
        self._clock_steps = ClockStepWatch(boot_clock=boot_clock or since_boot)
        self.boot = boot if boot is not None else boot_id()
        self._stepped = 0.0                     # the wall clock's steps this life (s): `_next_expiry`'s terms
        self._unshifted = 0.0                   # of which the stored rows' `created` has not been moved by yet
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._checkpoint_db: sqlite3.Connection | None = None    # the sink worker's own connection
        self._handed: set[int] = set()
        self._acked: set[int] = set()           # acknowledged, the DELETE not written yet
        self._settled_unsaved: dict[str, int] = {}      # held events settled: id -> seq, for `settled`
        self._settled_last = 0                  # the newest ordinal `n` in `settled` (read at the open)
        self._open_alert: str | None = None     # the alert whose end has not been seen yet
        self._next_expiry = 0.0
        self._depth = 0
        self._writes = 0                        # commits since the last checkpoint
        self._drops_unsaved = False
        self.dropped: dict[str, int] = {}
        # this life's drops alone (`dropped` adds the counts persisted by earlier lives): the stop summary's
        self.dropped_this_run: dict[str, int] = {}
        self.recovered = 0
        self._held: list[tuple] = []            # rows waiting for a file to take them (saved from a corrupt
        self._held_said = False                 # outbox, or added while storing failed); the line saying so
        self._held_ids: list[int] = []          # each held row's id for pending() (HELD_ID_BASE and up)
        self._held_replay: set[int] = set()     # held rows that go out as replays
        self._next_held_id = HELD_ID_BASE
        self.held_moved = 0                     # times held rows were stored (their ids changed)
        self._quarantined = False               # a corrupt outbox was moved aside this life
        # held rows read from a file that could not be opened for writing (a read-only state dir): held id ->
        # (alert_id, seq, kind); the file keeps them, so they are never stored again nor counted as lost
        self._in_file: dict[int, tuple[str, int, str]] = {}
        self._file_read = False                 # that file was read this life
        # of those, the rows memory's bound (max_events) left to their file, not held: (how many, the oldest's created)
        self._left_in_file, self._left_oldest = 0, None
        self._held_file = HeldFile(Path(f"{self.path}.held"))     # the held rows, kept where a kill -9 leaves them
        self._held_bounded = 0                  # held rows dropped for max_events, not counted on disk yet
        self._held_not_stored = 0               # a previous run's lost events (its held file), not on disk yet
        self.problem: str | None = None         # why storing fails now; None while it works
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass                            # said by the open that follows
            if not self._held_file.reserve():   # at the start, before a full disk needs it (check-config says so)
                log.error("outbox %s: cannot reserve %s (%s): on a full disk, events held in memory are lost "
                          "without a count by a kill -9", self.path, self._held_file.path.name, self._held_file.problem)
            self._take_held_file()
            self._now()                         # the wall clock's first look: a step is told from here on
            self._first_look = self._clock_steps.seen
            if self._open():
                self._expire(force=True)

    # -- the clock -------------------------------------------------------------------------------------

    def _now(self) -> float:
        """The wall clock now, its step since the last look taken out of the waiting events' ages: held rows
        moved by it at once, stored rows by a commit at once (`_run`; on a disk that refuses it, by the next one
        that works, and until then `_unshifted` says by how much).
        A clock stepped forward by more than max_age_s (a gateway with no RTC set by NTP) dropped every waiting
        event as `max_age`; stepped back, kept them past it. Never called inside a transaction. Caller holds
        the lock. A step while the agent is down is not seen: ages across a restart are the wall clock's."""
        wall = self.clock()
        step = self._clock_steps.look(wall)
        if step is not None:
            self._stepped += step
            self._unshifted += step
            self._held = [(row[0] + step, *row[1:]) for row in self._held]
            if self._left_oldest is not None:
                self._left_oldest += step
            if self._db is not None:
                self._run(lambda db: None)      # the stored rows moved now: a kill -9 would leave them aged
        return wall

    # -- storage that may fail ---------------------------------------------------------------------

    def _open(self) -> bool:
        """Open (or create) the database; False, logged once, when the disk does not allow it. A file
        SQLite finds corrupt is moved aside and replaced by a new one holding what could be read."""
        if self._db is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass                                # said by `unwritable`'s answer, below
        refused = salvage.unwritable(self.path)     # (a file it cannot write can be neither moved aside nor opened)
        if refused is None and salvage.cut_short(self.path):
            self._hold_salvaged(*salvage.salvage_wal(self.path, _SCHEMA, self._count))
        elif refused is None and self.path.exists() and not salvage.readable(self.path):
            self._hold_salvaged(*salvage.quarantine(self.path, self._count))
        try:
            if refused is not None:
                raise refused
            db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA synchronous={self.sync}")
                db.execute("PRAGMA wal_autocheckpoint=0")       # checkpoint() runs them, off the tick path
                db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
                db.executescript(_SCHEMA)
                stored = dict(db.execute("SELECT reason, count FROM drops"))
                depth = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
                last_commit = db.execute("SELECT wall, boot, boot_id FROM clock WHERE id = 1").fetchone()
                self._settled_last = db.execute("SELECT COALESCE(MAX(n), 0) FROM settled").fetchone()[0]
            except BaseException:
                db.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            if not self._file_read and self.path.exists():
                self._file_read = True
                self._hold_unwritable(salvage.rows_read_only(self.path))
            self._say_held()
            return False
        self._db = db
        self._held_file.reserve()               # while the disk has room: what a full disk will need
        for reason, count in stored.items():    # counted while the file could not be opened: added on top
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        self._depth = self.recovered = depth
        if depth and (step := self._down_step(last_commit)):
            self._unshifted += step             # the rows moved by it with the commit below
            log.warning("outbox %s: this host's clock stepped %+.0f s while the agent was down (against the boot "
                        "clock): the %d waiting event(s) keep the age they waited, not the clock's", self.path,
                        step, depth)
        # After the step is known: its commit moves the file's rows before the events held this life go in
        # (settled first, they were moved by it too: aged by the step; qa48).
        self._settle_in_file()
        if self._holding:
            self._store_held()
        if depth:
            # Whatever a previous run left was not acknowledged: it goes out again as a replay.
            self._run(lambda db: db.execute("UPDATE events SET replay = 1 WHERE replay = 0"))
        return True

    def _hold_salvaged(self, rows: list[tuple], aside: Path | None) -> None:
        """The rows read from a damaged file (agent/outbox_salvage.py), held to go out again as replays; whether
        its files were moved aside (the stop's line names them while their events are still held)."""
        self._quarantined = self._quarantined or aside is not None
        self._hold(rows, replay=True)

    def _down_step(self, last_commit: tuple | None) -> float:
        """The wall clock's step between the file's last commit (`clock`: the wall and boot clocks then, and the
        boot's id) and this life's first look, which the waiting events' `created` must move by for their age to
        be the time they waited (review42; review41 took out a step while the agent runs). The same boot: exact,
        the boot clock ran on meanwhile. Another boot (or none known): the wall clock is trusted — a gateway may
        be off for weeks — unless it went back further than this boot's uptime allows (a gateway with no RTC
        that came up with an old time): then the events aged by this boot's uptime only. No boot id (a host
        that hides /proc/sys/kernel/random/boot_id; qa48): the same rule with the least the agent was down —
        the boot clock's run since the commit, or this boot's uptime when the boot clock went back (another boot
        for certain); before, every restart there counted as a reboot and aged its events by the whole uptime.
        0 under a step's least."""
        if last_commit is None or self._first_look is None:
            return 0.0
        wall_then, boot_then, boot_then_id = last_commit
        wall, boot = self._first_look
        if self.boot is not None and boot_then_id == self.boot:
            step = (wall - wall_then) - (boot - boot_then)
        elif self.boot is None or boot_then_id is None:
            step = min(0.0, (wall - wall_then) - (boot - boot_then if boot >= boot_then else boot))
        else:
            step = min(0.0, (wall - wall_then) - boot)
        return step if abs(step) > HOST_CLOCK_STEP_S else 0.0

    def _hold_unwritable(self, rows: list[tuple]) -> None:
        """The events waiting in a file that cannot be opened for writing (review42: a state dir on a read-only
        file system; before, they waited unsent until it could): held to go out as replays, the file keeping
        them — an acknowledged one is deleted from it once it opens (`_settle_in_file`)."""
        if not rows:
            return
        self._hold(rows, replay=True, in_file=True)
        log.error("outbox %s cannot be opened for writing: the %d event(s) waiting in it are read from it and sent "
                  "now, as replays; the file keeps them until it can be written", self.path, len(rows))

    def _settle_in_file(self) -> None:
        """The file read while it could not be written opens now: its rows still held are not held any more
        (it has them), and those the broker acknowledged (or refused) meanwhile are deleted from it."""
        if self._left_in_file:
            log.warning("outbox %s can be written again: the %d event(s) left in it while memory held max_events "
                        "are sent from it now", self.path, self._left_in_file)
        self._left_in_file, self._left_oldest = 0, None     # counted in `_depth` now, with the file's rows
        if not self._in_file:
            return
        in_file, self._in_file = self._in_file, {}
        keep = [i not in in_file for i in self._held_ids]
        still = set(self._held_ids)
        gone = [key for i, key in in_file.items() if i not in still]
        self._held_replay.difference_update(in_file)
        self._handed.difference_update(in_file)
        self._held = [r for r, k in zip(self._held, keep) if k]
        self._held_ids = [i for i, k in zip(self._held_ids, keep) if k]
        deleted = self._run(lambda db: db.executemany(
            "DELETE FROM events WHERE alert_id = ? AND seq = ? AND kind = ?", gone).rowcount) if gone else 0
        self._depth -= deleted or 0

    def _hold(self, rows: list[tuple], replay: bool, in_file: bool = False) -> None:
        """Keep (created, alert_id, seq, kind, payload) rows until a file takes them (sent meanwhile,
        as replays if `replay`), at most max_events of them (`_bound_held`). `in_file`: read from a file that
        cannot be written, which keeps them (`_in_file`)."""
        ids = list(range(self._next_held_id, self._next_held_id + len(rows)))
        self._next_held_id += len(rows)
        if replay:
            self._held_replay.update(ids)
        if in_file:
            self._in_file.update((i, (r[1], r[2], r[3])) for i, r in zip(ids, rows))
        self._held, self._held_ids = self._held + rows, self._held_ids + ids
        if len(self._held) > self.max_events:
            self._bound_held(len(self._held) - self.max_events)
        self._keep_held(sync=True)      # the only copy on disk of an event add() could not store: synced (chaos9)

    def _bound_held(self, over: int) -> None:
        """Memory holds at most max_events events: `over` of them go. First the rows read from a file that could not
        be written (a read-only state dir): that file keeps them, so they are left to it — no drop, sent once it
        opens (or by the next start); before (qa49), they were counted as dropped, deleted from the file once it
        opened, and at a stop while read-only sent again by the next start after all. Then the rows held in memory
        alone, as the outbox's bound drops stored ones (`_drop_oldest`): ended alerts' and fault events first, oldest
        first, then the open alert's; never one handed to the client (before, the oldest whatever they were, a
        handed one counted as dropped though the broker acknowledged it). Dropped: counted `max_events`, said."""
        free = [(i, r) for i, r in zip(self._held_ids, self._held) if i not in self._handed]
        left = {i for i, _ in free if i in self._in_file}
        left = set(sorted(left)[:over])
        dropped = []
        if over > len(left):
            alone = [(i, r) for i, r in free if i not in left]
            ended = [(i, r) for i, r in alone if r[1] != self._open_alert]
            dropped = (ended + [(i, r) for i, r in alone if r[1] == self._open_alert])[:over - len(left)]
        gone = left | {i for i, _ in dropped}
        if not gone:
            return
        if left:
            oldest = min(r[0] for i, r in free if i in left)
            self._left_oldest = oldest if self._left_oldest is None else min(self._left_oldest, oldest)
            if not self._left_in_file:
                log.warning("outbox %s: memory holds at most max_events %d events while the file cannot be written: "
                            "the oldest of the events read from it are left in it (not dropped: sent from it once it "
                            "can be written, or by the next start), %d now", self.path, self.max_events, len(left))
            self._left_in_file += len(left)
            for i in left:
                del self._in_file[i]
        keep = [i not in gone for i in self._held_ids]
        self._held = [r for r, k in zip(self._held, keep) if k]
        self._held_ids = [i for i, k in zip(self._held_ids, keep) if k]
        self._held_replay.difference_update(gone)
        if dropped:
            self._settle_held([r for _, r in dropped])
            self._count("max_events", len(dropped))
            self._held_bounded += len(dropped)
            self._say_dropped("max_events", len(dropped), " held in memory alone (the file cannot take them: "
                              f"{self.problem or 'not open'}) — " + _events_named([r for _, r in dropped]))

    def _keep_held(self, sync: bool = False) -> None:
        """The held rows and counts into the held file, as they are now (not those their own file keeps); `sync`: on
        disk before it returns (new rows), else as `outbox.sync` says."""
        self._held_file.write(self._own_held(), self._held_bounded, sync=sync or self.sync == "FULL",
                              not_stored=self._held_not_stored, settled=self._settled_unsaved)

    def _own_held(self) -> list[tuple]:
        """The held rows no file keeps (not those read from a file that could not be written)."""
        if not self._in_file:
            return self._held
        return [r for i, r in zip(self._held_ids, self._held) if i not in self._in_file]

    def _forget_held(self, row_ids: set[int], reason: str | None = None) -> None:
        """Held rows the broker has (or refused: counted under `reason`): never stored; settled."""
        keep = [i not in row_ids for i in self._held_ids]
        gone = len(keep) - sum(keep)
        self._settle_held([r for r, k in zip(self._held, keep) if not k])
        self._handed.difference_update(row_ids)
        self._held_replay.difference_update(row_ids)
        if not gone:
            return                              # stored meanwhile: the stored copies are sent again
        self._held = [r for r, k in zip(self._held, keep) if k]
        self._held_ids = [i for i, k in zip(self._held_ids, keep) if k]
        if reason is not None:
            self._count(reason, gone)
        self._keep_held()

    @property
    def _holding(self) -> bool:
        """Rows held, or counts of lost ones that only the held file has: both wait for a file."""
        return bool(self._held or self._held_bounded or self._held_not_stored)

    def _take_held_file(self) -> None:
        """The rows a previous run held in memory when it died (kill -9, power cut) on a full disk,
        from the held file: held again (stored by the open that follows), and the ones it could not
        keep counted, so that a subscriber reading health learns alerts were lost."""
        try:
            rows, not_kept, bounded, settled = self._held_file.read_all()
        except ValueError as exc:
            log.error("outbox %s: the held file %s, where the last run kept the events it could not store, is "
                      "unusable: %s; those events are lost (how many is unknown)", self.path, self._held_file.path,
                      exc)
            self._held_file.clear()
            return
        for key, seq in settled.items():        # settled while the disk was full: `settled` by the next commit
            if self._settled_unsaved.get(key, -1) < seq:
                self._settled_unsaved[key] = seq
        if not (rows or not_kept or bounded):
            return
        for reason, n in (("not_stored", not_kept), ("max_events", bounded)):
            if n:
                self._count(reason, n)
        # Counted in memory only: the file keeps them until a commit stores them, so that a second
        # kill -9 before the disk takes anything loses neither the rows nor their counts.
        self._held_not_stored, self._held_bounded = not_kept, bounded
        self._hold(rows, replay=True)
        lost = ", ".join(f"{reason} {n}" for reason, n in (("not_stored", not_kept), ("max_events", bounded)) if n)
        log.error("outbox %s: the last run stopped without storing %d event(s) it held in memory (its disk was "
                  "full); %d kept in %s are sent now, as replays%s", self.path, len(rows) + not_kept + bounded,
                  len(rows), self._held_file.path.name,
                  f"; {not_kept + bounded} did not fit and are lost (counted as {lost})" if lost else "")

    def _store_held(self) -> None:
        """The held rows into the open file, as replays; kept held when it refuses them."""
        held, self._held = self._held, []
        ids, self._held_ids = self._held_ids, []
        counts = self._held_bounded, self._held_not_stored          # stored with the rows, in one commit
        self._held_bounded = self._held_not_stored = 0
        self._drops_unsaved = self._drops_unsaved or any(counts)
        added = self._run(lambda db: len(held) and db.executemany(
            "INSERT INTO events (created, alert_id, seq, kind, payload, replay) VALUES (?, ?, ?, ?, ?, 1)",
            held).rowcount, events=True)       # (on disk before the held file forgets them)
        if added is None:
            self._held, self._held_ids = held, ids
            self._held_bounded, self._held_not_stored = counts
            self._say_held()
            return
        self._handed.difference_update(ids)
        self._held_replay.clear()
        if held:
            self.held_moved += 1
        self._depth += added
        self.recovered += added
        self._held_file.clear(sync=self.sync == "FULL")
        if self._held_said and added:       # (none: the broker had them all; `_worked` says the storing)
            log.warning("outbox %s: the %d event(s) held in memory are stored now", self.path, added)
        self._held_said = False

    def _say_held(self) -> None:
        """One line when held events cannot be stored yet: they wait in memory, not on the disk."""
        if self._held and not self._held_said:
            log.error("outbox %s: %d event(s) cannot be stored yet; they are held in memory (at most max_events "
                      "%d) and stored when the outbox works again", self.path, len(self._held), self.max_events)
            self._held_said = True

    def _failed(self, exc: BaseException) -> None:
        problem = str(exc) if isinstance(exc, sqlite3.Error) else (exc.strerror or str(exc))
        if problem != self.problem:
            log.error("outbox %s: cannot store alert events (%s); each one that cannot be kept is held in "
                      "memory (at most max_events %d), sent from memory meanwhile, and stored when it works "
                      "again unless the broker has them by then", self.path, problem, self.max_events)
        self.problem = problem

    def _worked(self) -> None:
        if self.problem is not None:
            log.warning("outbox %s: storing alert events again", self.path)
            self.problem = None

    def _run(self, work: Callable[[sqlite3.Connection], object], events: bool = False):
        """work(db) in one transaction, with any unsaved drop counts; None (logged, rolled back) when
        the disk refuses it. `events`: the transaction stores events — synced to disk before it returns whatever
        `sync` says (a power cut must not take an event the outbox said it stored: chaos9). Caller holds the lock."""
        if not self._open():
            return None
        if self._holding:
            self._store_held()
        db = self._db
        shift = self._unshifted
        synced = events and self.sync != "FULL"
        try:
            if synced:
                db.execute("PRAGMA synchronous=FULL")   # this commit's WAL frames fsync'd before COMMIT returns
            db.execute("BEGIN")
            if shift:               # the wall clock's step (`_now`), with this commit
                db.execute("UPDATE events SET created = created + ?", (shift,))
            result = work(db)
            if self._clock_steps.seen is not None:      # the clocks at the look the rows' `created` are in terms of
                db.execute("INSERT INTO clock (id, wall, boot, boot_id) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                           "SET wall = excluded.wall, boot = excluded.boot, boot_id = excluded.boot_id",
                           (*self._clock_steps.seen, self.boot))
            if self._settled_unsaved:
                n = self._settled_n(db)
                db.executemany(_SETTLED, [(k, seq, n) for k, seq in self._settled_unsaved.items()])
            if self._drops_unsaved:
                db.executemany("INSERT INTO drops (reason, count) VALUES (?, ?) ON CONFLICT (reason) "
                               "DO UPDATE SET count = excluded.count", list(self.dropped.items()))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            self._failed(exc)
            return None
        finally:
            if synced:
                try:
                    db.execute(f"PRAGMA synchronous={self.sync}")
                except sqlite3.Error:
                    pass
        self._unshifted -= shift
        self._settled_unsaved.clear()
        if self._drops_unsaved and (self._held_bounded or self._held_not_stored):
            # The counts the held file carried are in the drops table now: carried on, they would be
            # counted twice by the next start.
            self._held_bounded = self._held_not_stored = 0
            self._held_file.write(self._own_held(), 0, sync=self.sync == "FULL")
        self._drops_unsaved = False
        self._writes += 1
        self._worked()
        return result

    # -- writing ---------------------------------------------------------------------------------

    def add(self, alert_id: str, seq: int, kind: str, payload: str, replay: bool = False) -> int | None:
        """Commit one event; its row id, or None when it could not be stored (held: see the module's docstring)."""
        return self.add_many([(alert_id, seq, kind, payload, replay)])[0]

    def add_many(self, events: list[tuple[str, int, str, str, bool]]) -> list[int | None]:
        """Commit (alert_id, seq, kind, payload, replay) events in one transaction — one disk sync however many: a
        tick's fault events, every sensor of a station's power cut (chaos9) —; their row ids, None for each held."""
        if not events:
            return []
        with self._lock:
            now = self._now()
            rows = self._run(lambda db: [db.execute(
                "INSERT INTO events (created, alert_id, seq, kind, payload, replay) VALUES (?, ?, ?, ?, ?, ?)",
                (now, alert_id, seq, kind, payload, int(replay))).lastrowid
                for alert_id, seq, kind, payload, replay in events], events=True)
            for alert_id, _, kind, _, _ in events:
                if kind in FAULT_KINDS:
                    pass            # a fault event neither opens nor ends an alert
                elif kind == "end":
                    if self._open_alert == alert_id:
                        self._open_alert = None
                else:
                    self._open_alert = alert_id
            if rows is None:                # held, in order: one held-file write (and sync) a run of like events
                for replay, run in groupby(events, key=lambda e: e[4]):
                    self._hold([(now, alert_id, seq, kind, payload) for alert_id, seq, kind, payload, _ in run],
                               replay=replay)
                self._held_said = True      # _failed said it
                return [None] * len(events)
            self._depth += len(rows)
            self._expire()
            if self._depth > self.max_events:
                self._drop_oldest(self._depth - self.max_events)
            return rows

    def has(self, alert_id: str, seq: int) -> bool:
        """Whether an event of this alert and seq is stored (or held) and not acknowledged."""
        with self._lock:
            if any(r[1] == alert_id and r[2] == seq for r in self._held):
                return True
            if self._db is None:
                return False
            try:
                rows = self._db.execute("SELECT id FROM events WHERE alert_id = ? AND seq = ?",
                                        (alert_id, seq)).fetchall()
            except sqlite3.Error as exc:
                self._failed(exc)
                return False
            return any(r[0] not in self._acked for r in rows)

    def settled(self, alert_id: str, seq: int) -> bool:
        """Whether this alert's (or fault's) event `seq` or a later one is settled: acknowledged by the broker, or
        dropped and counted (`_settle`)."""
        with self._lock:
            if self._settled_unsaved.get(alert_id, -1) >= seq:
                return True
            if self._db is None:
                return False
            try:
                row = self._db.execute("SELECT seq FROM settled WHERE alert_id = ?", (alert_id,)).fetchone()
            except sqlite3.Error as exc:
                self._failed(exc)
                return False
            return row is not None and row[0] >= seq

    def _settled_n(self, db: sqlite3.Connection) -> int:
        """The next ordinal of `settled` (a gap after a rolled-back transaction is harmless), whose rows past the
        newest SETTLED_KEPT ids are let go of now and then. Caller holds the lock, inside a transaction."""
        self._settled_last += 1
        n = self._settled_last
        if n % 64 == 0:
            db.execute("DELETE FROM settled WHERE alert_id NOT IN (SELECT alert_id FROM settled ORDER BY n DESC "
                       "LIMIT ?)", (SETTLED_KEPT,))
        return n

    def _settle(self, db: sqlite3.Connection, ids: list[int]) -> int:
        """Let stored rows go, acknowledged or dropped, their ids' newest seq kept in `settled` (in the caller's
        transaction): how many were deleted."""
        n = self._settled_n(db)
        db.executemany(_SETTLED_ROW, [(n, i) for i in ids])
        return db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in ids]).rowcount

    def _settle_held(self, rows: list[tuple]) -> None:
        """Held (created, alert_id, seq, ...) rows let go, acknowledged or dropped: `settled` by the next commit."""
        for r in rows:
            if self._settled_unsaved.get(r[1], -1) < r[2]:
                self._settled_unsaved[r[1]] = r[2]

    def ack(self, *row_ids: int) -> None:
        """The broker has them: forget them (one transaction for all)."""
        with self._lock:
            held = {i for i in row_ids if i >= HELD_ID_BASE}
            if held:
                self._forget_held(held)
                row_ids = tuple(i for i in row_ids if i < HELD_ID_BASE)
            for row_id in row_ids:
                self._handed.discard(row_id)
            self._acked.update(row_ids)
            self._flush_acks()

    def drop(self, row_id: int, reason: str) -> None:
        """Forget an event the broker answered with a failure; counted under `reason`."""
        with self._lock:
            if row_id >= HELD_ID_BASE:
                self._forget_held({row_id}, reason)
                return
            self._handed.discard(row_id)
            self._delete([row_id], reason)

    def _flush_acks(self) -> None:
        ids = list(self._acked)
        if not ids:
            return
        deleted = self._run(lambda db: self._settle(db, ids))
        if deleted is not None:
            self._acked.difference_update(ids)
            self._depth -= deleted

    # -- sending ---------------------------------------------------------------------------------

    def pending(self, after: int = 0, limit: int = 100, held_after: int = 0) -> list[StoredEvent]:
        """Stored events with an id above `after`, oldest first (acknowledged ones not yet deleted left
        out), then the held ones with an id above `held_after` (a stored event added once the held ones
        are gone has a lower id than theirs: a sink keeps the two cursors apart). Stored events past
        max_age_s are dropped first (counted), so none is sent older than the bound — also after an
        outage with no new event, and between add()'s looks every EXPIRE_EVERY_S."""
        with self._lock:
            rows = []
            if self._db is not None:
                now = self._now()           # first: a step it tells moves the rows read below
                rows = self._pending_rows(after, limit)
                cutoff = now - self._unshifted - self.max_age_s
                if any(r[6] < cutoff and r[0] not in self._handed for r in rows):
                    self._expire(force=True)
                    rows = self._pending_rows(after, limit)
            events = [StoredEvent(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]
            if len(events) < limit and self._held:
                events += [StoredEvent(i, r[1], r[2], r[4], i in self._held_replay, r[3])
                           for i, r in zip(self._held_ids, self._held) if i > held_after][:limit - len(events)]
        return events

    def expire(self) -> int:
        """Drop the stored events past max_age_s now (counted as `max_age`) and return how many: a sink about to
        say how many it sends applies the bound first, so the count it says is what goes out."""
        with self._lock:
            if self._db is None:
                return 0
            before = self.dropped_this_run.get("max_age", 0)
            self._expire(force=True)
            return self.dropped_this_run.get("max_age", 0) - before

    def _pending_rows(self, after: int, limit: int) -> list[tuple]:
        try:
            rows = self._db.execute(
                "SELECT id, alert_id, seq, payload, replay, kind, created FROM events WHERE id > ? ORDER BY id "
                "LIMIT ?", (after, limit + len(self._acked))).fetchall()
        except sqlite3.Error as exc:
            self._failed(exc)
            return []
        return [r for r in rows if r[0] not in self._acked][:limit]

    def handed(self, row_id: int) -> None:
        """The event went to the client; until acknowledged, the bounds leave it alone."""
        with self._lock:
            self._handed.add(row_id)

    def requeue(self) -> None:
        """The connection went away: everything not acknowledged goes out again, as a replay."""
        with self._lock:
            self._handed.clear()
            self._held_replay.update(self._held_ids)
            self._flush_acks()
            self._run(lambda db: db.execute("UPDATE events SET replay = 1 WHERE replay = 0"))

    def checkpoint(self) -> None:
        """Copy the WAL into the database and let the WAL restart (then truncated to WAL_SIZE_LIMIT).

        Called by the sink's worker thread, on its own connection, without the lock add() takes:
        a passive checkpoint never blocks a writer. A failure (disk full) is left for the next call.
        """
        if self._acked:                         # acknowledgements the disk refused before: try again
            with self._lock:
                self._flush_acks()
        if self._writes == 0 or self._db is None:
            return
        self._writes = 0
        try:
            if self._checkpoint_db is None:
                self._checkpoint_db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._checkpoint_db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            self._writes += 1
            log.debug("outbox checkpoint failed: %s", exc)

    # -- bounds ----------------------------------------------------------------------------------

    def _expire(self, force: bool = False) -> None:
        now = self._now()
        if not force and now - self._stepped < self._next_expiry:
            return
        self._next_expiry = now - self._stepped + EXPIRE_EVERY_S
        try:
            rows = self._db.execute("SELECT id FROM events WHERE created < ? ORDER BY id",
                                    (now - self._unshifted - self.max_age_s,)).fetchall()
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        self._delete([r[0] for r in rows if r[0] not in self._handed and r[0] not in self._acked], "max_age")

    def _drop_oldest(self, n: int) -> None:
        ended = self._oldest_unhanded("alert_id IS NOT ?", (self._open_alert,), n)
        still_open = self._oldest_unhanded("alert_id IS ?", (self._open_alert,), n - len(ended)) \
            if len(ended) < n else []
        self._delete(ended + still_open, "max_events")

    def _oldest_unhanded(self, where: str, params: tuple, n: int) -> list[int]:
        skip = self._handed | self._acked
        try:
            rows = self._db.execute(f"SELECT id FROM events WHERE {where} ORDER BY id LIMIT ?",
                                    params + (n + len(skip),)).fetchall()
        except sqlite3.Error as exc:
            self._failed(exc)
            return []
        return [r[0] for r in rows if r[0] not in skip][:n]

    def _delete(self, ids: list[int], reason: str) -> None:
        if not ids:
            return
        self._count(reason, len(ids))
        deleted = self._run(lambda db: self._settle(db, ids))
        if deleted is None:                     # not deleted after all: not dropped
            self._count(reason, -len(ids))
            return
        self._depth -= deleted
        self._say_dropped(reason, len(ids))

    def _say_dropped(self, reason: str, n: int, which: str = "") -> None:
        """The line for `n` events dropped for a bound (the first LOG_FIRST_DROPS drops, then one a thousand)."""
        total = self.dropped[reason]
        if reason in _LIMITS and (total <= LOG_FIRST_DROPS or total % 1000 < n):
            limit = _LIMITS[reason].format(max_events=self.max_events, max_age_s=self.max_age_s)
            log.warning("outbox %s reached: dropped %d alert event(s)%s, %d dropped for this reason so far",
                        limit, n, which, total)

    def _count(self, reason: str, n: int) -> None:
        """Count drops; written with the next transaction that succeeds."""
        self.dropped[reason] = self.dropped.get(reason, 0) + n
        self.dropped_this_run[reason] = self.dropped_this_run.get(reason, 0) + n
        self._drops_unsaved = True

    # -- state -----------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Events waiting for the broker's acknowledgement: stored, held, or left in a file that cannot be written."""
        return self._depth - len(self._acked) + len(self._held) + self._left_in_file

    @property
    def in_flight(self) -> int:
        return len(self._handed)

    def stats(self) -> dict:
        """Depth, events in flight, drops by reason, the sync mode, why storing fails (None while it
        works) and the events saved from a corrupt outbox held in memory, for the health payload."""
        with self._lock:
            if (self._in_file or self._left_in_file) and self._db is None:
                # With each health snapshot: a file read while it could not be written is opened once it can
                # (the rows acknowledged meanwhile deleted), also when no event or acknowledgement comes (qa48).
                self._open()
            dropped = dict(self.dropped)
            return {"depth": self.depth, "oldest_age_s": self._oldest_age(), "in_flight": self.in_flight, "dropped": dropped,
                    "dropped_total": sum(dropped.values()), "sync": self.sync.lower(), "problem": self.problem,
                    "held": len(self._held)}

    def _oldest_age(self) -> float | None:
        """Seconds since the oldest waiting event (stored or held) was added; None when none (or unreadable). Caller holds the lock."""
        now = self._now()           # first: a step it tells moves what is read below
        oldest = [self._held[0][0]] if self._held else []
        if self._left_oldest is not None:
            oldest.append(self._left_oldest)
        if self._depth - len(self._acked) > 0 and self._db is not None:
            try:
                (created,) = self._db.execute("SELECT MIN(created) FROM events").fetchone()
            except sqlite3.Error:
                created = None
            if created is not None:
                oldest.append(created + self._unshifted)
        return max(0.0, round(now - min(oldest), 3)) if oldest else None

    def close(self) -> None:
        with self._lock:
            if (self._in_file or self._left_in_file) and self._db is None:
                self._open()                    # writable again: the rows acknowledged meanwhile deleted (qa48)
            if self._in_file or self._left_in_file:     # their file keeps them: the next start sends them again
                if self._left_in_file:
                    log.warning("outbox %s: the %d event(s) left in the file while memory held max_events are sent "
                                "by the next start (it still cannot be written)", self.path, self._left_in_file)
                self._held = self._own_held()
                self._held_ids = [i for i in self._held_ids if i not in self._in_file]
                self._in_file = {}
                self._left_in_file, self._left_oldest = 0, None
            kept = (self._held_file.write(self._held, self._held_bounded, sync=True, not_stored=self._held_not_stored,
                                          settled=self._settled_unsaved) if self._held else None)
            if not self._held and self._settled_unsaved:
                # held events settled since the last commit (the disk full): kept for the next start, whose journal
                # recovery must not store one again (qa51 left it: the broker got it twice, or a dropped one)
                self._held_file.write([], self._held_bounded, sync=True, not_stored=self._held_not_stored,
                                      settled=self._settled_unsaved)
            if kept is not None:
                lost = len(self._held) - kept
                log.error("outbox %s: %d event(s) held in memory could not be stored; %d are kept in %s and sent "
                          "by the next start%s", self.path, len(self._held), kept, self._held_file.path.name,
                          f" ({lost} did not fit: the next start counts them as not_stored)" if lost else "")
                self._held, self._held_ids = [], []
            elif self._held:
                log.error("outbox %s: %d event(s) held in memory were never stored (counted as not_stored)%s",
                          self.path, len(self._held), f"; the file moved aside ({self.path.name}.corrupt-*) still "
                          "holds those saved from it" if self._quarantined else "")
                self._count("not_stored", len(self._held))
                self._held, self._held_ids = [], []
                self._run(lambda db: None)          # writes the count when the file works
            self._held_file.close()
            self._flush_acks()
            if self._db is not None:            # the clocks at the stop, for the next open's `_down_step`
                self._now()
                self._run(lambda db: None)
            for db in (self._checkpoint_db, self._db):
                if db is not None:
                    try:
                        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    except sqlite3.Error:
                        pass
                    db.close()
            self._db = self._checkpoint_db = None

