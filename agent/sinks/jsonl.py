"""Alert and fault events appended to a JSON lines file, one object per line, flushed per event."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..alerts import AlertEvent
from .base import Sink

log = logging.getLogger("stad.sink.jsonl")


class JsonlSink(Sink):
    TYPE = "jsonl"

    def __init__(self, cfg, context):
        self.path = Path(context.resolve(cfg.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = self.path.open("a", encoding="utf-8")

    def emit(self, event: AlertEvent) -> None:
        self._write({"kind": "alert", **event.to_dict()})

    def fault(self, event) -> None:
        self._write({"kind": "fault", **event.to_dict()})

    def _write(self, obj: dict) -> None:
        try:
            self.fh.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self.fh.flush()
        except OSError as exc:
            log.error("cannot write %s: %s", self.path, exc)

    def close(self) -> None:
        self.fh.close()


SINK = JsonlSink
