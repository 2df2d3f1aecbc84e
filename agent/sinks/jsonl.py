"""Alert and fault events appended to a JSON lines file, one object per line, written per event.

The file only ever holds whole lines. Each line is written with unbuffered write() calls on an
O_APPEND descriptor; when the disk fills up halfway through a line, the part written is cut off
again (ftruncate to the size before it), the event is counted as dropped and the next one is
tried as usual — so writing resumes by itself when space returns. One line is logged when writing
starts failing and one when it works again, not one per event; "again" means a write succeeded
and the file system has room for the longest line that failed (on a nearly full disk short lines
may still fit while long ones do not — that is one problem, not a flapping series of them). At start, an incomplete last line
left by an earlier run (killed mid-write on an older version, or a full disk) is removed and
logged. Drops by kind are in the agent's health (`sinks.jsonl`).

Power cuts (chaos10): many operators read this file as *the* record (a log shipper tails it), so each line is on
disk before the agent goes on — `fdatasync` after an alert event's line, once after a tick's fault lines (`faults`),
as the MQTT outbox syncs an event it stores; a file made (at the start, after a rotation) has its directory synced
too. A power cut then loses at most the line being written, and that event is the alert journal's last (or the
fault journal's last tick), which `recover` / `recover_faults` write again at the next start: after the restart
the file holds every event. What the cut may leave at the end — a line cut short, zeros where a line's data had not
reached the disk, whether or not a newline follows — is removed at the start before anything is appended (the
readable lines after it kept), and said: a `jq` reader never meets half a line once the agent has started.

Rotation: `logrotate` (or `mv`) renames the file away and expects the writer to start a new one
at the path; a descriptor held open would go on appending to the renamed file for ever and leave
the path empty. So each write first checks that the path still names the open file (device and
inode; one stat per event) and, when it does not, closes it and opens the path afresh, logging
one line. `copytruncate` needs nothing: writes are O_APPEND, so they land at the new end.

After a crash (agent/checkpoint.py), `recover` writes the last alert event of the run that died
unless the file already holds it among its last alert lines, so each event is in the file once.
A rotation between that event's write and the crash left it in the rotated file, the path's new file
empty or nearly: when the path's file holds fewer than RECOVER_LOOKBACK alert lines and not the
event, the search goes on into the file the path was last rotated to (the newest sibling named
`<name>.*` or `<name>-*`, logrotate's numbered or dated names, gzip-compressed or not), so the
event is not written again into the new file (a duplicate across the two). A rotation that moves
the file elsewhere (`olddir`) or removes it cannot be followed: the event is written again then.
Alert lines after it can only be events the run could not journal (a full or failing state
disk): written here, then the crash. They are said rather than followed by the journal's older
event again, out of order, as if it had never been written; `unjournaled` gives the newest of
them back as the AlertEvent it was written from, so that the agent can end the alert it left
open for every subscriber (the alert state it resumes from the journal knows none of them).
"""
from __future__ import annotations

import gzip
import json
import logging
import os
import stat
from collections import deque
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from .. import json_read
from ..alerts import AlertEvent
from ..faults.events import FaultEvent
from ..plugins import Plugin
from ..dirsync import sync_directory
from ..host_checks import writable_file_problems
from ..journaled import event_problem
from ..whole_lines import TAIL_CHUNK, cut_partial_tail
from ..typed import doc
from .base import Sink, SinkConfig, SinkContext

log = logging.getLogger("stad.sink.jsonl")
# What tells a fault line (fault / fault_update / fault_end) from an alert line: its `event`. Not its `"fault_id":` — an
# alert that ended `sensor_fault` carries its fault's reference {fault_id, sensor, kind} (review26).
FAULT_LINE = b'"event":"fault'

RECOVER_LOOKBACK = 256      # alert lines recover() looks back over for the journal's event


@dataclass
class JsonlConfig(SinkConfig):
    TYPE: ClassVar[str] = "jsonl"
    path: str = doc(
        "the file alert and sensor events are appended to (relative: from the config file)", default="alerts.jsonl")

    def preflight(self, resolve) -> list[tuple[str, str]]:
        return [("path", m) for m in writable_file_problems(resolve(self.path))]


