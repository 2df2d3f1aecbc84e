"""The sink interface: where alert events, fault events and health snapshots go."""
from __future__ import annotations

import abc
from typing import ClassVar

from ..alerts import AlertEvent
from ..faults.events import FaultEvent


class Sink(abc.ABC):
    TYPE: ClassVar[str]

    @abc.abstractmethod
    def emit(self, event: AlertEvent) -> None:
        """Deliver one alert event. Must not raise for a delivery problem: keep it and retry."""

    def health(self, snapshot: dict) -> None:
        """The agent's health (tier, model, ticks, rejects, outbox depth), sent periodically."""

    @abc.abstractmethod
    def fault(self, event: FaultEvent) -> None:
        """Deliver one sensor fault event (fault / fault_end), like an alert event."""

    def close(self) -> None:
        """Flush and release; called once on shutdown."""
