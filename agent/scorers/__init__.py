"""Scorers. The model runtimes (tflite, onnx) are plugins: every module of this package that
declares `PLUGIN` (see agent/plugins.py), with its `scoring.<type>` config section.

A runtime imports its library only when a tier is created; a runtime that is not installed, or
that refuses the bundle, is one log line and is skipped — the numpy fallback is always there.
The bundle's manifest is read and checked against the config once for all tiers
(agent/bundle.py); each runtime then reads its own artifact with `read_verified` (size and
sha256 of the bytes it runs). So each file is hashed once, and only the files the gateway
loads: training-only files (weights, held-out and calibration data) are `stad-convert
verify`'s business, not the chain's — though the check a bundle meets first, at start (check-config and
`run`: agent/preflight.py) as from a hot swap (agent/hotswap.py), hashes every file it lists
(`model_scorer.load_fitting`: a tampered file refused in the start's words wherever the bundle comes from).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import bundle as bundles
from ..plugins import Plugin, discover
from .base import Scorer, ScorerError, TickScore
from .standby import StandbyTier

if TYPE_CHECKING:
    from ..config import ScoringConfig

log = logging.getLogger("stad.scorer")


def runtimes() -> dict[str, Plugin]:
    """type key → Plugin of every model runtime, in default chain order."""
    return discover(__name__)


def load_tiers(scoring: ScoringConfig, bundle: str, expect: bundles.Expectation, top_k: int,
               base_dir: str = ".", chain: list[str] | None = None, standby: bool = False
               ) -> tuple[list[Scorer], list[str]]:
    """The model tiers of `chain` (default: scoring.chain) that load `bundle`, in order (numpy not
    included), and one line per tier that did not: not installed, or refusing the bundle — one line for
    the tiers a bundle refused before any runtime read it (a hash, a signature, its declared inputs: the same
    words, ~650 characters, were said once per tier; review21, qa44; `load_fitting`, the start's check).
    `standby`: every tier below the first that loads is a StandbyTier (agent/scorers/standby.py: verified now,
    its runtime loaded when the chain needs it)."""
    from .model_scorer import load_fitting
    tiers: list[Scorer] = []
    refusals: list[str] = []
    loaded: bundles.Bundle | None = None
    refused: Exception | None = None
    by_bundle: list[str] = []              # the tiers `refused` (the bundle's own load) stopped
    for tier in scoring.chain if chain is None else chain:
        if tier == "numpy":
            break
        try:
            if loaded is None and refused is None:
                try:
                    loaded = load_fitting(bundle, base_dir, expect, verify_hashes=False)
                except Exception as exc:  # noqa: BLE001 — reported per tier below
                    refused = exc
            if refused is not None:
                raise refused
            if standby and tiers:
                tiers.append(StandbyTier(runtimes()[tier], getattr(scoring, tier), loaded, top_k,
                                         scoring.sensor_tail_quantile))
                continue
            tiers.append(runtimes()[tier].create(getattr(scoring, tier), loaded, top_k))
            tiers[-1].tail_quantile = scoring.sensor_tail_quantile      # sensor_tails.py (0: off)
        except ImportError as exc:
            refusals.append(f"scorer {tier} not available: {exc} (install the '{tier}' extra)")
        except Exception as exc:  # noqa: BLE001 — a bad bundle must not stop the agent
            if exc is refused:
                by_bundle.append(tier)
            else:
                refusals.append(f"scorer {tier} refused the bundle: {exc}")
    if by_bundle:
        refusals.append(f"scorer{'s' if len(by_bundle) > 1 else ''} {', '.join(by_bundle)} refused the bundle: "
                        f"{refused}")
    return tiers, refusals


def build_tiers(scoring: ScoringConfig, expect: bundles.Expectation, top_k: int,
                base_dir: str = ".") -> list[Scorer]:
    """The model tiers the agent starts with (from scoring.bundle), those below the top one on standby;
    each that does not load is logged."""
    if not scoring.bundle:
        return []
    tiers, refusals = load_tiers(scoring, scoring.bundle, expect, top_k, base_dir, standby=True)
    for line in refusals:
        log.warning("%s", line)
    return tiers


__all__ = ["Scorer", "ScorerError", "TickScore", "build_tiers", "load_tiers", "runtimes"]
