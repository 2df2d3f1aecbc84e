"""The scorer interface, shared by the numpy fallback and the model runtimes.

A scorer sees the agent's WindowBuffer (T × N normalised values and missing-mask, oldest
first) and returns a TickScore: one non-negative score per sensor, the tick's score, and
what explains it. Scorers hold only their own state; nothing global.

The contract (checked for every scorer by tests/test_contracts.py): `score` does not learn —
only `learn` does, on the ticks the detector judges calm. It may keep a memory of the ticks it
has scored, keyed by the window's newest timestamp (the model runtimes keep their recent signed
forecast errors so: the bias statistic needs forecasts made from earlier windows), written so
that scoring the same window again overwrites it and returns the same TickScore. That is what
lets the chain retry a tick and the hot-swap shadow score a candidate on the pipeline's window.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..window import WindowBuffer


@dataclass(slots=True)
class TickScore:
    sensor_scores: np.ndarray            # (N,) ≥ 0, ~1 for normal behaviour, large for anomalies
    score: float                         # the tick's score (what the threshold sees)
    tier: str                            # which scorer produced it: 'tflite', 'onnx', 'numpy'
    #: () -> (sensor_weights (N,): spatial attention at the newest step, time_weights (T,): temporal
    #: attention over the window, oldest first): what the model attended to, for `stad-agent evaluate`'s
    #: attention plots. Called on first use only (it was half of a model scorer's cost per tick). An alert's
    #: `top_steps` do not read it: they say when the top sensors changed (alert_events.explain; the explain1
    #: round: the attention was near flat on the SKAB bundles and 2 ticks before every corridor incident).
    explanation: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
    _weights: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def _explained(self) -> tuple:
        if self._weights is None:
            self._weights = self.explanation() if self.explanation is not None else (None, None)
        return self._weights

    @property
    def sensor_weights(self) -> np.ndarray | None:
        return self._explained()[0]

    @property
    def time_weights(self) -> np.ndarray | None:
        return self._explained()[1]


class ScorerError(RuntimeError):
    """A scorer cannot produce a valid score for this tick (the agent steps down a tier)."""


class Scorer(abc.ABC):
    TYPE: ClassVar[str]
    #: True when `score`'s tick score is NaN or inf whenever a sensor score is (every sensor score is
    #: ≥ 0, NaN or inf, and the tick's score is their np.maximum.reduce, which keeps NaN): the chain's
    #: check of the tick's score then covers every sensor's, and it skips the per-sensor one.
    SCORE_COVERS_SENSORS: ClassVar[bool] = False

    @abc.abstractmethod
    def score(self, window: WindowBuffer) -> TickScore:
        """Score the newest tick of `window`: no learning; the same window scored again gives the
        same TickScore (a per-tick memory keyed by window.ts[-1] is allowed, see the module doc)."""

    def learn(self, window: WindowBuffer, calm: Callable[[float, int], bool] | None = None) -> None:
        """Update online state with the newest tick (called on ticks judged normal). `calm(score)`, when
        given, is the detector's rule for this tick: a scorer whose own score was blended with another's
        may ask it whether its own score alone is calm, and since how many ticks no alert is open
        (`calm(score, after_alert_ticks)`, detector.py; model_scorer.py)."""

    def fit(self, z: np.ndarray, missing: np.ndarray) -> None:
        """Fit on warm-up rows (n × N normalised values and missing-mask), oldest first."""

    def describe(self) -> dict:
        """Facts for the health report: model id, file hash, runtime."""
        return {"tier": self.TYPE}


def tick_score(sensor_scores: np.ndarray) -> float:
    """The tick's score: the worst sensor (an anomaly on one sensor is an anomaly)."""
    return float(sensor_scores.max()) if sensor_scores.size else 0.0
