"""Alert events appended to a JSON lines file, one object per line, flushed per event."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..alerts import AlertEvent
from ..plugins import Plugin
from .base import Sink, SinkConfig, SinkContext

log = logging.getLogger("stad.sink.jsonl")

TAIL_BLOCK = 65536


@dataclass
class JsonlConfig(SinkConfig):
    TYPE: ClassVar[str] = "jsonl"
    path: str = "alerts.jsonl"


class JsonlSink(Sink):
    TYPE = "jsonl"

    def __init__(self, cfg: JsonlConfig, context: SinkContext):
        self.path = Path(context.resolve(cfg.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_line()
        self.fh = self.path.open("a", encoding="utf-8")

    def _cut_torn_line(self) -> None:
        """A crash in the middle of a write can leave a last line without its newline: drop it, so
        every line stays one whole JSON object (the event is delivered again by recover())."""
        try:
            with self.path.open("rb+") as fh:
                size = fh.seek(0, 2)
                if size == 0:
                    return
                fh.seek(size - 1)
                if fh.read(1) == b"\n":
                    return
                keep = self._last_newline(fh, size) + 1
                fh.truncate(keep)
                os.fsync(fh.fileno())
            log.warning("%s: removed a torn last line (%d bytes) left by a crash", self.path, size - keep)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot check %s for a torn last line: %s", self.path, exc)

    @staticmethod
    def _last_newline(fh, end: int) -> int:
        """Offset of the last newline before `end`, -1 when there is none."""
        pos = end
        while pos > 0:
            start = max(0, pos - TAIL_BLOCK)
            fh.seek(start)
            block = fh.read(pos - start)
            i = block.rfind(b"\n")
            if i >= 0:
                return start + i
            pos = start
        return -1

    def last_alert(self) -> tuple[str, int] | None:
        """(alert_id, seq) of the last alert line in the file, None when there is none."""
        try:
            with self.path.open("rb") as fh:
                for line in _reversed_lines(fh):
                    if b'"kind":"alert"' in line:
                        obj = json.loads(line)
                        return obj["alert_id"], obj["seq"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            log.error("cannot read the last alert of %s: %s", self.path, exc)
        return None

    def recover(self, event: AlertEvent) -> None:
        self.fh.flush()
        if self.last_alert() != (event.alert_id, event.seq):
            log.info("%s: writing alert event %s #%d, decided before the last stop but not written",
                     self.path, event.alert_id, event.seq)
            self.emit(event)

    def emit(self, event: AlertEvent) -> None:
        self._write({"kind": "alert", **event.to_dict()})

    def sensor_event(self, event: dict) -> None:
        self._write({"kind": "sensor", **event})

    def _write(self, obj: dict) -> None:
        try:
            self.fh.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self.fh.flush()
        except OSError as exc:
            log.error("cannot write %s: %s", self.path, exc)

    def close(self) -> None:
        self.fh.close()


def _reversed_lines(fh):
    """The lines of a binary file, last first, read in blocks from the end."""
    pos = fh.seek(0, 2)
    rest = b""
    while pos > 0:
        start = max(0, pos - TAIL_BLOCK)
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
