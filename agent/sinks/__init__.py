"""Sinks by type key: every module of this package that declares `PLUGIN` (see agent/plugins.py); a config
imports only the ones it names (`plugin`)."""
from __future__ import annotations

from ..plugins import Plugin, discover, find, unusable as _unusable
from .base import Sink, SinkConfig, SinkContext


def plugins() -> dict[str, Plugin]:
    """type key → Plugin of every sink."""
    return discover(__name__)


def plugin(type_key: str) -> Plugin | None:
    """The sink whose type is `type_key` (its module alone imported); None when there is none."""
    return find(__name__, type_key)


def unusable() -> dict[str, str]:
    """module name → why it cannot be imported: this package's sink files that are there but broken."""
    return _unusable(__name__)


def report_keys(sinks: list) -> list[str]:
    """Each sink's key in health's `sinks`, the stop summary's `undelivered` and the metrics' `sink` label: its type,
    and for a second sink of a type (two jsonl files on two disks) `<type>#2`, and so on. Keyed by type alone, the
    second's figures replaced the first's: a jsonl sink dropping every event on a full disk read as writing them all
    beside another that wrote (review39)."""
    seen: dict[str, int] = {}
    keys = []
    for sink in sinks:
        seen[sink.TYPE] = seen.get(sink.TYPE, 0) + 1
        keys.append(sink.TYPE if seen[sink.TYPE] == 1 else f"{sink.TYPE}#{seen[sink.TYPE]}")
    return keys


def open_sink(cfg: SinkConfig, context: SinkContext) -> Sink:
    """The sink for one `sinks[i]` config entry."""
    return plugin(cfg.TYPE).create(cfg, context)


__all__ = ["Sink", "SinkConfig", "SinkContext", "open_sink", "plugin", "plugins", "report_keys", "unusable"]
