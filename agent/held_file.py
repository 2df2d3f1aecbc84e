"""The outbox's held events kept on disk in space given to them beforehand, so a kill -9 on a full
disk does not lose them without a trace.

When the disk is full the outbox (agent/outbox.py) holds the events it cannot store in memory and
stores them when space returns. A kill -9, a watchdog kill or a power cut meanwhile lost them, and
their count with them: the next start said nothing, and a subscriber could not learn that alerts
were lost. Here a file of fixed size (`<outbox>.held`, HELD_FILE_BYTES) is filled with zeros while
the disk has room — at the first open of the outbox that works — and kept across runs. Writing
inside it later needs no new blocks, so it works on a disk that has none left: every change of the
held events rewrites it in place with the newest of them that fit and the count of those that do
not. The next start reads it: the events come back as replays, the rest are counted
(`not_stored`, `max_events`) and said. A file that cannot be read (a power cut tore it) is said too.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

HELD_FILE_BYTES = 128 * 1024    # ~150 alert events of ~800 bytes; their count beyond that
HEADER_BYTES = 256
FORMAT = "stad-outbox-held/1"


class HeldFile:
    """The fixed-size file; `write` keeps rows, `read` gives them back, `reserve` makes it."""

    def __init__(self, path: Path, size: int = HELD_FILE_BYTES):
        self.path = path
        self.size = size
        self.fd: int | None = None

    def reserve(self) -> bool:
        """Open the file and make it its full size, zeros written so its blocks are its own;
        False when the disk refuses (tried again by the next write)."""
        if self.fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return False
        try:
            have = os.fstat(fd).st_size
            while have < self.size:
                have += os.pwrite(fd, bytes(self.size - have), have)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def write(self, rows: list[tuple], max_events: int, sync: bool = False) -> int | None:
        """Keep (created, alert_id, seq, kind, payload) rows, oldest first: the newest that fit, the
        count of the others and of `max_events` (held rows dropped for the bound, not counted on
        disk yet). How many were kept; None when there is no file to keep them in."""
        if not self.reserve():
            return None
        budget = self.size - HEADER_BYTES
        kept: list[bytes] = []
        used = 0
        for row in reversed(rows):
            line = json.dumps(list(row), separators=(",", ":")).encode() + b"\n"
            if used + len(line) > budget:
                break
            kept.append(line)
            used += len(line)
        body = b"".join(reversed(kept))
        header = json.dumps({"format": FORMAT, "rows": len(kept), "not_kept": len(rows) - len(kept),
                             "max_events": max_events, "bytes": len(body), "crc32": zlib.crc32(body)}).encode()
        try:
            os.pwrite(self.fd, header.ljust(HEADER_BYTES - 1) + b"\n" + body, 0)
            if sync:
                os.fdatasync(self.fd)
        except OSError:
            return None
        return len(kept)

    def clear(self, sync: bool = False) -> None:
        """Nothing held any more."""
        self.write([], 0, sync)

    def read(self) -> tuple[list[tuple], int, int]:
        """(rows, not_kept, max_events) a previous run left; ([], 0, 0) when none. ValueError
        saying what is wrong when the file cannot be read as one."""
        try:
            with self.path.open("rb") as fh:
                data = fh.read(self.size)
        except FileNotFoundError:
            return [], 0, 0
        except OSError as exc:
            raise ValueError(f"cannot read it: {exc.strerror or exc}") from None
        if not data.strip(b"\0"):
            return [], 0, 0                 # reserved, never written
        try:
            head = json.loads(data[:HEADER_BYTES])
            if head.get("format") != FORMAT:
                raise ValueError(f"not an outbox held file (format {head.get('format')!r})")
            body = data[HEADER_BYTES:HEADER_BYTES + int(head["bytes"])]
            if zlib.crc32(body) != head["crc32"]:
                raise ValueError(f"its {head['rows']} event(s) are damaged (checksum mismatch; a power cut "
                                 "while it was written?)")
            rows = [tuple(json.loads(line)) for line in body.splitlines()]
            if len(rows) != head["rows"] or any(len(r) != 5 for r in rows):
                raise ValueError("its rows do not match its header")
            return rows, int(head["not_kept"]), int(head["max_events"])
        except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not in the expected form ({exc})") from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


__all__ = ["HELD_FILE_BYTES", "HeldFile"]
