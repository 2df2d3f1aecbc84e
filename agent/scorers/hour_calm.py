"""Each model-tier sensor judged against its calm level at this hour of day (`scoring.hour_lift`, corridor19).

Why: a model tier's tick score is the largest of its per-sensor scores, judged against one threshold for the
whole day, and that threshold is set by the busiest hours (the morning and evening queues). corridor18's
diagnosis (docs/measured/accuracy-corridor.md) found the queues the tier misses at dawn seen against their
*hour* — a flow detector at 0.68 of the threshold where that station's calm maximum at that hour is 0.30 of it —
but not against the one bar; its all-day lift per sensor (`sensor_lift`, removed) could not reach them.

With c > 0 (the key), for each sensor s and each hour h of the day (24 bins of the tick's UTC time) the tier
keeps level[h, s], the mean over the last DAYS finished days of that hour's largest calm score of s. A live
score of s in hour h is multiplied by gain[h, s] = max(1, c × cap / max(level[h, s], FLOOR × cap)), cap being
the bundle's calibrated threshold: a sensor crosses when it does 1/c times its calm top for that hour, and never
scores lower than without the key (a gain is ≥ 1), so no busy-hour find of the tier is given up by the score.

- Floored: a level under FLOOR × cap counts as FLOOR × cap, so the gain is at most c / FLOOR (2.4 at c 0.6): an
  hour whose sensors hardly moved in the days it was learned (a night) does not put its bar at nothing.
- Learned when calm: a score at or over the cap is never part of a calm level (an incident in the warm-up lifts a
  level to the cap at most); live, only the ticks the detector learns from (agent/detector.py `calm`, asked with
  `after_alert_ticks` 0: not while an alert is open) are folded in, through the tier's `learn` — the one path
  by which a model tier learns from calm ticks. A day counts for a sensor in an hour only if at least half of
  that hour's scored ticks that day were calm and read for it.
- Not active before an hour was seen: a level needs one finished day of that hour (the warm-up's, or live ones).
  Until then that hour's scores are the key-off scores (gain 1). configs/demo.yaml's warm-up (a day at 30 s)
  covers every hour, each known from the moment it comes round again; configs/roadside.yaml's (4 h) covers
  00:00–04:00 only if it starts at midnight, the other hours after their first calm live day.
- clock14/15's lesson: the clock's scale *raised* the tick threshold in busy hours and ended long alerts inside
  the recurrent queue, so the next wave opened another (more false-alarm events on days that differ). This
  lowers no bar in busy hours: an hour whose sensors are as busy as the cap keeps gain 1, and nothing changes
  in the queue's hours but for a sensor that is itself calm there.

Off (0), nothing is kept and every score is as before.
"""
from __future__ import annotations

import math

import numpy as np

from ..checkpoint import array_like

#: Bins of the day (hours) and the period they divide (s).
BINS, PERIOD_S = 24, 86400.0
#: Finished days whose calm maxima an hour's level is the mean of.
DAYS = 7
#: A level is at least this share of the cap: the gain is at most c / FLOOR.
FLOOR = 0.25
#: A day counts for an hour's level (per sensor) when at least this share of its scored ticks were calm and read.
MIN_CALM_SHARE = 0.5


