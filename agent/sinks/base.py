"""The sink interface: where alert events, health snapshots and sensor events go."""
from __future__ import annotations

import abc
from typing import ClassVar

from ..alerts import AlertEvent


class Sink(abc.ABC):
    TYPE: ClassVar[str]

    @abc.abstractmethod
    def emit(self, event: AlertEvent) -> None:
        """Deliver one alert event. Must not raise for a delivery problem: keep it and retry."""

    def health(self, snapshot: dict) -> None:
        """The agent's health (tier, model, ticks, rejects, outbox depth), sent periodically."""

    def stats(self) -> dict | None:
        """What the agent's health reports for this sink (writes, drops, current problem); None: nothing."""
        return None

    def sensor_event(self, event: dict) -> None:
        """A sensor went missing, came back, or got stuck."""

    def close(self) -> None:
        """Flush and release; called once on shutdown."""
