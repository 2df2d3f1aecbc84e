"""One readable line per alert or fault event on stdout.

stdout can go away under a running agent: a pipe whose reader exited (`stad-agent run | head`),
a journal stream cut by a restart of systemd-journald. A line that cannot be written is dropped
and counted (health `sinks.terminal.dropped`, the summary), said once in the log, not raised: the
other sinks still get the event (Sink.emit must not raise for a delivery problem).

A restart does not print the last run's last events again (`recover`): stdout cannot be asked what it
already has, and the line was printed with the journal's write.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import ClassVar

from ..alerts import AlertEvent
from ..plugins import Plugin
from ..typed import doc
from .base import Sink, SinkConfig, SinkContext

log = logging.getLogger("stad.sink.terminal")

STDOUT_CLOSED = "stdout was closed when the agent started"
COLORS = {"new": "\033[1;31m", "update": "\033[33m", "end": "\033[32m", "fault": "\033[1;35m",
          "fault_update": "\033[35m", "fault_end": "\033[36m"}


@dataclass
class TerminalConfig(SinkConfig):
    TYPE: ClassVar[str] = "terminal"
    color: bool = doc("colour the lines (only when stdout is a terminal)", default=False)


class TerminalSink(Sink):
    TYPE = "terminal"
    DROP_REASONS = ("alert", "fault")   # the kind of line that could not be written

    def __init__(self, cfg: TerminalConfig, context: SinkContext):
        # stdout closed at the start (`stad-agent run >&-`, a supervisor that closes it): Python's sys.stdout is None,
        # and print() to it writes nothing without a word — each line was counted written and lost (review39); with
        # `color` the agent ended at its start on None.isatty()
        self.color = cfg.color and sys.stdout is not None and sys.stdout.isatty()
        self.written = 0
        self.dropped: dict[str, int] = {}   # kind (alert / fault) → lines that could not be written
        self.problem: str | None = None
        if sys.stdout is None:
            self._failed(STDOUT_CLOSED)

    def emit(self, event: AlertEvent) -> None:
        self._print(event.event, event.line(), "alert")

    def fault(self, event) -> None:
        self._print(event.event, event.line(), "fault")

    def recover(self, event: AlertEvent) -> None:
        """Not printed again. The last run printed it just after journaling it (agent/delivery.py `_emit`):
        a restart's redelivery put a second `NEW` for the same alert on stdout (the journal under systemd),
        read by an operator as another alert (user12). Only a kill between the journal's write and the
        print loses the line here; the jsonl file and MQTT complete theirs, and the restart's log line says
        the alert was continued."""

    def recover_faults(self, events) -> None:
        """Not printed again either, for the same reason as `recover`."""

    def stats(self) -> dict:
        return {"written": self.written, "dropped": dict(self.dropped), "problem": self.problem}

    def _print(self, event: str, line: str, kind: str) -> None:
        if self.color:
            line = f"{COLORS[event]}{line}\033[0m"
        try:
            if sys.stdout is None:
                raise ValueError(STDOUT_CLOSED)
            print(line, flush=True)
        except (OSError, ValueError) as exc:       # ValueError: stdout closed
            self.dropped[kind] = self.dropped.get(kind, 0) + 1
            self._failed(getattr(exc, "strerror", None) or str(exc))
            return
        self.written += 1
        if self.problem is not None:
            log.warning("terminal: writing to stdout again (%s dropped meanwhile)",
                        ", ".join(f"{n} {k}" for k, n in self.dropped.items()))
            self.problem = None


    def _failed(self, problem: str) -> None:
        if problem != self.problem:
            log.error("terminal: cannot write to stdout (%s); its lines are dropped and counted, the other "
                      "sinks still get every event", problem)
        self.problem = problem


PLUGIN = Plugin(config=TerminalConfig, create=TerminalSink)
