"""Sources by type key, one module each, imported only when a config asks for them."""
from __future__ import annotations

import importlib

from ..records import Rejects
from .base import Source

MODULES = {
    "simulate": "agent.sources.simulate",
    "replay": "agent.sources.replay",
    "udp": "agent.sources.udp",
    "stdin": "agent.sources.stdin",
    "mqtt": "agent.sources.mqtt",
    "modbus": "agent.sources.modbus",
}


class SourceUnavailable(RuntimeError):
    pass


def open_source(cfg, sensors: list[str], rejects: Rejects, base_dir: str = ".", tick_s: float = 1.0) -> Source:
    """Instantiate the source for one `sources[i]` config entry; `tick_s` is the agent's tick."""
    name = MODULES[cfg.TYPE]
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise SourceUnavailable(f"source '{cfg.TYPE}' cannot be used: {exc} (install the matching extra)") from exc
    if cfg.TYPE == "simulate":
        # The simulator samples once per tick: the agent's tick unless its own config overrides.
        return module.SOURCE(cfg, sensors, rejects, base_dir=base_dir, tick_s=tick_s)
    return module.SOURCE(cfg, sensors, rejects, base_dir=base_dir)
