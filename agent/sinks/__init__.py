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


def open_sink(cfg: SinkConfig, context: SinkContext) -> Sink:
    """The sink for one `sinks[i]` config entry."""
    return plugin(cfg.TYPE).create(cfg, context)


__all__ = ["Sink", "SinkConfig", "SinkContext", "open_sink", "plugin", "plugins", "unusable"]
