"""The numpy fallback: AR(p) with seasonal regressors, Markov surprise and neighbour fusion,
combined per sensor.

Always available (numpy only), learns online on calm ticks, and is what the agent scores
with whenever no model runtime or no valid bundle is there. The AR model reads the clock
through a seasonal profile (seasonal.py) so a scheduled daily change is not a surprise.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .ar import ARModel
from .base import Scorer, TickScore, tick_score
from .fusion import FusionModel
from .markov import MarkovModel
from .seasonal import SeasonalFeatures

if TYPE_CHECKING:
    from ..config import NumpyScorerConfig
    from ..window import WindowBuffer


class NumpyScorer(Scorer):
    TYPE = "numpy"

    def __init__(self, n: int, adjacency: np.ndarray, cfg: NumpyScorerConfig, tick_s: float = 1.0, steps: int = 32):
        """`tick_s`: the agent's tick (seasonal bins); `steps`: the window length (rows remembered)."""
        self.n = n
        w = {"ar": 0.0, "markov": 0.0, "fusion": 0.0} | dict(cfg.weights)
        if not adjacency.any():
            w["fusion"] = 0.0
        total = sum(w.values()) or 1.0
        self.weights = {k: v / total for k, v in w.items()}
        self.seasonal_args = (list(cfg.seasonal_periods_s), tick_s, cfg.seasonal_memory_cycles, steps + 2)
        self.seasonal = SeasonalFeatures(n, *self.seasonal_args) if cfg.seasonal_periods_s else None
        self.ar = ARModel(n, cfg.ar_order, cfg.forgetting, extra=self.seasonal.width if self.seasonal else 0)
        self.markov = MarkovModel(n, cfg.markov_bins, cfg.markov_smoothing, cfg.forgetting)
        self.fusion = FusionModel(adjacency, cfg.forgetting)
        self._tick_key = None       # the newest tick whose features are built (score, then learn)
        self._tick = None

    def _block_extra(self, z: np.ndarray, missing: np.ndarray, ts: np.ndarray | None,
                     profile: SeasonalFeatures | None) -> np.ndarray | None:
        """The AR model's seasonal regressors for a block of consecutive ticks (None: no profile)."""
        if self.seasonal is None:
            return None
        if ts is None:
            return np.zeros((len(z), self.n, self.seasonal.width))
        return profile.replay(np.asarray(ts, float), z, missing)

    def fit(self, z: np.ndarray, missing: np.ndarray, ts: np.ndarray | None = None,
            fit_rows: int | None = None) -> None:
        """Fit on the first `fit_rows` warm-up rows (all by default); the seasonal profile learns
        every row given (their timestamps `ts`; None: no clock, the profile stays empty)."""
        cut = len(z) if fit_rows is None else fit_rows
        if cut <= self.ar.p + 2:
            raise ValueError(f"need more than {self.ar.p + 2} warm-up rows, got {cut}")
        extra = self._block_extra(z, missing, ts, self.seasonal)
        z, missing = z[:cut], missing[:cut]
        self.ar.fit(z, missing, None if extra is None else extra[:cut])
        del extra                       # the day's regressors: not kept through the other fits
        self.fusion.fit(z, missing)
        self.markov.fit(z, missing)
        self.markov.calibrate(z, missing)

    def combine(self, ar: np.ndarray, markov: np.ndarray, fusion: np.ndarray, out: np.ndarray | None = None
                ) -> np.ndarray:
        """The weighted sum of the three scores; into `out` (which may be `ar`) when given."""
        w = self.weights
        s = np.multiply(ar, w["ar"], out=out)
        s += w["markov"] * markov
        s += w["fusion"] * fusion
        return s

    def _features(self, window: WindowBuffer) -> tuple:
        """This tick's features, built once for score() and learn() of the same tick."""
        key = float(window.ts[-1])
        if key != self._tick_key:
            self._tick_key = key
            extra = self.seasonal.window(window) if self.seasonal else None
            ar_x = self.ar.features(window, None if extra is None else extra[-1])
            self._tick = (ar_x, self.fusion.features(window), self.markov.transitions(window), extra)
        return self._tick

    def score(self, window: WindowBuffer) -> TickScore:
        ar_x, fu_x, states, extra = self._features(window)
        s = self.combine(self.ar.score(window, ar_x, extra), self.markov.score(window, states),
                         self.fusion.score(window, fu_x))
        s *= ~window.missing[-1]
        return TickScore(sensor_scores=s, score=tick_score(s), tier=self.TYPE)

    def batch_scores(self, z: np.ndarray, missing: np.ndarray, steps: int, ts: np.ndarray | None = None
                     ) -> np.ndarray:
        """Per-sensor scores for rows p.. of a block, as score() gives them on windows of
        `steps` rows (used to calibrate the threshold). The seasonal regressors are rebuilt from
        an empty profile over the block (as fit built them over the warm-up), leaving this one as it is."""
        p = self.ar.p
        fresh = SeasonalFeatures(self.n, *self.seasonal_args) if self.seasonal else None
        extra = self._block_extra(z, missing, ts, fresh)
        ar = self.ar.batch_scores(z, missing, steps, extra)          # rows p..
        del extra                                                    # before the others' temporaries
        mk = self.markov.batch_scores(z, missing)                    # rows 1..
        fu = self.fusion.batch_scores(z, missing)                    # rows 1..
        s = self.combine(ar, mk[p - 1:], fu[p - 1:], out=ar)         # in place: a day's arrays at warm-up
        s[missing[p:]] = 0.0
        return s

    def observe(self, window: WindowBuffer) -> None:
        """Every scored tick, calm or not (the Pipeline calls it before deciding to learn): the
        Markov chain counts every transition. Learned only on calm ticks, a transition that once
        scored high was never counted again, its count decayed with forgetting, its surprise grew,
        and it alerted ever more often (on pure noise: 23 false alarms in 12 days of NAB's
        art_noisy). One anomalous transition among ~1/(1 − forgetting) counted ones changes
        little; a lasting change in how a sensor moves becomes normal, as it should."""
        _, _, states, _ = self._features(window)
        self.markov.learn(window, states)

    def learn(self, window: WindowBuffer) -> None:
        ar_x, fu_x, _, _ = self._features(window)
        self.ar.learn(window, ar_x)
        if self.seasonal:
            self.seasonal.learn(float(window.ts[-1]), window.values[-1], ~window.missing[-1])
        self.fusion.learn(window, fu_x)

    def describe(self) -> dict:
        return {"tier": self.TYPE, "model_id": "numpy-ar-markov-fusion", "weights": self.weights,
                "seasonal_periods_s": self.seasonal_args[0]}

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        return {"ar": self.ar.state_dict(), "markov": self.markov.state_dict(), "fusion": self.fusion.state_dict(),
                "seasonal": self.seasonal.state_dict() if self.seasonal else None}

    def restore(self, state: dict) -> None:
        """Restore a fitted scorer. Call it on a fresh scorer: a bad state can leave it half-restored."""
        if (state.get("seasonal") is None) != (self.seasonal is None):
            raise ValueError("numpy.seasonal: the checkpoint and the config differ on the seasonal profile")
        self.ar.restore(state["ar"])
        self.markov.restore(state["markov"])
        self.fusion.restore(state["fusion"])
        if self.seasonal:
            self.seasonal.restore(state["seasonal"])
        self._tick_key = self._tick = None
