"""One readable line per alert event on stdout."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import ClassVar

from ..alerts import AlertEvent
from ..plugins import Plugin
from ..typed import doc
from .base import Sink, SinkConfig, SinkContext

COLORS = {"new": "\033[1;31m", "update": "\033[33m", "end": "\033[32m"}


@dataclass
class TerminalConfig(SinkConfig):
    TYPE: ClassVar[str] = "terminal"
    color: bool = doc("colour the lines (only when stdout is a terminal)", default=False)


class TerminalSink(Sink):
    TYPE = "terminal"

    def __init__(self, cfg: TerminalConfig, context: SinkContext):
        self.color = cfg.color and sys.stdout.isatty()

    def emit(self, event: AlertEvent) -> None:
        line = event.line()
        if self.color:
            line = f"{COLORS[event.event]}{line}\033[0m"
        print(line, flush=True)

    def sensor_event(self, event: dict) -> None:
        print(f"{event['ts']} SENSOR {event['sensor']} {event['state']}: {event['detail']}", flush=True)


PLUGIN = Plugin(config=TerminalConfig, create=TerminalSink)