class HourCalm:
    """Per hour of day and sensor: the calm level, and the gain it gives a live score (`gains_at`)."""

    TIME_FIELDS = ("last_ts",)

    def __init__(self, n: int, lift: float, cap: float):
        if not (math.isfinite(cap) and cap > 0):
            raise ValueError("scoring.hour_lift needs the bundle's calibrated threshold (a finite cap > 0)")
        if not 0 < lift <= 1:
            raise ValueError(f"scoring.hour_lift must be in (0, 1], got {lift!r}")
        self.n, self.lift, self.cap = int(n), float(lift), float(cap)
        self.day = np.full(BINS, -1, np.int64)             # the day each hour's running maxima are of (-1: none)
        self.seen = np.zeros(BINS)                         # scored ticks of that hour that day
        self.calm_n = np.zeros((BINS, self.n))             # calm, read ticks of it per sensor that day
        self.calm_max = np.zeros((BINS, self.n))           # their largest score per sensor
        self.maxima = np.full((BINS, DAYS, self.n), np.nan)   # finished days' calm maxima (NaN: did not count)
        self.slot = np.zeros(BINS, np.int64)               # where the next finished day goes
        self.last_ts = -math.inf                           # the newest tick counted (a tick scored again is not)
        self.gains = np.ones((BINS, self.n))             # each hour's gain per sensor (1: no level)
        self.known = [False] * BINS                        # the hour has a level for some sensor

    @staticmethod
    def locate(ts: float) -> tuple[int, int]:
        """(hour bin, day) of a timestamp."""
        day = math.floor(ts / PERIOD_S)
        return min(int((ts - day * PERIOD_S) // (PERIOD_S / BINS)), BINS - 1), day

    def tick(self, ts: float) -> np.ndarray | None:
        """A scored tick at `ts`: counted once (the day it starts finishes the hour's last one), and the gains
        (N,) of its hour, or None while that hour has no level (the scores stay as they are)."""
        if not math.isfinite(ts):
            return None
        b, day = self.locate(ts)
        if ts > self.last_ts:
            self.last_ts = ts
            if day > self.day[b]:
                self._finish(b)
                self.day[b] = day
            if day == self.day[b]:
                self.seen[b] += 1
        return self.gains[b] if self.known[b] else None

    def fold(self, ts: float, scores: np.ndarray, read: np.ndarray) -> None:
        """A calm tick's per-sensor scores (counted by `tick` first): each read sensor's score under the cap
        goes into its hour's running maximum of that day."""
        if not math.isfinite(ts):
            return
        b, day = self.locate(ts)
        if day != self.day[b]:
            return
        counted = np.asarray(read, bool) & (scores < self.cap) & np.isfinite(scores)
        self.calm_n[b] += counted
        np.maximum(self.calm_max[b], np.where(counted, scores, 0.0), out=self.calm_max[b])

    def fit(self, ts: np.ndarray, scores: np.ndarray, missing: np.ndarray) -> None:
        """The warm-up's ticks (oldest first; per-sensor scores (n, N) as the tier scores them live, missing
        (n, N)): every tick counted and folded as calm (a score at or over the cap never is)."""
        for t, s, m in zip(np.asarray(ts, np.float64), np.asarray(scores, np.float64), np.asarray(missing, bool)):
            self.tick(float(t))
            self.fold(float(t), s, ~m)

    def _finish(self, b: int) -> None:
        """Hour b's running day is over: its calm maxima (per sensor, when at least MIN_CALM_SHARE of its
        scored ticks were calm and read) become a finished day."""
        if self.day[b] >= 0 and self.seen[b] > 0:
            counts = self.calm_n[b] >= MIN_CALM_SHARE * self.seen[b]
            if counts.any():
                self.maxima[b, self.slot[b]] = np.where(counts, self.calm_max[b], np.nan)
                self.slot[b] = (self.slot[b] + 1) % DAYS
                self._gains(b)
        self.seen[b] = 0.0
        self.calm_n[b] = 0.0
        self.calm_max[b] = 0.0

    def _gains(self, b: int) -> None:
        """Hour b's gains from its level (a sensor without one: gain 1)."""
        level = self.levels[b]
        known = np.isfinite(level)
        self.gains[b] = np.where(known, np.maximum(1.0, self.lift * self.cap / np.maximum(
            np.where(known, level, self.cap), FLOOR * self.cap)), 1.0)
        self.known[b] = bool(known.any())

    @property
    def levels(self) -> np.ndarray:
        """(BINS, N) each hour's calm level per sensor: the mean of its finished days' calm maxima (NaN: none)."""
        finite = np.isfinite(self.maxima)
        count = finite.sum(axis=1)
        total = np.where(finite, self.maxima, 0.0).sum(axis=1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def shift_time(self, delta: float) -> None:
        """The time base moved by `delta` s (agent/timebase.py): the hours' running days move by whole days,
        one more rather than one fewer (as ClockScale's cycles)."""
        dd = math.floor(delta / PERIOD_S)
        self.day = np.where(self.day >= 0, self.day + dd, self.day)

    # -- checkpoint ---------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"day": self.day.copy(), "seen": self.seen.copy(), "calm_n": self.calm_n.copy(),
                "calm_max": self.calm_max.copy(), "maxima": self.maxima.copy(), "slot": self.slot.copy(),
                "last_ts": self.last_ts}

    def restore(self, state: dict, name: str) -> None:
        """Validates every array before changing any."""
        day = array_like(state["day"], self.day, f"{name}.day")
        slot = array_like(state["slot"], self.slot, f"{name}.slot")
        seen = array_like(state["seen"], self.seen, f"{name}.seen")
        calm_n = array_like(state["calm_n"], self.calm_n, f"{name}.calm_n")
        calm_max = array_like(state["calm_max"], self.calm_max, f"{name}.calm_max")
        maxima = array_like(state["maxima"], self.maxima, f"{name}.maxima")
        if not ((slot >= 0) & (slot < DAYS)).all():
            raise ValueError(f"{name}.slot: not in [0, {DAYS})")
        for key, arr in (("seen", seen), ("calm_n", calm_n), ("calm_max", calm_max)):
            if not (np.isfinite(arr).all() and (arr >= 0).all()):
                raise ValueError(f"{name}.{key}: not finite and ≥ 0")
        if not ((np.isnan(maxima) | ((maxima >= 0) & np.isfinite(maxima))).all()):
            raise ValueError(f"{name}.maxima: not ≥ 0 (or NaN)")
        last = float(state["last_ts"])
        if math.isnan(last):
            raise ValueError(f"{name}.last_ts: NaN")
        self.day, self.slot, self.seen, self.calm_n, self.calm_max = day, slot, seen, calm_n, calm_max
        self.maxima, self.last_ts = maxima, last
        for b in range(BINS):
            self._gains(b)


__all__ = ["BINS", "DAYS", "FLOOR", "MIN_CALM_SHARE", "PERIOD_S", "HourCalm"]
