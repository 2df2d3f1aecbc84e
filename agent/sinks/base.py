"""The sink interface: where alert events, fault events and health snapshots go."""
from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

from ..alerts import AlertEvent
from ..faults.events import FaultEvent
from ..paths import resolve_against


class SinkConfig:
    """Base of every sink's config dataclass (each declares its `TYPE` key next to its code)."""
    TYPE: ClassVar[str]
    #: Why a second sink of this type in one config cannot work (AgentConfig refuses it); None: any number.
    ONE_PER_AGENT: ClassVar[str | None] = None

    def mqtt_client(self, site: str, node: str) -> tuple[str, int, str] | None:
        """(host, port, client id) of the MQTT client this sink connects with, so that AgentConfig refuses
        two clients of one config sharing an id at one broker; None: no MQTT client."""
        return None

    def mqtt_topics(self, site: str, node: str) -> tuple[str, int, list[str]] | None:
        """(host, port, the topics it publishes), so that AgentConfig refuses an MQTT source that would read
        them back as samples; None: it publishes none."""
        return None

    def topic_problems(self, site: str, node: str) -> list[tuple[str, str]]:
        """(key path, problem) for MQTT topics this sink would build from the node's names that MQTT cannot carry
        (AgentConfig asks, with node.site and node.id); none for a sink without topics."""
        return []

    def preflight(self, resolve) -> list[tuple[str, str]]:
        """(key path, problem) for what this sink needs on this machine (see agent/preflight.py, and the questions
        to this host in agent/host_checks.py); `resolve` turns a config path into a real one."""
        return []


@dataclass(frozen=True)
class SinkContext:
    """What a sink needs from the agent besides its own config: who speaks, where state goes,
    and the directory relative paths are taken from (the config file's)."""
    node_id: str
    site: str
    state_dir: str
    base_dir: str = "."
    feedback: Callable | None = None   # takes a feedback.FeedbackRequest: the agent's inbox for operator feedback
    clock: Callable[[], float] = time.time   # this host's wall clock (the agent's): the MQTT outbox's ages
    boot_clock: Callable[[], float] | None = None   # a clock no step moves (None: CLOCK_BOOTTIME): tells a step of `clock`

    def resolve(self, path: str) -> Path:
        return resolve_against(path, self.base_dir)


class Sink(abc.ABC):
    TYPE: ClassVar[str]
    #: Keeps what it is given across a crash (the MQTT outbox): the agent writes to durable sinks
    #: first, so an event a crash cut short is at least there, and recover() completes the rest.
    DURABLE: ClassVar[bool] = False
    #: Every reason this sink counts a dropped event under (the keys of `stats()["dropped"]`): the
    #: metrics endpoint serves each from 0, so the first drop of an agent life is in `increase()`.
    DROP_REASONS: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def emit(self, event: AlertEvent) -> None:
        """Deliver one alert event. Must not raise for a delivery problem: keep it and retry."""

    def health(self, snapshot: dict) -> None:
        """The agent's health (tier, model, ticks, rejects, outbox depth), sent periodically."""

    def health_every_s(self) -> float | None:
        """How often this sink wants the agent's health (its own `health_interval_s`); None: the agent's default
        cadence (service.HEALTH_EVERY_S) is often enough."""
        return None

    @abc.abstractmethod
    def fault(self, event: FaultEvent) -> None:
        """Deliver one sensor fault event (fault / fault_update / fault_end), like an alert event."""

    def faults(self, events: list[FaultEvent]) -> None:
        """Deliver one tick's fault events, in order; a sink that stores them together overrides it (the MQTT
        outbox: one disk sync for them all)."""
        for event in events:
            self.fault(event)

    def stats(self) -> dict | None:
        """What the agent's health reports for this sink (writes, drops, current problem); None: nothing."""
        return None

    def dropped_this_run(self) -> dict[str, int]:
        """The events this sink dropped since the agent started, by reason (the stop summary's). By default its
        stats' `dropped`, which counts this life's; a sink whose counts outlive it (the MQTT outbox's) says so."""
        return dict((self.stats() or {}).get("dropped") or {})

    def close(self) -> None:
        """Flush and release; called once on shutdown."""

    def recover(self, event: AlertEvent) -> None:
        """The last alert event of a run that died may not have reached this sink: deliver it
        unless it is already there. By default it is delivered again."""
        self.emit(event)

    def unjournaled(self, journaled: AlertEvent | None) -> AlertEvent | None:
        """The newest alert event this sink holds when it is newer than the alert journal's
        `journaled` (None: no journal) — the last run wrote it but could not journal it (a full
        state disk) and died; None when the sink holds none or cannot tell. By default: None."""
        return None

    def recover_faults(self, events: list[FaultEvent]) -> None:
        """The same for the last tick's fault events of a run that died (the fault journal's)."""
        for ev in events:
            self.fault(ev)
