"""The scorer interface, shared by the numpy fallback and the model runtimes.

A scorer sees the agent's WindowBuffer (T × N normalised values and missing-mask, oldest
first) and returns a TickScore: one non-negative score per sensor, the tick's score, and
what explains it. Scorers hold only their own state; nothing global.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..window import WindowBuffer


@dataclass(slots=True)
class TickScore:
    sensor_scores: np.ndarray            # (N,) ≥ 0, ~1 for normal behaviour, large for anomalies
    score: float                         # the tick's score (what the threshold sees)
    tier: str                            # which scorer produced it: 'tflite', 'onnx', 'numpy'
    sensor_weights: np.ndarray | None = None   # (N,) spatial attention at the newest step
    time_weights: np.ndarray | None = None     # (T,) temporal attention over the window, oldest first


class ScorerError(RuntimeError):
    """A scorer cannot produce a valid score for this tick (the agent steps down a tier)."""


class Scorer(abc.ABC):
    TYPE: ClassVar[str]

    @abc.abstractmethod
    def score(self, window: WindowBuffer) -> TickScore:
        """Score the newest tick of `window`. Must not change the scorer's state."""

    def learn(self, window: WindowBuffer) -> None:
        """Update online state with the newest tick (called on ticks judged normal)."""

    def fit(self, z: np.ndarray, missing: np.ndarray) -> None:
        """Fit on warm-up rows (n × N normalised values and missing-mask), oldest first."""

    def describe(self) -> dict:
        """Facts for the health report: model id, file hash, runtime."""
        return {"tier": self.TYPE}


def tick_score(sensor_scores: np.ndarray) -> float:
    """The tick's score: the worst sensor (an anomaly on one sensor is an anomaly)."""
    return float(sensor_scores.max()) if sensor_scores.size else 0.0
