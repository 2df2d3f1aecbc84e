"""The sink interface: where alert events, health snapshots and sensor events go."""
from __future__ import annotations

import abc
from typing import ClassVar

from ..alerts import AlertEvent


class Sink(abc.ABC):
    TYPE: ClassVar[str]
    #: Keeps what it is given across a crash (the MQTT outbox): the agent writes to durable sinks
    #: first, so an event a crash cut short is at least there, and recover() completes the rest.
    DURABLE: ClassVar[bool] = False

    @abc.abstractmethod
    def emit(self, event: AlertEvent) -> None:
        """Deliver one alert event. Must not raise for a delivery problem: keep it and retry."""

    def health(self, snapshot: dict) -> None:
        """The agent's health (tier, model, ticks, rejects, outbox depth), sent periodically."""

    def sensor_event(self, event: dict) -> None:
        """A sensor went missing, came back, or got stuck."""

    def close(self) -> None:
        """Flush and release; called once on shutdown."""

    def recover(self, event: AlertEvent) -> None:
        """The last alert event of a run that died may not have reached this sink: deliver it
        unless it is already there. By default it is delivered again."""
        self.emit(event)
