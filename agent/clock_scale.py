"""The typical score at this time of day: the tick threshold scaled by the clock.

Why: the forecaster's residual scale is one number for the whole day, so on a stream whose noise
follows the clock (NAB's Twitter volumes: the median score of `Twitter_volume_IBM` runs from 0.55
at night to 1.28 in the US afternoon) the busy hours' ordinary noise scores twice the night's, and
the tail fit, made on all hours alike, takes the busy hours' noise for news. The seasonal profile
(agent/scorers/seasonal.py) models the *level* by the clock, not the spread.

`ClockScale` keeps, for each of `bins` bins of the period, the typical score there: the mean of the
bin's scores, each capped at the threshold in force (so one burst does not make an hour look busy),
a running mean over its first MEMORY_CYCLES cycles of ticks and exponentially weighted after that.
Once every bin has seen MIN_CYCLES cycles, r(t) = the bin's typical score / the mean over the bins,
kept in [1 / `max_ratio`, `max_ratio`] ([1, `max_ratio`] with `raise_only`); before that r is 1.
The warm-up's scores count (the pipeline feeds them to every tier's threshold, each tier's own), so
with a day's warm-up and a daily period r acts from the end of the first live day.
AdaptiveThreshold (agent/threshold.py) holds the tick threshold in force at fitted value × r(t) and
teaches POT score / r(t). Off by default (`threshold.clock_scale_period_s` 0).
"""
from __future__ import annotations

import math

import numpy as np

from .checkpoint import array_of

#: Cycles every bin must have seen before r departs from 1.
MIN_CYCLES = 2
#: Cycles of ticks in the running mean before it turns into an exponentially weighted one.
MEMORY_CYCLES = 7
#: The factor's default bounds (`clock_scale_max_ratio` and its inverse).
MIN_RATIO, MAX_RATIO = 0.5, 2.0


class ClockScale:
    def __init__(self, period_s: float, bins: int, raise_only: bool, max_ratio: float = MAX_RATIO):
        self.period = float(period_s)
        self.bins = int(bins)
        self.width = self.period / self.bins
        self.high = float(max_ratio)
        self.low = 1.0 if raise_only else 1.0 / self.high
        # Per-tick work on Python lists (numpy scalar indexing costs more than the arithmetic).
        self._mean = [0.0] * self.bins           # the bin's typical (capped) score
        self._count = [0.0] * self.bins          # ticks folded into it (their weight, capped)
        self._cycles = [0.0] * self.bins         # distinct cycles the bin has seen
        self._last_cycle = [-1] * self.bins
        self._ticks_per_cycle = [0.0] * self.bins    # most ticks the bin saw in one finished cycle
        self._seen_this_cycle = [0.0] * self.bins
        self._known = False                      # every bin has seen MIN_CYCLES cycles

    @property
    def mean(self) -> np.ndarray:
        return np.array(self._mean)

    @property
    def cycles(self) -> np.ndarray:
        return np.array(self._cycles)

    def _locate(self, ts: float) -> tuple[int, int]:
        c = math.floor(ts / self.period)
        return min(int((ts - c * self.period) // self.width), self.bins - 1), c

    def learn(self, ts: float, score: float, cap: float) -> None:
        if not (math.isfinite(ts) and math.isfinite(score)):
            return
        b, c = self._locate(ts)
        last = self._last_cycle[b]
        if c > last:
            if last >= 0:
                self._ticks_per_cycle[b] = max(self._ticks_per_cycle[b], self._seen_this_cycle[b])
            self._last_cycle[b] = c
            self._cycles[b] += 1
            self._seen_this_cycle[b] = 0.0
            if not self._known:
                self._known = min(self._cycles) >= MIN_CYCLES
        elif c < last:
            return                                   # older than what the bin holds
        self._seen_this_cycle[b] += 1
        x = min(max(score, 0.0), cap) if math.isfinite(cap) else max(score, 0.0)
        limit = max(self._ticks_per_cycle[b], self._seen_this_cycle[b]) * MEMORY_CYCLES
        n = self._count[b] = min(self._count[b] + 1, limit)
        self._mean[b] += (x - self._mean[b]) / n

    def shift_time(self, delta: float) -> None:
        """The time base moved by `delta` s (agent/timebase.py): the bins' last cycles move by whole
        cycles, one more rather than one fewer, so a bin learns again from the new base's first tick."""
        dc = math.floor(delta / self.period)
        self._last_cycle = [c + dc if c >= 0 else c for c in self._last_cycle]

    def ratio(self, ts: float) -> float:
        """r(ts): this bin's typical score against the mean over bins (1 until every bin is known)."""
        if not (self._known and math.isfinite(ts)):
            return 1.0
        overall = math.fsum(self._mean) / self.bins
        if overall <= 0:
            return 1.0
        b, _ = self._locate(ts)
        return min(self.high, max(self.low, self._mean[b] / overall))

    def state_dict(self) -> dict:
        return {"mean": np.array(self._mean), "count": np.array(self._count), "cycles": np.array(self._cycles),
                "last_cycle": np.array(self._last_cycle, dtype=np.int64),
                "ticks_per_cycle": np.array(self._ticks_per_cycle), "seen_this_cycle": np.array(self._seen_this_cycle)}

    def restore(self, state: dict, name: str) -> None:
        """Validates every array before changing any."""
        got = {}
        for key in ("mean", "count", "cycles", "ticks_per_cycle", "seen_this_cycle"):
            arr = array_of(state[key], f"{name}.{key}", np.float64, 1)
            if arr.shape != (self.bins,):
                raise ValueError(f"{name}.{key}: {arr.size} bins, the config has {self.bins}")
            if not (np.isfinite(arr).all() and (arr >= 0).all()):
                raise ValueError(f"{name}.{key}: not finite and ≥ 0")
            got[key] = arr
        last = array_of(state["last_cycle"], f"{name}.last_cycle", np.int64, 1)
        if last.shape != (self.bins,):
            raise ValueError(f"{name}.last_cycle: {last.size} bins, the config has {self.bins}")
        self._mean, self._count, self._cycles = got["mean"].tolist(), got["count"].tolist(), got["cycles"].tolist()
        self._ticks_per_cycle, self._seen_this_cycle = got["ticks_per_cycle"].tolist(), got["seen_this_cycle"].tolist()
        self._last_cycle = [int(c) for c in last]
        self._known = min(self._cycles) >= MIN_CYCLES


__all__ = ["ClockScale", "MIN_CYCLES", "MIN_RATIO", "MAX_RATIO"]
