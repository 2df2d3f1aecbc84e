"""Alert events appended to a JSON lines file, one object per line, flushed per event."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..alerts import AlertEvent
from ..plugins import Plugin
from .base import Sink, SinkConfig, SinkContext

log = logging.getLogger("stad.sink.jsonl")


@dataclass
class JsonlConfig(SinkConfig):
    TYPE: ClassVar[str] = "jsonl"
    path: str = "alerts.jsonl"


class JsonlSink(Sink):
    TYPE = "jsonl"

    def __init__(self, cfg: JsonlConfig, context: SinkContext):
        self.path = Path(context.resolve(cfg.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = self.path.open("a", encoding="utf-8")

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


PLUGIN = Plugin(config=JsonlConfig, create=JsonlSink)
