"""The source interface: a blocking iterator of Records that another thread may close."""
from __future__ import annotations

import abc
from pathlib import Path
from typing import ClassVar, Iterator

from ..config import resolve_against
from ..records import Record, Rejects


class Source(abc.ABC):
    TYPE: ClassVar[str]
    #: True for sources that follow the wall clock (udp, stdin, mqtt, modbus): the agent then
    #: closes ticks on time even when a sensor falls silent.
    live: ClassVar[bool] = False

    def __init__(self, cfg, sensors: list[str], rejects: Rejects, base_dir: str = "."):
        self.cfg = cfg
        self.base_dir = base_dir
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
