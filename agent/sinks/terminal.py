"""One readable line per alert or fault event on stdout."""
from __future__ import annotations

import sys

from ..alerts import AlertEvent
from .base import Sink

COLORS = {"new": "\033[1;31m", "update": "\033[33m", "end": "\033[32m", "fault": "\033[1;35m",
          "fault_end": "\033[36m"}


class TerminalSink(Sink):
    TYPE = "terminal"

    def __init__(self, cfg, context):
        self.color = cfg.color and sys.stdout.isatty()

    def emit(self, event: AlertEvent) -> None:
        line = event.line()
        if self.color:
            line = f"{COLORS[event.event]}{line}\033[0m"
        print(line, flush=True)

    def fault(self, event) -> None:
        line = event.line()
        if self.color:
            line = f"{COLORS[event.event]}{line}\033[0m"
        print(line, flush=True)


SINK = TerminalSink
