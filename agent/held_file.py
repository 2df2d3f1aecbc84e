"""Files of fixed size, filled with zeros while the disk has room, written in place later — so a
write still works on a disk that has no free block left, and a kill -9 then loses nothing.

`ReservedFile` is the mechanism: `reserve()` makes the file its full size (zeros written, so its
blocks are its own; kept across runs), `put(meta, body)` rewrites it in place from offset 0 with a
JSON header (the body's length and crc32, and `meta`), `get()` reads it back — a file a power cut
tore while it was rewritten is said (ValueError), never trusted. Two uses:

- `HeldFile` (`<outbox>.held`): the outbox (agent/outbox.py) holds the events it cannot store on a
  full disk in memory and stores them when space returns. A kill -9, a watchdog kill or a power
  cut meanwhile lost them, and their count with them: the next start said nothing, and a
  subscriber could not learn that alerts were lost. Every change of the held events rewrites the
  file with the newest of them that fit and the count of those that do not — and of those a
  previous run counted but no file has stored yet (a second kill -9 at the next start, before the
  disk took anything, must not lose the count). The next start reads it: the events come back as
  replays, the rest are counted (`not_stored`, `max_events`) and said.
- the journals' spares (agent/checkpoint.py EventJournal, `<journal>.spare`): a journal written
  atomically needs a new file, which a full disk refuses; the spare takes the document instead.

The reserve is made at the outbox's and the journals' construction (the agent's start) and again
at every write that has none yet; check-config says when the state disk has no room left for it.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from . import json_read
from .dirsync import sync_directory

HELD_FILE_BYTES = 128 * 1024    # ~150 alert events of ~800 bytes; their count beyond that
SETTLED_KEPT = 256              # settled marks a held file keeps (~50 bytes each): the journals' last events' ids
HEADER_BYTES = 256
FORMAT = "stad-outbox-held/1"


class ReservedFile:
    """A file of `size` bytes: a header line of HEADER_BYTES, then the body, written in place."""

    def __init__(self, path: Path, size: int, form: str):
        self.path = Path(path)
        self.size = size
        self.form = form
        self.fd: int | None = None
        self.problem: str | None = None     # why the last reserve() failed

    def reserve(self) -> bool:
        """Open the file and make it its full size, zeros written so its blocks are its own;
        False when the disk refuses (tried again by the next write)."""
        if self.fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            self.problem = exc.strerror or str(exc)
            return False
        try:
            have = os.fstat(fd).st_size
            grown = have < self.size
            while have < self.size:
                have += os.pwrite(fd, bytes(self.size - have), have)
            os.fsync(fd)
            if grown:       # a new file's name survives a power cut once its directory is synced (chaos9)
                sync_directory(self.path.parent)
        except OSError as exc:
            os.close(fd)
            self.problem = exc.strerror or str(exc)
            return False
        self.fd = fd
        self.problem = None
        return True

    @property
    def room(self) -> int:
        """Bytes a body may take."""
        return self.size - HEADER_BYTES

    def put(self, meta: dict, body: bytes, sync: bool = False) -> bool:
        """Rewrite the file in place with `body` and `meta`; False when there is no file (no room
        to reserve it), the body does not fit, or the write fails."""
        if len(body) > self.room or not self.reserve():
            return False
        header = json.dumps({"format": self.form, **meta, "bytes": len(body), "crc32": zlib.crc32(body)}).encode()
        if len(header) >= HEADER_BYTES:
            return False
        data = header.ljust(HEADER_BYTES - 1) + b"\n" + body
        try:
            if os.pwrite(self.fd, data, 0) != len(data):
                return False        # (a short write left a torn file, which get() refuses: not kept)
            if sync:
                os.fdatasync(self.fd)
        except OSError:
            return False
        return True

    def get(self) -> tuple[dict, bytes] | None:
        """(header, body) last put; None when there is no file or it was never written. ValueError
        saying what is wrong when it cannot be read as one."""
        try:
            with self.path.open("rb") as fh:
                data = fh.read()            # (larger than `size` when reserved for more: a site's sensors removed)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError(f"cannot read it: {exc.strerror or exc}") from None
        if not data.strip(b"\0"):
            return None                     # reserved, never written
        try:
            head = json_read.loads(data[:HEADER_BYTES])
            if not isinstance(head, dict) or head.get("format") != self.form:
                raise ValueError(f"not a {self.form} file (format {head.get('format') if isinstance(head, dict) else head!r})")
            size = head["bytes"]
            if type(size) is not int or not 0 <= size <= len(data) - HEADER_BYTES:
                # (a float such as 1e999 went to int() and raised OverflowError, which no reader caught: qa36)
                raise ValueError(f"its header's bytes is {json.dumps(size)[:40]}, not a byte count within the file")
            body = data[HEADER_BYTES:HEADER_BYTES + size]
            if zlib.crc32(body) != head["crc32"]:
                what = f"its {head['rows']} event(s) are" if "rows" in head else "it is"
                raise ValueError(f"{what} damaged (checksum mismatch; a power cut while it was written?)")
            return head, body
        except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not in the expected form ({exc})") from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class HeldFile(ReservedFile):
    """The outbox's held events; `write` keeps rows, `read` gives them back."""

    def __init__(self, path: Path, size: int = HELD_FILE_BYTES):
        super().__init__(path, size, FORMAT)

    def write(self, rows: list[tuple], max_events: int, sync: bool = False, not_stored: int = 0,
              settled: dict[str, int] | None = None) -> int | None:
        """Keep (created, alert_id, seq, kind, payload) rows, oldest first: the newest that fit, and
        the count of the others plus `not_stored`, and `max_events` (held rows dropped for the bound
        and events counted not stored, none of it on disk yet). `settled`: alert (or fault) id -> the newest seq
        settled while the outbox's file could not take it (the newest SETTLED_KEPT ids, before the rows). How many
        rows were kept; None when there is no file to keep them in."""
        marks = [json.dumps([key, seq], separators=(",", ":")).encode() + b"\n"
                 for key, seq in list((settled or {}).items())[-SETTLED_KEPT:]]
        kept: list[bytes] = []
        used = sum(map(len, marks))
        for row in reversed(rows):
            line = json.dumps(list(row), separators=(",", ":")).encode() + b"\n"
            if used + len(line) > self.room:
                break
            kept.append(line)
            used += len(line)
        body = b"".join(reversed(kept)) + b"".join(marks)
        meta = {"rows": len(kept), "not_kept": len(rows) - len(kept) + not_stored, "max_events": max_events}
        if marks:
            meta["settled"] = len(marks)
        return len(kept) if self.put(meta, body, sync) else None

    def clear(self, sync: bool = False) -> None:
        """Nothing held any more."""
        self.write([], 0, sync)

    def read(self) -> tuple[list[tuple], int, int]:
        """(rows, not_kept, max_events) a previous run left; ([], 0, 0) when none. ValueError
        saying what is wrong when the file cannot be read as one."""
        return self.read_all()[:3]

    def read_all(self) -> tuple[list[tuple], int, int, dict[str, int]]:
        """read()'s, and the settled seqs it keeps (id -> seq)."""
        got = self.get()
        if got is None:
            return [], 0, 0, {}
        head, body = got
        try:
            lines = [json_read.loads(line) for line in body.splitlines()]
            n_settled = head.get("settled", 0)
            if type(n_settled) is not int or not 0 <= n_settled <= len(lines):
                raise ValueError(f"its header's settled is {json.dumps(n_settled)[:40]}, not a count of its lines")
            rows = [tuple(r) for r in lines[:len(lines) - n_settled]]
            marks = lines[len(lines) - n_settled:]
            if len(rows) != head["rows"] or any(len(r) != 5 for r in rows):
                raise ValueError("its rows do not match its header")
            if not all(isinstance(m, list) and len(m) == 2 and isinstance(m[0], str) and type(m[1]) is int
                       for m in marks):
                raise ValueError("its settled marks are not [id, seq] pairs")
            counts = head["not_kept"], head["max_events"]
        except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not in the expected form ({exc})") from None
        for key, n in zip(("not_kept", "max_events"), counts):
            # (outside the crc: 1e999 raised OverflowError in int(), which stopped the start; -5 was counted as lost)
            if type(n) is not int or n < 0:
                raise ValueError(f"its header's {key} is {json.dumps(n)[:40]}, not a count")
        return rows, *counts, {key: seq for key, seq in marks}


__all__ = ["HELD_FILE_BYTES", "HeldFile", "ReservedFile"]
