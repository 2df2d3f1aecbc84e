"""One readable line per alert event on stdout."""
from __future__ import annotations

import sys

from ..alerts import AlertEvent
from .base import Sink

COLORS = {"new": "\033[1;31m", "update": "\033[33m", "end": "\033[32m"}


class TerminalSink(Sink):
    TYPE = "terminal"

    def __init__(self, cfg, context):
        self.color = cfg.color and sys.stdout.isatty()

    def emit(self, event: AlertEvent) -> None:
        line = event.line()
        if self.color:
            line = f"{COLORS[event.event]}{line}\033[0m"
        print(line, flush=True)

    def sensor_event(self, event: dict) -> None:
        print(f"{event['ts']} SENSOR {event['sensor']} {event['state']}: {event['detail']}", flush=True)


SINK = TerminalSink
