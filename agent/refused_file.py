"""The alert and fault events a broker refused, kept for an operator: `state_dir/mqtt-refused.jsonl`.

An MQTT 5 broker that refuses a publish (PUBACK 0x87: not authorised by its ACL) has given its final
answer for that event, and the MQTT sink drops it from the outbox (agent/sinks/mqtt.py says why it is
never sent again by itself). Counted and logged is not silent, but the event itself would be gone; so
each one is written here first, exactly as it was sent, for an operator to re-send once the ACL is
mended (docs/operations.md, "A broker that refuses by ACL", has the command). One JSON object a line:

    {"ts": "<when refused, UTC>", "topic": "<prefix>/<site>/<node>/alerts", "qos": 1,
     "reason": "Not authorized (reason code 0x87)", "event": "<id> #<seq> <kind>", "payload": "<as sent>"}

`payload` is the exact JSON text the broker refused, as a string (one line: encode_json writes none).

Bounded in bytes: a line that would take the file past `max_bytes` first moves it to `<name>.1`
(replacing the one there) and starts a new file, so at most 2 × max_bytes are on disk; the events
in a replaced `.1` are counted (`rotated_away`) and said in one line each time — an ACL left broken
for weeks must not fill the state disk the outbox needs. A write that fails (a full disk, as the
outbox and the state files meet it) cuts off the part written, counts the event as `not_kept`, says
so once per reason and once when writing works again; the sink goes on either way. The file is made
only at the first refusal: a gateway whose broker never refuses has none.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from .alerts import iso
from .dirsync import sync_directory

log = logging.getLogger("stad.sink.mqtt")

MAX_BYTES = 1 << 20         # a file this big moves to `.1`: at most 2 MiB of refused events on disk


class RefusedFile:
    """Appends refused events; `stats()` for health (`sinks.mqtt.refused_file`). One writer thread."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.kept = 0               # events written this life
        self.not_kept = 0           # events a failed write lost
        self.rotated_away = 0       # events in a `.1` that a rotation replaced
        self.problem: str | None = None
        self._failed_since = 0      # not_kept when the current problem began

    def keep(self, topic: str, payload: str, reason: str, event: str) -> bool:
        """Write one refused event; False when it could not be kept (counted, said once)."""
        line = (json.dumps({"ts": iso(time.time()), "topic": topic, "qos": 1, "reason": reason, "event": event,
                            "payload": payload}, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        try:
            self._rotate_for(len(line))
            self._append(line)
        except OSError as exc:
            self._failed(exc)
            return False
        if self.problem is not None:
            log.warning("refused events are kept in %s again (%d could not be written meanwhile)", self.path,
                        self.not_kept - self._failed_since)
            self.problem = None
        self.kept += 1
        return True

    def _rotate_for(self, size: int) -> None:
        try:
            held = self.path.stat().st_size
        except FileNotFoundError:
            return
        if held == 0 or held + size <= self.max_bytes:
            return
        older = self.path.with_name(self.path.name + ".1")
        lost = _lines(older)
        os.replace(self.path, older)
        sync_directory(self.path.parent)
        self.rotated_away += lost
        log.warning("%s reached %d bytes: moved to %s%s; refused events go on into a new %s", self.path, held,
                    older.name, f", replacing {lost} older refused event(s) (counted as rotated_away)" if lost else "",
                    self.path.name)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            start = os.fstat(fd).st_size
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
            except OSError:
                os.ftruncate(fd, start)     # only whole lines: a re-send reads them one by one
                raise
            # on disk before the outbox lets the event go (its DELETE follows): else a power cut could keep the
            # delete and lose the line, the event in neither (chaos9); a new file's name with its directory's sync
            os.fdatasync(fd)
            if start == 0:
                sync_directory(self.path.parent)
        finally:
            os.close(fd)

    def _failed(self, exc: OSError) -> None:
        if self.problem is None:
            self._failed_since = self.not_kept
        self.not_kept += 1
        reason = f"{exc.strerror or exc}"
        if reason != self.problem:
            log.error("cannot keep a refused event in %s: %s; it is lost (counted in health as "
                      "sinks.mqtt.refused_file.not_kept; said once)", self.path, reason)
        self.problem = reason

    def stats(self) -> dict:
        return {"path": str(self.path), "kept": self.kept, "not_kept": self.not_kept,
                "rotated_away": self.rotated_away, "problem": self.problem}


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0