class JsonlSink(Sink):
    TYPE = "jsonl"
    DROP_REASONS = ("alert", "fault")   # the kind of line that could not be written

    def __init__(self, cfg: JsonlConfig, context: SinkContext):
        self.path = Path(context.resolve(cfg.path))
        self.fd: int | None = None
        self.written = 0
        self.dropped: dict[str, int] = {}
        self.problem: str | None = None     # why writing fails now; None while it works
        self.sync_problem: str | None = None    # why syncing the lines fails now (they are written); None while it works
        self._regular = False               # a regular file (synced); a FIFO's reader is not a disk
        self._unsynced = False              # lines written since the last sync (a tick's fault lines, `faults`)
        self._failed_len = 0                # the longest line that could not be written, during a problem
        self._open()

    def emit(self, event: AlertEvent) -> None:
        self._write("alert", {"kind": "alert", **event.to_dict()})

    def fault(self, event: FaultEvent) -> None:
        # The fault payload as it is (schemas/fault.schema.json): its `event` (fault / fault_update / fault_end)
        # tells it from alert lines, its `kind` is the fault's kind.
        self._write("fault", event.to_dict())

    def faults(self, events: list[FaultEvent]) -> None:
        """A tick's fault lines, synced once (a station's power cut: 40 sensors' events, one disk sync)."""
        for event in events:
            self._write("fault", event.to_dict(), sync=False)
        self._sync()

    def rotated(self) -> Path | None:
        """The file the path was last rotated to: the newest regular file beside it named `<name>.*` or
        `<name>-*` (logrotate's `.1`, `.1.gz`, `-20261203`); None when there is none."""
        newest, stamp = None, -1
        try:
            entries = list(self.path.parent.iterdir())
        except OSError:
            return None
        for p in entries:
            if p.name == self.path.name or not p.name.startswith((self.path.name + ".", self.path.name + "-")):
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            if p.is_file() and st.st_mtime_ns > stamp:
                newest, stamp = p, st.st_mtime_ns
        return newest

    def last_alert(self) -> tuple[str, int] | None:
        """(alert_id, seq) of the last alert line in the file, None when there is none."""
        found = self._last(b'"kind":"alert"', "alert_id", 1)
        return found[0] if found else None

    def last_faults(self, n: int) -> list[tuple[str, int]]:
        """(fault_id, seq) of the last `n` fault lines in the file, newest first."""
        return self._last(FAULT_LINE, "fault_id", n)

    def _last(self, marker: bytes, key: str, n: int, path: Path | None = None) -> list[tuple[str, int]]:
        """(key, seq) of the last `n` lines holding `marker` in `path` (default: the file), newest first."""
        return [(obj[key], obj["seq"]) for obj in self._last_lines(marker, key, n, path)]

    def _last_lines(self, marker: bytes, key: str, n: int, path: Path | None = None) -> list[dict]:
        """The last `n` lines holding `marker` in `path` (default: the file), parsed, newest first."""
        path = path or self.path
        found: list[dict] = []
        if n <= 0:
            return found
        try:
            if path.suffix == ".gz":        # read through: a compressed file cannot be read from its end
                with gzip.open(path, "rb") as fh:
                    tail = deque((line for line in fh if marker in line), maxlen=n)
                lines = list(reversed(tail))
            else:
                with path.open("rb") as fh:
                    lines = []
                    for line in _reversed_lines(fh):
                        if len(lines) >= n:
                            break
                        if marker in line:
                            lines.append(line)
            for line in lines:
                obj = json_read.loads(line)
                _keys([obj], key)           # a line without them is not one of ours: said below
                found.append(obj)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            log.error("cannot read the last %s lines of %s: %s", key.split("_")[0], path, exc)
        return found

    def _recent_alerts(self, key: tuple[str, int] | None, say: bool = False) -> list[dict]:
        """The last RECOVER_LOOKBACK alert lines, newest first; when `key` (the journal's) is not among
        them and the file holds fewer, continued into the file it was last rotated to — said when `say`
        (by recover; unjournaled, called after it at the same start, reads the same lines)."""
        recent = self._last_lines(b'"kind":"alert"', "alert_id", RECOVER_LOOKBACK)
        if key is None or key in _keys(recent, "alert_id") or len(recent) >= RECOVER_LOOKBACK:
            return recent
        rotated = self.rotated()
        if rotated is None:
            return recent
        older = self._last_lines(b'"kind":"alert"', "alert_id", RECOVER_LOOKBACK - len(recent), rotated)
        if say and key in _keys(older, "alert_id"):
            log.info("%s: alert event %s #%d, the last one decided before the last stop, is in %s (the file was "
                     "rotated since it was written); not written again", self.path, *key, rotated.name)
        return recent + older

    def recover(self, event: AlertEvent) -> None:
        key = (event.alert_id, event.seq)
        recent = _keys(self._recent_alerts(key, say=True), "alert_id")    # newest first
        if key not in recent:
            log.info("%s: writing alert event %s #%d, decided before the last stop but not written",
                     self.path, event.alert_id, event.seq)
            self.emit(event)
            return
        newer = recent[:recent.index(key)]
        if newer:
            log.warning("%s: %d alert event(s) after %s #%d (the alert journal's last) were written here but not "
                        "journaled — the state disk was full or failing when they were raised (the last run's log "
                        "says 'cannot write the alert journal'); the alert state the restart resumes knows none of "
                        "them (the last: %s #%d)", self.path, len(newer), event.alert_id, event.seq, *newer[0])

    def unjournaled(self, journaled: AlertEvent | None) -> AlertEvent | None:
        """The newest alert event in the file when it is newer than the journal's `journaled`
        (None: there is no journal) — one the last run wrote here but could not journal; else None.
        Called after recover(), which writes the journal's event when the file lacks it."""
        key = None if journaled is None else (journaled.alert_id, journaled.seq)
        lines = self._recent_alerts(key)       # newest first
        recent = _keys(lines, "alert_id")
        if not recent or (key is not None and recent[0] == key):
            return None
        if key is not None and key not in recent:
            return None             # too far back to tell which is newer: the journal's is taken
        try:
            return alert_from_line(lines[0])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("%s: cannot read its last alert line back (%s); an alert it left open is not ended",
                      self.path, exc)
            return None

    def recover_faults(self, events: list[FaultEvent]) -> None:
        recent = self.last_faults(len(events))
        written = set(recent)
        wanted = {(e.fault_id, e.seq) for e in events}
        if not wanted <= written and len(recent) < len(events) and (rotated := self.rotated()) is not None:
            older = set(self._last(FAULT_LINE, "fault_id", len(events) - len(recent), rotated))
            if wanted & older:      # the file was rotated since they were written: not written again
                log.info("%s: %d fault event(s) of the last run's last are in %s (the file was rotated since); "
                         "not written again", self.path, len(wanted & older), rotated.name)
            written |= older
        for event in events:
            if (event.fault_id, event.seq) not in written:
                log.info("%s: writing fault event %s #%d, decided before the last stop but not written",
                         self.path, event.fault_id, event.seq)
                self.fault(event)

    def stats(self) -> dict:
        return {"path": str(self.path), "written": self.written, "dropped": dict(self.dropped),
                "problem": self.problem or self.sync_problem}

    def _open(self) -> bool:
        if self.fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            made = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            self._failed(exc)
            return False
        self.fd = fd
        try:
            self._regular = stat.S_ISREG(os.fstat(fd).st_mode)
            if not self._regular:
                return True
            if made:            # the new name survives a power cut with the lines synced into it
                sync_directory(self.path.parent)
            cut = cut_partial_tail(self.path, fd)
            unreadable = self._cut_unreadable_lines()
            if cut or unreadable:
                os.fdatasync(fd)
        except OSError as exc:
            self._failed(exc)
            return True
        if cut:
            log.warning("%s: removed an incomplete last line (%d bytes) left by an earlier run (a power cut or a full "
                        "disk cut its write short)", self.path, cut)
        if unreadable:
            gone, size, kept = unreadable
            log.warning("%s: removed %d unreadable line(s) (%d bytes: zeros or cut JSON, a power cut before their data "
                        "reached the disk) from the end of the file%s", self.path, gone, size,
                        f", the {kept} readable line(s) after them kept" if kept else "")
        return True

    def _cut_unreadable_lines(self) -> tuple[int, int, int] | None:
        """Lines among the file's last TAIL_CHUNK bytes that do not read as a JSON object (a power cut left zeros
        where their data had not reached the disk, a newline after them or not) removed, the readable lines after the
        first of them written again in place; (lines removed, their bytes, lines kept after them), None: none.
        Called after cut_partial_tail, so the file ends with a newline. Only the last lines can be hit: every line
        before the last sync is on disk."""
        size = os.fstat(self.fd).st_size
        if not size:
            return None
        start = max(0, size - TAIL_CHUNK)
        with self.path.open("rb") as fh:
            fh.seek(start)
            chunk = fh.read(size - start)
        if start:                   # the chunk's first line may begin before it: not judged
            skip = chunk.find(b"\n") + 1
            start, chunk = start + skip, chunk[skip:]
        lines = chunk.split(b"\n")[:-1]
        bad = [i for i, line in enumerate(lines) if not _readable(line)]
        if not bad:
            return None
        at = start + sum(len(line) + 1 for line in lines[:bad[0]])
        kept = [line + b"\n" for line in lines[bad[0]:] if _readable(line)]
        os.ftruncate(self.fd, at)
        for line in kept:
            done = 0
            while done < len(line):
                done += os.write(self.fd, line[done:])
        return len(bad), sum(len(lines[i]) + 1 for i in bad), len(kept)

    def _reopen_if_rotated(self) -> None:
        """Close the open file when the path no longer names it (renamed or removed by a rotation)."""
        if self.fd is None:
            return
        try:
            now, held = os.stat(self.path), os.fstat(self.fd)
        except FileNotFoundError:
            now = None
        except OSError:
            return                  # cannot tell (a failing disk): keep writing where we were
        if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            return
        self._sync()                # (a tick's fault lines written to it before the rotation: review47)
        os.close(self.fd)
        self._unsynced = False
        self.fd = None
        log.info("%s: the file was rotated away (renamed or removed); writing to a new file at that path", self.path)

    def _write(self, kind: str, obj: dict, sync: bool = True) -> None:
        """Append one line (synced when `sync`: else the caller syncs a batch once, `_sync`)."""
        line = (json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8")
        self._reopen_if_rotated()
        if not self._open():
            self._drop(kind)
            return
        start = None
        try:
            start = os.fstat(self.fd).st_size
            done = 0
            while done < len(line):
                done += os.write(self.fd, line[done:])
        except OSError as exc:
            if start is not None:
                try:
                    os.ftruncate(self.fd, start)        # no torn line: the part written goes again
                except OSError:
                    pass
            self._failed(exc)
            self._failed_len = max(self._failed_len, len(line))
            self._drop(kind)
            return
        self.written += 1
        self._unsynced = True
        if sync:
            self._sync()
        if self.problem is not None and self._room() >= self._failed_len:
            log.warning("%s: writing again (%s dropped meanwhile)", self.path,
                        ", ".join(f"{n} {k}" for k, n in self.dropped.items()))
            self.problem, self._failed_len = None, 0

    def _sync(self) -> None:
        """The lines written since the last sync onto the disk (a power cut keeps them); a sync that fails is said
        once: the lines are in the file, a power cut may lose them (the outbox and the journals keep their events).
        Nothing to do without such lines (none written, or none since the file went: a rotation, a write dropped)."""
        if not (self._unsynced and self._regular and self.fd is not None):
            return
        try:
            os.fdatasync(self.fd)
        except OSError as exc:
            problem = f"cannot sync ({exc.strerror or exc})"
            if problem != self.sync_problem:
                log.error("%s: %s; the lines are written but a power cut may lose them", self.path, problem)
            self.sync_problem = problem
        else:
            self._unsynced = False
            if self.sync_problem is not None:
                log.warning("%s: syncing again", self.path)
                self.sync_problem = None

    def _room(self) -> int:
        try:
            st = os.fstatvfs(self.fd)
        except OSError:
            return 0
        return st.f_bavail * st.f_frsize

    def _drop(self, kind: str) -> None:
        self.dropped[kind] = self.dropped.get(kind, 0) + 1

    def _failed(self, exc: OSError) -> None:
        problem = exc.strerror or str(exc)
        if problem != self.problem:
            log.error("%s: cannot write (%s); events are dropped and counted until it can be written again",
                      self.path, problem)
        self.problem = problem

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _readable(line: bytes) -> bool:
    """Whether a line reads as a JSON object (no NUL: zeros are what a power cut leaves, never our JSON)."""
    if b"\0" in line:
        return False
    try:
        return isinstance(json_read.loads(line), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def _keys(lines: list[dict], key: str) -> list[tuple[str, int]]:
    return [(obj[key], obj["seq"]) for obj in lines]


def alert_from_line(obj: dict) -> AlertEvent:
    """The AlertEvent a line was written from (AlertEvent.to_dict's times back to epoch seconds)."""
    def seconds(value):
        return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    names = {f.name for f in fields(AlertEvent)}
    kw = {k: v for k, v in obj.items() if k in names}
    kw["ts"], kw["start"], kw["end"] = seconds(obj["ts"]), seconds(obj["start"]), seconds(obj["end"])
    kw["top_steps"] = [{**step, "ts": seconds(step["ts"])} for step in obj["top_steps"]]
    why = event_problem(kw)     # (a restart ends the alert it left open at ts under seq + 1: review37)
    if why is not None:
        raise ValueError(why)
    return AlertEvent(**kw)


def _reversed_lines(fh):
    """The lines of a binary file, last first, read in chunks from the end."""
    pos = fh.seek(0, 2)
    rest = b""
    while pos > 0:
        start = max(0, pos - TAIL_CHUNK)
        fh.seek(start)
        lines = (fh.read(pos - start) + rest).split(b"\n")
        rest = lines[0]
        for line in reversed(lines[1:]):
            if line:
                yield line
        pos = start
    if rest:
        yield rest


PLUGIN = Plugin(config=JsonlConfig, create=JsonlSink)
