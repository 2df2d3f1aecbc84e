"""Sinks by type key: every module of this package that declares `PLUGIN` (see agent/plugins.py)."""
from __future__ import annotations

from ..plugins import Plugin, discover
from .base import Sink, SinkConfig, SinkContext


def plugins() -> dict[str, Plugin]:
    """type key → Plugin of every sink."""
    return discover(__name__)


def open_sink(cfg: SinkConfig, context: SinkContext) -> Sink:
    """The sink for one `sinks[i]` config entry."""
    return plugins()[cfg.TYPE].create(cfg, context)


__all__ = ["Sink", "SinkConfig", "SinkContext", "open_sink", "plugins"]
