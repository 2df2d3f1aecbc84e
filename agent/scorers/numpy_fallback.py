"""The numpy fallback: AR(p), Markov surprise and neighbour fusion, combined per sensor.

Always available (numpy only), learns online on calm ticks, and is what the agent scores
with whenever no model runtime or no valid bundle is there.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .ar import ARModel
from .base import Scorer, TickScore, tick_score
from .fusion import FusionModel
from .markov import MarkovModel

if TYPE_CHECKING:
    from ..config import NumpyScorerConfig
    from ..window import WindowBuffer


class NumpyScorer(Scorer):
    TYPE = "numpy"

    def __init__(self, n: int, adjacency: np.ndarray, cfg: NumpyScorerConfig):
        self.n = n
        w = {"ar": 0.0, "markov": 0.0, "fusion": 0.0} | dict(cfg.weights)
        if not adjacency.any():
            w["fusion"] = 0.0
        total = sum(w.values()) or 1.0
        self.weights = {k: v / total for k, v in w.items()}
        self.ar = ARModel(n, cfg.ar_order, cfg.forgetting)
        self.markov = MarkovModel(n, cfg.markov_bins, cfg.markov_smoothing, cfg.forgetting)
        self.fusion = FusionModel(adjacency, cfg.forgetting)
        self._tick_key = None       # the newest tick whose features are built (score, then learn)
        self._tick = None

    def fit(self, z: np.ndarray, missing: np.ndarray) -> None:
        if len(z) <= self.ar.p + 2:
            raise ValueError(f"need more than {self.ar.p + 2} warm-up rows, got {len(z)}")
        self.ar.fit(z, missing)
        self.fusion.fit(z, missing)
        self.markov.fit(z, missing)
        self.markov.calibrate(z, missing)

    def combine(self, ar: np.ndarray, markov: np.ndarray, fusion: np.ndarray) -> np.ndarray:
        w = self.weights
        return w["ar"] * ar + w["markov"] * markov + w["fusion"] * fusion

    def _features(self, window: WindowBuffer) -> tuple:
        """This tick's features, built once for score() and learn() of the same tick."""
        key = float(window.ts[-1])
        if key != self._tick_key:
            self._tick_key = key
            self._tick = (self.ar.features(window), self.fusion.features(window), self.markov.transitions(window))
        return self._tick

    def score(self, window: WindowBuffer) -> TickScore:
        ar_x, fu_x, states = self._features(window)
        s = self.combine(self.ar.score(window, ar_x), self.markov.score(window, states),
                         self.fusion.score(window, fu_x))
        s *= ~window.missing[-1]
        return TickScore(sensor_scores=s, score=tick_score(s), tier=self.TYPE)

    def batch_scores(self, z: np.ndarray, missing: np.ndarray, steps: int) -> np.ndarray:
        """Per-sensor scores for rows p.. of a block, as score() gives them on windows of
        `steps` rows (used to calibrate the threshold)."""
        p = self.ar.p
        ar = self.ar.batch_scores(z, missing, steps)                 # rows p..
        mk = self.markov.batch_scores(z, missing)                    # rows 1..
        fu = self.fusion.batch_scores(z, missing)                    # rows 1..
        s = self.combine(ar, mk[p - 1:], fu[p - 1:])
        return np.where(missing[p:], 0.0, s)

    def learn(self, window: WindowBuffer) -> None:
        ar_x, fu_x, states = self._features(window)
        self.ar.learn(window, ar_x)
        self.markov.learn(window, states)
        self.fusion.learn(window, fu_x)

    def describe(self) -> dict:
        return {"tier": self.TYPE, "model_id": "numpy-ar-markov-fusion", "weights": self.weights}
