"""Sinks by type key, one module each, imported only when a config asks for them."""
from __future__ import annotations

import importlib

from .base import Sink

MODULES = {
    "terminal": "agent.sinks.terminal",
    "jsonl": "agent.sinks.jsonl",
    "mqtt": "agent.sinks.mqtt",
}


def open_sink(cfg, context) -> Sink:
    """`context` is the AgentConfig: node, site, state_dir and path resolution."""
    module = importlib.import_module(MODULES[cfg.TYPE])
    return module.SINK(cfg, context)
