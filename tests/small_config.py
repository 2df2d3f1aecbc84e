"""A small agent config file for a check-config test: one source, its sensors, and what check-config takes with no
other file (no sinks, an 8-tick window, a 16-tick warm-up). review38's tests write theirs through it."""
from __future__ import annotations

from pathlib import Path

import yaml


def small_config(tmp_path: Path, source: dict, sensors: list[str], tick_s: float = 30, warmup_ticks: int = 16) -> Path:
    """tmp_path/agent.yaml holding that config."""
    f = tmp_path / "agent.yaml"
    f.write_text(yaml.safe_dump({
        "node": {"id": "t"}, "tick_s": tick_s, "topology": "none", "sensors": sensors, "sources": [source],
        "window": {"steps": 8}, "warmup": {"ticks": warmup_ticks}, "sinks": []}, sort_keys=False))
    return f
