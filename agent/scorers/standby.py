"""A standby model tier: a tier below the active one, held as its verified bundle until the chain
steps down to it.

Why: the shipped demo's chain is [tflite, onnx, numpy]; loading every tier at start put both
runtimes in memory (onnxruntime and its session: ~30 MiB of the demo's 78 MiB peak) for a tier
that scores only after the one above it fails. A standby checks at start what a loaded tier's
creation checks before its runtime is involved — the bundle (manifest, against the config: done
once for all tiers by load_tiers) and the sha256 of the artifact this runtime would run — so a
corrupt standby is said at start as before; its runtime is imported and its session created only
by `load`, which the chain calls off the tick thread when it first steps down to it
(agent/scorers/chain.py). Its runtime's library not installed is said at start too, as for a loaded
tier ("scorer onnx not available: …", the tier left out of the chain): found on the import path
(Plugin.installed, importlib.util.find_spec), not imported. What only the runtime can refuse (a
library installed but broken, the model's inputs and outputs) is said at that load, and the chain
stays on the tier below.

Warm-up: a standby loaded later is prepared by the pipeline as a hot-swap candidate is, on the
recent ticks it keeps (agent/pipeline.py `_prepare_standby`): its profile fitted on them (with
`scoring.profile`), its threshold taught their scores (threshold.clock_scale_*, recurring_*,
likelihood) — the same model on the plant's latest ticks, so it alarms as a tier warmed up at start.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..bundle import Bundle, read_verified
from .base import Scorer, ScorerError, TickScore
from .model_scorer import ModelScorer, pick_artifact

if TYPE_CHECKING:
    from ..plugins import Plugin
    from ..window import WindowBuffer


def scorer_class(plugin: Plugin) -> type[ModelScorer]:
    """The ModelScorer subclass a runtime plugin's module declares for its type (its ARTIFACTS)."""
    module = vars(sys.modules[plugin.create.__module__])
    return next(v for v in module.values()
                if isinstance(v, type) and issubclass(v, ModelScorer) and getattr(v, "TYPE", None) == plugin.type)


class StandbyTier(Scorer):
    """A model tier not loaded yet: never scores (the chain steps over it and loads it)."""

    def __init__(self, plugin: Plugin, cfg: Any, bundle: Bundle, top_k: int, tail_quantile: float):
        self.TYPE = plugin.type
        if not plugin.installed():
            raise ImportError(f"{' or '.join(plugin.libraries)} is not installed (found on no import path; "
                              "this tier is on standby, so nothing was imported)")
        self.plugin, self.cfg, self.top_k, self.tail_quantile = plugin, cfg, top_k, tail_quantile
        self.bundle = bundle
        self.manifest = bundle.manifest
        self.kind = pick_artifact(bundle, scorer_class(plugin).ARTIFACTS)
        self.artifact = bundle.artifact(self.kind)
        read_verified(bundle.artifact_path(self.kind), self.artifact)     # the bytes `load` will verify again
        self.failed: str | None = None      # why `load` did not give a scorer: the chain skips this tier

    def load(self) -> Scorer:
        """The tier itself: its runtime imported and its model loaded (seconds: call it off the tick thread)."""
        scorer = self.plugin.create(self.cfg, self.bundle, self.top_k)
        scorer.tail_quantile = self.tail_quantile
        return scorer

    def align_to(self, normaliser) -> None:
        """Nothing to align yet: the loaded tier is aligned to the pipeline's normalisation as it is then
        (Pipeline.prepare)."""

    def score(self, window: WindowBuffer) -> TickScore:
        raise ScorerError(f"the {self.TYPE} tier is on standby (not loaded)")

    def describe(self) -> dict:
        """As a loaded tier says what it runs (the artifact it would load, checked at start), and that it is not
        loaded yet — or why its load failed."""
        return {"tier": self.TYPE, "model_id": self.bundle.model_id, "artifact": self.artifact.file,
                "quantization": self.kind.rsplit("_", 1)[-1], "sha256": self.artifact.sha256,
                "standby": self.failed or "not loaded"}
