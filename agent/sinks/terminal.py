"""One readable line per alert or fault event on stdout."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import ClassVar

from ..alerts import AlertEvent
from ..plugins import Plugin
from ..typed import doc
from .base import Sink, SinkConfig, SinkContext

COLORS = {"new": "\033[1;31m", "update": "\033[33m", "end": "\033[32m", "fault": "\033[1;35m",
          "fault_end": "\033[36m"}


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

    def fault(self, event) -> None:
        line = event.line()
        if self.color:
            line = f"{COLORS[event.event]}{line}\033[0m"
        print(line, flush=True)


PLUGIN = Plugin(config=TerminalConfig, create=TerminalSink)
