"""Scorers by type key. Model runtimes are imported only when the chain asks for them; a
runtime that is not installed, or that refuses the bundle, is logged and skipped — the
numpy fallback is always there."""
from __future__ import annotations

import importlib
import logging

from .base import Scorer, ScorerError, TickScore

log = logging.getLogger("stad.scorer")

RUNTIMES = {
    "tflite": "agent.scorers.tflite",
    "onnx": "agent.scorers.onnx",
}


def build_tiers(cfg, sensors: list[str]) -> list[Scorer]:
    """The model tiers of `cfg.scoring.chain` that load, in order (numpy not included)."""
    if not cfg.scoring.bundle:
        return []
    tiers: list[Scorer] = []
    for tier in cfg.scoring.chain:
        if tier == "numpy":
            break
        try:
            module = importlib.import_module(RUNTIMES[tier])
            tiers.append(module.create(cfg, sensors))
        except ImportError as exc:
            log.warning("scorer %s not available: %s (install the '%s' extra)", tier, exc, tier)
        except Exception as exc:  # noqa: BLE001 — a bad bundle must not stop the agent
            log.warning("scorer %s refused the bundle: %s", tier, exc)
    return tiers


__all__ = ["Scorer", "ScorerError", "TickScore", "build_tiers", "RUNTIMES"]
