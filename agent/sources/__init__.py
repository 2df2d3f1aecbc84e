"""Sources by type key: every module of this package that declares `PLUGIN` (see agent/plugins.py); a config
imports only the ones it names (`plugin`).

A source's optional dependency (paho, pymodbus) is imported when the source is opened, so a
config naming it loads everywhere and `open_source` refuses it in one line where it is missing.
"""
from __future__ import annotations

import time
from typing import Callable

from ..plugins import Plugin, discover, find, unusable as _unusable
from ..records import Rejects
from .base import Source, SourceConfig


class SourceUnavailable(RuntimeError):
    pass


def plugins() -> dict[str, Plugin]:
    """type key → Plugin of every source."""
    return discover(__name__)


def plugin(type_key: str) -> Plugin | None:
    """The source whose type is `type_key` (its module alone imported); None when there is none."""
    return find(__name__, type_key)


def unusable() -> dict[str, str]:
    """module name → why it cannot be imported: this package's source files that are there but broken."""
    return _unusable(__name__)


def open_source(cfg: SourceConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                tick_s: float = 1.0, clock: Callable[[], float] = time.time) -> Source:
    """Instantiate the source for one `sources[i]` config entry; `tick_s` is the agent's tick, `clock` its
    wall clock (Source.clock)."""
    try:
        return plugin(cfg.TYPE).create(cfg, sensors, rejects, base_dir=base_dir, tick_s=tick_s, clock=clock)
    except ImportError as exc:
        raise SourceUnavailable(f"source '{cfg.TYPE}' cannot be used: {exc} (install the matching extra)") from exc


__all__ = ["Source", "SourceConfig", "SourceUnavailable", "open_source", "plugin", "plugins", "unusable"]
