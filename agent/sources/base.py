"""The source interface: a blocking iterator of Records that another thread may close."""
from __future__ import annotations

import abc
import time
from pathlib import Path
from typing import Callable, ClassVar, Iterator

from ..paths import resolve_against
from ..records import Record, Rejects


class SourceConfig:
    """Base of every source's config dataclass (each declares its `TYPE` key next to its code)."""
    TYPE: ClassVar[str]
    #: True for a source that waits for data from the network or a device and never ends on its own
    #: (udp, mqtt, modbus, opcua): `stad-convert train` reads recordings and refuses it.
    endless: ClassVar[bool] = False

    def sensor_refs(self) -> list[tuple[str, str]]:
        """(key path, sensor name) of every sensor this source names; AgentConfig checks them."""
        return []

    def sensor_problems(self, sensors: list[str]) -> list[tuple[str, str]]:
        """(key path, problem) for what this source cannot do with these sensors (a simulator
        scenario they do not fit, an anomaly on a station that is not there); AgentConfig reports them."""
        return []

    def listens_on(self) -> tuple[str, str, int] | None:
        """(protocol, address, port) this source binds, so that AgentConfig refuses two sources on
        one (the second could not bind it); None: it binds nothing fixed."""
        return None

    def mqtt_client(self) -> tuple[str, int, str] | None:
        """(host, port, client id) of the MQTT client this source connects with when its id is fixed
        (AgentConfig refuses two clients of one config sharing an id at one broker); None: none, or a random id."""
        return None

    def mqtt_filters(self) -> tuple[str, int, list[str]] | None:
        """(host, port, the topic filters it subscribes to), so that AgentConfig refuses one that would read
        this agent's own sink topics; None: it subscribes to none."""
        return None

    def preflight(self, resolve) -> list[tuple[str, str]]:
        """(key path, problem) for what this source needs on this machine (see agent/preflight.py, and the questions
        to this host in agent/host_checks.py); `resolve` turns a config path into a real one."""
        return []

    def tick_notes(self, tick_s: float) -> list[tuple[str, str]]:
        """(key path, note) for what this source cannot deliver at this tick (a device asked to send less often
        than a tick): said by check-config and at `run`'s start, never refused — a slow feed is carried forward."""
        return []

    def label(self) -> str:
        """What an operator calls this source: its type and where it reads ('modbus 10.0.0.5:502');
        a `source` fault (agent/faults/source.py) is named by it."""
        return self.TYPE

    def carried(self) -> tuple[list[str], bool]:
        """(the sensors this source names, whether it may carry others too: a feed whose records name
        their sensors — udp, stdin, a replay without `columns`, an mqtt '*' topic). A source's outage is
        told as one fault of the sensors it carries (agent/faults/source.py)."""
        named = list(dict.fromkeys(sensor for _, sensor in self.sensor_refs()))
        return named, not named


class Source(abc.ABC):
    TYPE: ClassVar[str]
    #: True for sources that follow the wall clock (udp, stdin, mqtt, modbus): the agent then
    #: closes ticks on time even when a sensor falls silent.
    live: ClassVar[bool] = False

    def __init__(self, cfg: SourceConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0, clock: Callable[[], float] = time.time):
        """`tick_s` is the agent's tick, for sources that sample on it (the simulator); `clock` the agent's wall
        clock, for a source that stamps a record's arrival (`received`) itself: the agent's pump stamps the
        others when it takes them, which for a source with a queue of its own (mqtt) is after its backlog."""
        self.cfg = cfg
        self.clock = clock
        self.base_dir = base_dir
        self.tick_s = tick_s
        self.sensors = sensors
        self.rejects = rejects

    @abc.abstractmethod
    def records(self) -> Iterator[Record]:
        """Yield records until the input ends or close() is called."""

    def resolve(self, path: str) -> Path:
        """A path from this source's config, relative to the config file's directory."""
        return resolve_against(path, self.base_dir)

    def close(self) -> None:
        """Make records() return soon. Safe to call from another thread, more than once."""

    #: What the source knows of its peer (the device, server or broker it reads): None when it cannot
    #: tell (udp, stdin, a file: silence is all they see), else (answering, why not). Set by the source's
    #: thread (one assignment), read by the fault tracker when a sensor's `missing` is decided.
    peer: tuple[bool, str] | None = None
    #: The last outage of its peer that ended: (wall time it began, wall time it ended, what said so).
    #: user11: ticks close late (window.idle_flush_s), so a sensor's silence is often decided after the
    #: device is back; `peer_since` then still says the silence was that outage.
    peer_outage: tuple[float, float, str] | None = None
    _lost_at = 0.0      # wall time its peer was found gone (0: not gone since it last came back)

    def peer_lost(self, why: str) -> None:
        """The peer stopped answering: what said so first in this outage is kept (the retries' errors
        that follow — 'cannot connect' — say less of what happened)."""
        if self.peer is None or self.peer[0]:
            self._lost_at = time.time()
            self.peer = (False, why)

    def peer_back(self) -> None:
        if self.peer is not None and not self.peer[0]:
            self.outage_over(self.peer[1])
        if self.peer != (True, ""):
            self.peer = (True, "")

    def outage_over(self, why: str) -> None:
        """Its peer answers again after the outage that began at `_lost_at` (peer_lost's, or set by a
        source whose `peer` is a property as it finds the peer gone): kept as `peer_outage`."""
        if self._lost_at:
            self.peer_outage = (self._lost_at, time.time(), why)
            self._lost_at = 0.0

    def recording_gap(self, since: float, until: float) -> str | None:
        """Whether a silence of every sensor it carries, from `since` to `until` (the data's time), lies between
        two of its recordings — not a silence of a device, but how the recordings were made — and which (words for
        the log). None here: a live source's silence is a silence (faults/source.py tells it)."""
        return None

    def peer_since(self, since: float, until: float) -> tuple[bool, str] | None:
        """What it says of its peer for a silence from `since` to `until` (wall-clock seconds, as a live
        source stamps its records): lost now, or lost in an outage that ended after `since` and began by
        `until` — then (False, why, and when it answered again)."""
        peer, outage = self.peer, self.peer_outage
        if peer is not None and peer[0] and outage is not None and outage[1] >= since and outage[0] <= until:
            return False, f"{outage[2]}; answering again since {_clock(outage[1])}"
        return peer


def _clock(ts: float) -> str:
    """HH:MM:SS UTC of a wall-clock time, for a message."""
    return time.strftime("%H:%M:%S", time.gmtime(ts))
