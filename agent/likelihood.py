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

Three options widen it (off by default; measured on NAB's tuning half, README "NAB"):
- `more_mean_ticks`: further mean lengths, each with its own ring and history, at the same z; the
  level is the lowest of all (the lowest p-value) — a slower, longer rise than h ticks shows;
- `transform` log: the means average log(1 + score), so one huge spike neither dominates a mean
  nor inflates its spread; the level is mapped back through expm1;
- `transform` surprisal: the means average −log p, p the tick's tail probability among the last
  `history_ticks` scores ((ties and larger + 1) / (n + 1)), so the mean of h of them is Fisher's
  combination of h p-values: scale-free, a huge spike counts as one rare tick and no more, and
  rare-ish ticks coming more often add up; the level is mapped back through the ranked scores
  (the score that makes p small enough);
- `also_surprisal`: beside each mean of the transform, a mean of surprisals of the same length,
  each against its own history, the level the lowest — the raw mean flags alike spikes coming more
  often (the ranks adapt to such a pattern as it grows), the surprisal mean a busier stretch on a
  stream whose bursts inflate the raw mean's spread;
- `peak_rate_ticks` r: the share of the last r ticks that were peaks (a score above the tail fit's
  starting point, which the threshold passes in) against the history of that share — spikes
  coming more often, none larger than before. One more peak either puts it in the tail (level:
  the starting point) or not (+∞);
- `cusum_limit` h: Page's CUSUM of the surprisals, S ← min(2h, max(0, S + s − 1 − k)) with k
  `cusum_allowance` (a surprisal averages 1 when the score's p-values are uniform): a change that
  makes the ticks a little rarer than usual for any length of time — an hour or a day, where a mean
  of fixed length sees only its own — adds up until S passes h. The level is the score whose
  surprisal takes S past h (−∞ while S is past h: every tick passes until it falls back; capped at
  2h so it does, soon after the change ends).

It is silent (level +∞) until MIN_HISTORY means are there; the warm-up's scores fill the history.
σ is floored at SD_FLOOR × μ so a near-constant score does not make every blip a 10-σ event.
Off (`mean_ticks` 0) by default; on in the NAB config (bench/accuracy.py, README).
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .checkpoint import array_of
from .typed import doc, rng

#: Means in the history before the mean path says anything (HTM: 100 estimation samples).
MIN_HISTORY = 100
#: σ is at least this fraction of μ.
SD_FLOOR = 0.05
#: The running sums are recomputed exactly this often (rounding drift).
RESUM_EVERY = 4096
#: …and at once when a value leaving a running sum was more than this many times what the sum holds after it:
#: the sum kept too few of the others' digits (2^20: 20 bits of 52 lost; review46).
CANCELLED = float(2 ** 20)


@dataclass
class LikelihoodConfig:
    mean_ticks: int = rng(0, 10000, default=0,
        doc="the mean of the last this many scores is a second path to an alert, against its own long-run "
            "mean and spread (0: off; else ≥ 2)")
    sigmas: float = rng(1.0, 50.0, default=5.5,
        doc="that mean alerts this many standard deviations above its long-run mean")
    history_ticks: int = rng(100, 100000, default=8640,
        doc="the long-run mean and spread are over this many last means (8640: 30 days of 5-min ticks)")
    more_mean_ticks: list[int] = doc(
        "further mean lengths beside `mean_ticks`, each against its own history of means; the path takes "
        "the lowest level of all (the lowest p-value: the same `sigmas`) — a slower, longer rise",
        default_factory=list)
    transform: Literal["raw", "log", "surprisal"] = doc(
        "what the means average: the score (raw), log(1 + score) (log: one huge spike does not "
        "dominate a mean and its spread, so a run of moderate ones stands out), or −log of the score's "
        "tail probability among the last `history_ticks` scores (surprisal: a mean of p-values, scale-free)",
        default="raw")
    also_surprisal: bool = doc(
        "beside each mean of `transform`, a mean of surprisals (as `transform: surprisal`) of the same "
        "length against its own history; the path takes the lowest level of all", default=False)
    peak_rate_ticks: int = rng(0, 10000, default=0,
        doc="a further path: the share of the last this many ticks whose score was a peak (above the tail "
            "fit's starting point) against its own history, at the same `sigmas`; a peak alerts when it puts "
            "that rate in the tail — spikes coming more often, none larger than before (0: off; else ≥ 2)")
    cusum_limit: float = rng(0.0, 1000.0, default=0.0,
        doc="a further path: Page's CUSUM of the ticks' surprisals (as `transform: surprisal`) alerts when it "
            "passes this — ticks a little rarer than usual for any length of time, a level or variance change "
            "over hours (0: off)")
    cusum_allowance: float = rng(0.0, 20.0, default=0.5,
        doc="the CUSUM counts only what a tick's surprisal exceeds its calm mean (1) by this much")

    def validate(self) -> list[tuple[str, str]]:
        out = []
        if self.mean_ticks == 1:
            out.append(("mean_ticks", "0 (off) or at least 2: one tick is the tick threshold's job"))
        if self.more_mean_ticks and self.mean_ticks == 0:
            out.append(("more_mean_ticks", "needs `mean_ticks` (the first scale) on"))
        if self.peak_rate_ticks == 1:
            out.append(("peak_rate_ticks", "0 (off) or at least 2: one peak is the tick threshold's job"))
        if self.also_surprisal and self.transform == "surprisal":
            out.append(("also_surprisal", "the means are surprisals already (`transform: surprisal`)"))
        if self.also_surprisal and self.mean_ticks == 0:
            out.append(("also_surprisal", "needs `mean_ticks` (the mean path) on"))
        if self.peak_rate_ticks and self.mean_ticks == 0:
            out.append(("peak_rate_ticks", "needs `mean_ticks` (the mean path) on"))
        if self.cusum_limit and self.mean_ticks == 0:
            out.append(("cusum_limit", "needs `mean_ticks` (the mean path) on"))
        for i, h in enumerate(self.more_mean_ticks):
            if not 2 <= h <= 10000:
                out.append((f"more_mean_ticks[{i}]", f"a mean length is 2 to 10000 ticks, got {h!r}"))
            elif h == self.mean_ticks or h in self.more_mean_ticks[:i]:
                out.append((f"more_mean_ticks[{i}]", f"{h} is already a scale"))
        return out


class _Scale:
    """One mean length h: the ring of the last h (transformed) scores and the history of their means."""

    def __init__(self, h: int, z: float, history_ticks: int, peaks: bool = False, surprisal: bool = False):
        self.h, self.z, self.peaks, self.surprisal = h, z, peaks, surprisal
        self.recent: deque[float] = deque(maxlen=h)
        self.means: deque[float] = deque(maxlen=history_ticks)
        self._resum()

    def _resum(self) -> None:
        self._resum_recent()
        with np.errstate(over="ignore"):
            m = np.fromiter(self.means, float, len(self.means))
            self.s1, self.s2 = float(m.sum()), float((m * m).sum())
        self.pushed = 0

    def _resum_recent(self) -> None:
        try:
            self.recent_sum = math.fsum(self.recent)
        except OverflowError:       # (scores near the float's top: their sum is past it, review46)
            self.recent_sum = math.inf

    def learn(self, x: float) -> None:
        if len(self.recent) == self.h:
            gone = self.recent[0]
            self.recent_sum -= gone
            self.recent.append(x)
            self.recent_sum += x
            if abs(gone) > CANCELLED * abs(self.recent_sum) or not math.isfinite(self.recent_sum):
                self._resum_recent()        # (before the mean is taken from it: review46, below)
        else:
            self.recent.append(x)
            self.recent_sum += x
        if len(self.recent) < self.h:
            return
        mean = self.recent_sum / self.h
        lost = False
        if len(self.means) == self.means.maxlen:
            old = self.means[0]
            self.s1 -= old
            self.s2 -= old * old
            lost = old * old > CANCELLED * self.s2
        self.means.append(mean)
        self.s1 += mean
        self.s2 += mean * mean
        self.pushed += 1
        if self.pushed >= RESUM_EVERY or lost or not math.isfinite(self.s2):
            # (also when a running sum lost what it held, review46: a score far above the rest (1e10 among scores
            # of 1) took the others' part of the sum of squares with it when it left — σ floored at 5 % of μ, the
            # mean path alerting on moderate ticks; near the float's top it made the sums +inf, then NaN — the
            # path silent or alerting on every tick — until the next resum 4096 ticks on)
            self._resum()

    def spread(self) -> tuple[float, float]:
        """(μ, σ) of the history of means, σ floored (+inf while the sum of squares is past the largest float)."""
        n = len(self.means)
        mu = self.s1 / n
        var = self.s2 / n - mu * mu
        sd = math.inf if math.isnan(var) else math.sqrt(max(var, 0.0))
        return mu, max(sd, SD_FLOOR * abs(mu), 1e-12)

    def needed(self) -> float:
        """The transformed value this tick needs to put the mean over μ + z·σ (+∞ while too short)."""
        if len(self.means) < MIN_HISTORY or len(self.recent) < self.h - 1:
            return math.inf
        mu, sd = self.spread()
        previous = self.recent_sum - (self.recent[0] if len(self.recent) == self.h else 0.0)
        return self.h * (mu + self.z * sd) - previous

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.fromiter(self.recent, float, len(self.recent)), np.fromiter(self.means, float, len(self.means)))

    def restore(self, recent: np.ndarray, means: np.ndarray) -> None:
        self.recent = deque(recent.tolist()[-self.h:], maxlen=self.h)
        self.means = deque(means.tolist()[-self.means.maxlen:], maxlen=self.means.maxlen)
        self._resum()


class _Ranks:
    """The last n scores, kept sorted too: a score's tail probability among them, and back."""

    def __init__(self, n: int):
        self.order: deque[float] = deque(maxlen=n)
        self.sorted: list[float] = []

    def add(self, score: float) -> None:
        if len(self.order) == self.order.maxlen:
            del self.sorted[bisect.bisect_left(self.sorted, self.order[0])]
        self.order.append(score)
        bisect.insort(self.sorted, score)

    def surprisal(self, score: float) -> float:
        """−log p, p = (scores at or above it + 1) / (n + 1)."""
        n = len(self.sorted)
        at_or_above = n - bisect.bisect_left(self.sorted, score)
        return -math.log((at_or_above + 1) / (n + 1))

    def level(self, x: float) -> float:
        """The score above which a tick's surprisal is at least x: +∞ when no score is rare
        enough, −∞ when any is."""
        if not math.isfinite(x):
            return x
        n = len(self.sorted)
        # surprisal ≥ x  ⇔  at_or_above ≤ k = e^(−x)·(n + 1) − 1; a score above sorted[n − k − 1] has k at or above.
        k = math.floor(math.exp(-x) * (n + 1) - 1 + 1e-9)
        if k < 0:
            return math.inf
        if k >= n:
            return -math.inf
        return self.sorted[n - k - 1]

    def restore(self, scores: np.ndarray) -> None:
        self.order = deque(scores.tolist()[-self.order.maxlen:], maxlen=self.order.maxlen)
        self.sorted = sorted(self.order)


class MeanLikelihood:
    """The score level at which the mean of the last h scores, this tick's included, reaches the
    far tail of the history of such means — the lowest such level over the configured mean lengths."""

    def __init__(self, cfg: LikelihoodConfig):
        self.log = cfg.transform == "log"
        # surprisal: the last history_ticks scores in arrival order, and the same scores sorted.
        self.surprisal = cfg.transform == "surprisal"
        self.cusum_limit, self.cusum_allowance = float(cfg.cusum_limit), float(cfg.cusum_allowance)
        self.cusum = 0.0
        surprisals = self.surprisal or cfg.also_surprisal or self.cusum_limit > 0
        self.ranks = _Ranks(int(cfg.history_ticks)) if surprisals else None
        lengths = [cfg.mean_ticks, *cfg.more_mean_ticks]
        self.scales = [_Scale(int(h), float(cfg.sigmas), int(cfg.history_ticks), surprisal=self.surprisal)
                       for h in lengths]
        if cfg.also_surprisal:
            self.scales += [_Scale(int(h), float(cfg.sigmas), int(cfg.history_ticks), surprisal=True) for h in lengths]
        if cfg.peak_rate_ticks:
            self.scales.append(_Scale(int(cfg.peak_rate_ticks), float(cfg.sigmas), int(cfg.history_ticks), peaks=True))

    @property
    def first(self) -> _Scale:
        """The `mean_ticks` scale."""
        return self.scales[0]

    def learn(self, score: float, peak_from: float = math.inf) -> None:
        """One judged tick's score; `peak_from` is where peaks start (`peak_rate_ticks`)."""
        if not math.isfinite(score):
            return
        x = math.log1p(max(score, 0.0)) if self.log else score
        if self.ranks is not None:
            surprisal = self.ranks.surprisal(score)
            self.ranks.add(score)
            if self.cusum_limit > 0:
                self.cusum = min(2.0 * self.cusum_limit,
                                 max(0.0, self.cusum + surprisal - 1.0 - self.cusum_allowance))
        peak = 1.0 if score > peak_from else 0.0
        for scale in self.scales:
            scale.learn(peak if scale.peaks else surprisal if scale.surprisal else x)

    def learn_block(self, scores: np.ndarray, peak_from: float = math.inf) -> None:
        for s in np.asarray(scores, float).tolist():
            self.learn(s, peak_from)

    def level(self, peak_from: float = math.inf) -> float:
        """The score this tick needs to put one scale's mean over μ + z·σ (+∞ while the histories
        are short); `peak_from` as in `learn`."""
        level = min(self._score_level(scale, peak_from) for scale in self.scales)
        if self.cusum_limit > 0 and len(self.ranks.sorted) >= MIN_HISTORY:
            needed = self.cusum_limit - self.cusum + 1.0 + self.cusum_allowance
            level = min(level, self.ranks.level(needed) if needed > 0 else -math.inf)
        return level

    def _score_level(self, scale: _Scale, peak_from: float) -> float:
        x = scale.needed()
        if scale.peaks:             # a peak adds 1, another tick 0; the tick that alerts is a peak itself
            return peak_from if x <= 1.0 else math.inf
        if scale.surprisal:
            return self.ranks.level(x)
        if self.log and math.isfinite(x):
            return math.expm1(x) if x < 700.0 else math.inf
        return x

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------
    # The first scale's ring and history are `recent` and `means` (as before more_mean_ticks);
    # a further scale h's are `recent_h` and `means_h`, the peak rate's `recent_peaks_h` and
    # `means_peaks_h`, an `also_surprisal` scale h's `recent_surprisal_h` and `means_surprisal_h`.
    # A scale the checkpoint lacks starts empty.

    def _keys(self, i: int) -> tuple[str, str]:
        if i == 0:
            return "recent", "means"
        scale = self.scales[i]
        tag = f"peaks_{scale.h}" if scale.peaks else f"surprisal_{scale.h}" if scale.surprisal else str(scale.h)
        return f"recent_{tag}", f"means_{tag}"

    def state_dict(self) -> dict:
        out = {}
        for i, scale in enumerate(self.scales):
            out.update(zip(self._keys(i), scale.state()))
        if self.ranks is not None:
            out["ranked_scores"] = np.fromiter(self.ranks.order, float, len(self.ranks.order))
        if self.cusum_limit > 0:
            out["cusum"] = np.array([self.cusum])
        return out

    def restore(self, state: dict, name: str) -> None:
        """Validates every scale before changing any."""
        got = []
        for i in range(len(self.scales)):
            keys = self._keys(i)
            if i > 0 and not all(k in state for k in keys):
                got.append(None)
                continue
            arrays = [array_of(state[k], f"{name}.{k}", np.float64, 1) for k in keys]
            for k, arr in zip(keys, arrays):
                if not np.isfinite(arr).all():
                    raise ValueError(f"{name}.{k}: not finite")
            got.append(arrays)
        ranked = None
        if self.ranks is not None and "ranked_scores" in state:      # absent: taken with another transform
            ranked = array_of(state["ranked_scores"], f"{name}.ranked_scores", np.float64, 1)
            if not np.isfinite(ranked).all():
                raise ValueError(f"{name}.ranked_scores: not finite")
        cusum = None
        if self.cusum_limit > 0 and "cusum" in state:                # absent: taken with the CUSUM off
            cusum = array_of(state["cusum"], f"{name}.cusum", np.float64, 1)
            if cusum.size != 1 or not (np.isfinite(cusum).all() and cusum[0] >= 0):
                raise ValueError(f"{name}.cusum: one finite value ≥ 0 expected")
        for scale, arrays in zip(self.scales, got):
            if arrays is not None:
                scale.restore(*arrays)
        if ranked is not None:
            self.ranks.restore(ranked)
        if cusum is not None:
            self.cusum = min(float(cusum[0]), 2.0 * self.cusum_limit)


__all__ = ["LikelihoodConfig", "MeanLikelihood", "MIN_HISTORY", "SD_FLOOR"]
