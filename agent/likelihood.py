"""A second scale for the threshold: the score's short-term mean against its own long-run spread.

Why: the tick threshold (agent/threshold.py, a POT tail of single-tick scores) needs one tick to
be rare. An anomaly that raises the score moderately for a while — spikes coming more often,
a noisier stretch, a slow climb — never makes one tick rare, and is never alerted on. Numenta's
HTM detector scores 70 on NAB with a mediocre raw score because it alerts on the *anomaly
likelihood*: the mean of the last few raw scores compared with the long-run distribution of that
mean (a Gaussian, re-estimated as the stream goes), the alert on its far tail. Here the same idea
is a second path to the threshold, beside the tick's own:

- every judged tick's score (alerts too: the spread of bursts is part of the stream) enters a
  ring of the last `mean_ticks` h scores, and their mean m enters a history of the last
  `history_ticks` means, whose mean μ and standard deviation σ are kept as running sums;
- the tick passes the mean path when the mean including it exceeds μ + `sigmas` × σ. For the
  detector, which compares one score with one threshold, that is a score level:
  h · (μ + z·σ) − (the sum of the previous h − 1 scores); `AdaptiveThreshold` takes the lower of
  it and the tick threshold, so either path raises an alert.

It is silent (level +∞) until MIN_HISTORY means are there; the warm-up's scores fill the history.
σ is floored at SD_FLOOR × μ so a near-constant score does not make every blip a 10-σ event.
Off (`mean_ticks` 0) by default; on in the NAB config (bench/accuracy.py, README).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .checkpoint import array_of
from .typed import rng

#: Means in the history before the mean path says anything (HTM: 100 estimation samples).
MIN_HISTORY = 100
#: σ is at least this fraction of μ.
SD_FLOOR = 0.05
#: The running sums are recomputed exactly this often (rounding drift).
RESUM_EVERY = 4096


@dataclass
class LikelihoodConfig:
    mean_ticks: int = rng(0, 10000, default=0,
        doc="the mean of the last this many scores is a second path to an alert, against its own long-run "
            "mean and spread (0: off; else ≥ 2)")
    sigmas: float = rng(1.0, 50.0, default=5.5,
        doc="that mean alerts this many standard deviations above its long-run mean")
    history_ticks: int = rng(100, 100000, default=8640,
        doc="the long-run mean and spread are over this many last means (8640: 30 days of 5-min ticks)")

    def validate(self) -> list[tuple[str, str]]:
        if self.mean_ticks == 1:
            return [("mean_ticks", "0 (off) or at least 2: one tick is the tick threshold's job")]
        return []


class MeanLikelihood:
    """The score level at which the mean of the last h scores, this tick's included, reaches the
    far tail of the history of such means."""

    def __init__(self, cfg: LikelihoodConfig):
        self.h = int(cfg.mean_ticks)
        self.z = float(cfg.sigmas)
        self.recent: deque[float] = deque(maxlen=self.h)
        self.means: deque[float] = deque(maxlen=int(cfg.history_ticks))
        self._resum()

    def _resum(self) -> None:
        self.recent_sum = math.fsum(self.recent)
        m = np.fromiter(self.means, float, len(self.means))
        self.s1, self.s2 = float(m.sum()), float((m * m).sum())
        self.pushed = 0

    def learn(self, score: float) -> None:
        """One judged tick's score."""
        if not math.isfinite(score):
            return
        if len(self.recent) == self.h:
            self.recent_sum -= self.recent[0]
        self.recent.append(score)
        self.recent_sum += score
        if len(self.recent) < self.h:
            return
        mean = self.recent_sum / self.h
        if len(self.means) == self.means.maxlen:
            old = self.means[0]
            self.s1 -= old
            self.s2 -= old * old
        self.means.append(mean)
        self.s1 += mean
        self.s2 += mean * mean
        self.pushed += 1
        if self.pushed >= RESUM_EVERY:
            self._resum()

    def learn_block(self, scores: np.ndarray) -> None:
        for s in np.asarray(scores, float).tolist():
            self.learn(s)

    def spread(self) -> tuple[float, float]:
        """(μ, σ) of the history of means, σ floored."""
        n = len(self.means)
        mu = self.s1 / n
        sd = math.sqrt(max(self.s2 / n - mu * mu, 0.0))
        return mu, max(sd, SD_FLOOR * abs(mu), 1e-12)

    def level(self) -> float:
        """The score this tick needs to put the mean over μ + z·σ (+∞ while the history is short)."""
        if len(self.means) < MIN_HISTORY or len(self.recent) < self.h - 1:
            return math.inf
        mu, sd = self.spread()
        previous = self.recent_sum - (self.recent[0] if len(self.recent) == self.h else 0.0)
        return self.h * (mu + self.z * sd) - previous

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        return {"recent": np.fromiter(self.recent, float, len(self.recent)),
                "means": np.fromiter(self.means, float, len(self.means))}

    def restore(self, state: dict, name: str) -> None:
        recent = array_of(state["recent"], f"{name}.recent", np.float64, 1)
        means = array_of(state["means"], f"{name}.means", np.float64, 1)
        for key, arr in (("recent", recent), ("means", means)):
            if not np.isfinite(arr).all():
                raise ValueError(f"{name}.{key}: not finite")
        self.recent = deque(recent.tolist()[-self.h:], maxlen=self.h)
        self.means = deque(means.tolist()[-self.means.maxlen:], maxlen=self.means.maxlen)
        self._resum()


__all__ = ["LikelihoodConfig", "MeanLikelihood", "MIN_HISTORY", "SD_FLOOR"]
