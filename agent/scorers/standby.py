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

Warm-up: a standby loaded later is prepared by the pipeline as a hot-swap candidate is (agent/pipeline.py
`_prepare_standby`), on the ticks it keeps (`keep`): the warm-up's, when the tier would have learned from them
(`scoring.profile`; a threshold that learns from warm-up scores: threshold.clock_scale_*, recurring_*,
likelihood) — its profile fitted, its threshold calibrated and taught on the ticks a tier loaded at start was,
so it alarms as that tier would. Fitted on the recent ticks instead (perf50), on SKAB's dev files it agreed
with it on 93 % of the ticks' alert state with the fault 50 ticks after warm-up, 90 % 300 after, F1 0.82 vs
0.89 (docs/measured/model-updates.md, swap3). A hot swap's standby keeps the recent ticks its top tier was
fitted on. Cost: the warm-up's normalised ticks (float32; at most RecentTicks.MAX_TICKS) held until the load —
none on the demo, whose tiers learn nothing from warm-up. Checkpointed while the standby has not loaded
(`kept_state` / `kept_from`, the pipeline's "standby" key; swap4; dropped once its load failed: faults7):
restored, a standby that loads after a restart is fitted and taught on the warm-up as before it; without them it was fitted on the recent ticks (perf50's
way: on SKAB 90–93 % of the ticks' alert state equal to a loaded tier's). Checked as the recent ticks are (at
most MAX_TICKS, one column per sensor, times increasing up to the restored window's last): ticks that do not fit
are refused on their own (agent/pipeline_state.py, restored_standby), the rest of the state restored. Ticks stamped
after the restored window's last (a warm-up history stamped ahead of the live data: user12's local-time export)
are this plant's ticks on another clock: moved back to end one of their steps before it, said, and kept — as the
recent ticks are kept in order (agent/recent_ticks.py); before, they were refused and the standby fitted on the
recent ticks (qa33).
"""
from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from ..bundle import Bundle, read_verified
from ..recent_ticks import MAX_TICKS, checked_ticks, in_time_order, read_ticks, usual_step
from .base import Scorer, ScorerError, TickScore
from .model_scorer import ModelScorer, pick_artifact

log = logging.getLogger("stad.scorer")

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
        self.ticks: tuple | None = None     # what `load`'s tier is prepared on (`keep`)

    def keep(self, z: np.ndarray, missing: np.ndarray, ts: np.ndarray, calm: np.ndarray | None = None) -> None:
        """The ticks (normalised z, missing, ts, calm; oldest first) the loaded tier is to be fitted and taught on,
        as the tier above it was: the warm-up's, or a hot swap's recent ones. Copies, z as float32 (as the
        recent ticks are kept), the newest RecentTicks.MAX_TICKS."""
        last = slice(-MAX_TICKS, None)
        self.ticks = (np.asarray(z[last], np.float32), np.array(missing[last], bool), np.array(ts[last], np.float64),
                      np.ones(len(ts[last]), bool) if calm is None else np.array(calm[last], bool))

    def kept_state(self) -> dict | None:
        """The kept ticks as the checkpoint writes them (as kept: z float32), or None when none are kept. Once the
        load has failed (`failed`: the chain skips this tier for the rest of this life) they are dropped here, at
        the next checkpoint, said once: nothing in this life fits on them, and a next start that loads it fits it
        on the recent ticks, as with a checkpoint without them (before: ~0.8 MB in every checkpoint; faults7)."""
        ticks = self.ticks          # (one read: `failed` is set by the load's thread)
        if ticks is not None and self.failed is not None:
            log.info("scorer %s: its load failed, so its %d kept warm-up ticks are dropped from the checkpoint "
                     "(a next start that loads it fits it on the recent ticks)", self.TYPE, len(ticks[2]))
            self.ticks = ticks = None
        if ticks is None:
            return None
        z, missing, ts, calm = ticks
        return {"z": z, "missing": missing, "ts": ts, "calm": calm}

    def kept_from(self, state: dict, n: int, last_ts: float) -> tuple:
        """The ticks of kept_state() for `n` sensors, newest at most `last_ts` (the restored window's: ticks
        stamped after it moved back before it, said; the module's doc), checked but not kept (the pipeline sets
        `ticks` once the rest of its state is restored); ValueError (or KeyError / TypeError) naming the key when
        they do not fit."""
        name = f"standby.{self.TYPE}"
        z, missing, ts, calm = read_ticks(state, name, n)
        ts, places = in_time_order(ts)
        ahead = float(ts[-1]) - last_ts if len(ts) and np.isfinite(ts).all() else 0.0
        if places or ahead > 0:
            if ahead > 0:
                ts = ts - (ahead + usual_step(ts))
            log.warning("checkpoint: the %s standby's kept warm-up ticks were %s (a warm-up history stamped ahead "
                        "of the live data: exported in local time while the sender stamps UTC?): moved back to end "
                        "before it, all %d kept", self.TYPE,
                        f"stamped up to {ahead:.0f} s after the restored window's last tick" if ahead > 0 else
                        f"out of time order at {places} place(s)", len(ts))
        return checked_ticks((z, missing, ts, calm), name, last_ts, 1, MAX_TICKS)

    def shift_time(self, delta: float) -> None:
        """The kept ticks' times moved with the rest of the learned state's (agent/timebase.py shift_times: a
        step of this host's clock), so they stay before the window's."""
        if self.ticks is not None:
            z, missing, ts, calm = self.ticks
            self.ticks = (z, missing, ts + delta, calm)

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
