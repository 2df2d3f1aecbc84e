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


def load_tiers(cfg, sensors: list[str]) -> tuple[list[Scorer], list[str]]:
    """The model tiers of `cfg.scoring.chain` that load `cfg.scoring.bundle`, in order (numpy not
    included), and one line per tier that did not: not installed, or refusing the bundle."""
    tiers: list[Scorer] = []
    refusals: list[str] = []
    for tier in cfg.scoring.chain:
        if tier == "numpy":
            break
        try:
            module = importlib.import_module(RUNTIMES[tier])
            tiers.append(module.create(cfg, sensors))
        except ImportError as exc:
            refusals.append(f"scorer {tier} not available: {exc} (install the '{tier}' extra)")
        except Exception as exc:  # noqa: BLE001 — a bad bundle must not stop the agent
            refusals.append(f"scorer {tier} refused the bundle: {exc}")
    return tiers, refusals


def build_tiers(cfg, sensors: list[str]) -> list[Scorer]:
    """The model tiers the agent starts with; each tier that does not load is logged."""
    if not cfg.scoring.bundle:
        return []
    tiers, refusals = load_tiers(cfg, sensors)
    for line in refusals:
        log.warning("%s", line)
    return tiers


__all__ = ["Scorer", "ScorerError", "TickScore", "build_tiers", "load_tiers", "RUNTIMES"]
