"""A path to an alert that looks at the shape of the recent stretch: a discord never seen before.

Why: every other path judges a value — the forecaster's error, the mean of recent scores, a
recurring level. A stretch that has never looked like this before but stays inside the stream's
range (a daily swing that turns irregular, spikes of a new form, a small rise in spread) leaves
the forecaster's error ordinary and is missed; a daily pattern seen many times is never news
whatever its level. The matrix profile's *discord* measures the first directly: the z-normalised
Euclidean distance from the latest subsequence of m fresh readings of a sensor to its nearest
neighbour among the earlier subsequences of the same sensor (Keogh et al.'s DAMP computes this
"left" matrix profile; here exactly, over a bounded history), divided by √m so it lies in [0, 2]:
0 is a shape seen before, ~1.0–1.2 the nearest-neighbour distance of plain noise.

The bar, with no setting: a sensor's discord is *a record* when it is larger than every discord
the sensor had from its RECORD_FROM-th fresh reading on (the first MIN_DISCORDS of them only set
the record; before that the history is too short for a nearest neighbour to mean much). A noisy
stream reaches its noise's record within a few hundred readings, so after that a record is rare
and means a shape farther from everything seen than anything so far. The count is of the sensor's
own readings, warm-up included, not of ticks after the warm-up: the warm-up's length (300 ticks on
a gateway; NAB's evaluation uses 15 % of each file, 230–750 rows) does not move it. Screened on NAB's
tuning half, then its test half once (docs/measured/accuracy-nab.md, eleventh round): a Gaussian
tail of the discord never fires, 0.9 × the record fires on every noisy stretch, the record itself
found 7 windows more on the 44 files for 14 false alarms more. It works while a stream is young
(the first weeks); that is where the other paths know least.

How it reaches the detector (agent/pipeline.py): on a tick where a sensor's discord is a record,
the threshold in force is lowered to just under that sensor's score (and never so low that the
tick would count as `instant_factor` × above it), so the tick counts as above the threshold and
the alert lifecycle — `min_duration_ticks`, cooldown, the fault hold-back judged at that level,
the explanation's drivers — decides as for any other tick. Scores are not changed; what the
models and the threshold learn changes only as any open alert changes it.

Cost per sensor and tick: O(H), H = HISTORY_TICKS. Once the history is full, the dot products of
the newest subsequence with each neighbour follow from the last tick's by STOMP's update (Zhu et al.,
Matrix Profile II): D_{t+1}(k+1) = D_t(k) + y_{k+1}·y_{t+1} − y_{k−m+1}·y_{t−m+1}, two multiply-adds a
neighbour instead of m. They are recomputed from the readings (one sliding dot product, H × m,
np.correlate) while the history fills, every EXACT_EVERY readings (the update's rounding stays in
the last digits: on NAB's 44 files the same record flags as recomputing every tick), after a restore
and when the readings' level moved far from their centre (y = x − c: dot products of readings far
from zero would cancel). Memory: 4 rings of 2 × (H + m) floats and H − m + 1 dot products a sensor
(docs/measured/accuracy-nab.md, eleventh round, its cost notes; `python bench/discord.py`).
Only fresh readings enter (a gap, a carried-forward or a masked reading neither enters nor is
judged). Off (`threshold.discord_ticks` 0) by default.
"""
from __future__ import annotations

import numpy as np

from .checkpoint import array_of

#: Subsequences compared with, per sensor: the last this many (two weeks of 5-min ticks; on NAB's
#: tuning half 2016 and 8640 gave the same detections).
HISTORY_TICKS = 4032
#: The sensor's fresh readings before its discords count towards the record (the screen's 300).
RECORD_FROM = 300
#: Discords that only set the record before a record is news.
MIN_DISCORDS = 50
#: A subsequence whose spread is at most this × (1 + |mean|) is flat: distance 0 to another flat
#: one, 1 (per √m) to any other.
FLAT = 1e-12
#: Readings between two exact recomputations of the dot products (the update in between is O(H)).
EXACT_EVERY = 1024
#: The readings are centred on the query's mean at each exact computation; when the query's mean
#: has moved more than this many of its spreads from that centre, the dot products are computed
#: afresh (the update's cancellation grows with the distance from the centre).
RECENTRE = 64.0
#: A discord must pass the record by more than this to be a record: equal shapes (a perfect square
#: wave's days, a file's identical spikes) differ only in rounding, which is not news.
TIE = 1e-6


class DiscordWatch:
    """Per sensor: the last H + m fresh readings, each subsequence's mean and spread, how many readings
    it had, and the record discord.

    The readings and the per-subsequence arrays are rings stored twice over (length 2 × (H + m)): a
    push writes one slot and its mirror, and the last H + m entries are always one contiguous view,
    so nothing is shifted per tick."""

    def __init__(self, n: int, m: int, history: int = HISTORY_TICKS):
        if m < 2 or history < m:
            raise ValueError(f"discord: need m ≥ 2 and a history of at least m ticks, got m={m}, {history}")
        self.n, self.m, self.history = n, m, history
        self.cap = history + m                         # readings kept: neighbours' ends t-H..t-m
        self._x = np.zeros((n, 2 * self.cap))          # rings stored twice; `_at` is the oldest slot
        self._mu = np.zeros((n, 2 * self.cap))         # mean / spread of the subsequence ending there
        self._sd = np.zeros((n, 2 * self.cap))
        self._isd = np.zeros((n, 2 * self.cap))        # 1 / spread; 0 for a flat subsequence
        self._at = np.zeros(n, np.int64)
        self.filled = np.zeros(n, np.int64)
        self.seen = np.zeros(n, np.int64)              # fresh readings so far
        self.record = np.full(n, -np.inf)             # the largest discord from reading RECORD_FROM on
        self.judged = np.zeros(n, np.int64)            # discords in the record
        # The newest subsequence's dot products with its neighbours, readings centred on `centre`
        # (STOMP's update); `updates` counts updates since the last exact computation, -1: none valid.
        self.dots = np.zeros((n, history - m + 1))
        self.centre = np.zeros(n)
        self.updates = np.full(n, -1, np.int64)
        self._tmp = np.empty(history - m + 1)

    def _view(self, ring: np.ndarray, i: int) -> np.ndarray:
        """Sensor i's last H + m entries of `ring`, oldest first (a view)."""
        at = int(self._at[i])
        return ring[i, at:at + self.cap]

    @property
    def x(self) -> np.ndarray:
        return np.stack([self._view(self._x, i) for i in range(self.n)])

    def _push(self, i: int, value: float) -> None:
        m, cap = self.m, self.cap
        if self.updates[i] >= 0:                       # the history is full: STOMP's update, before the push
            x, c, tmp, dots = self._view(self._x, i), self.centre[i], self._tmp, self.dots[i]
            np.subtract(x[m:cap - m + 1], c, out=tmp)
            dots += tmp.__imul__(value - c)
            np.subtract(x[:cap - 2 * m + 1], c, out=tmp)
            dots -= tmp.__imul__(x[cap - m] - c)
            self.updates[i] = self.updates[i] + 1 if self.updates[i] + 1 < EXACT_EVERY else -1
        at = int(self._at[i]) + 1
        at = 0 if at == cap else at
        self._at[i] = at
        new, mirror = at + cap - 1, at - 1 if at else 2 * cap - 1
        self._x[i, new] = self._x[i, mirror] = value
        self.seen[i] += 1
        self.filled[i] = min(self.filled[i] + 1, cap)
        if self.filled[i] >= m:
            last = self._x[i, new - m + 1:new + 1]
            mu = float(np.add.reduce(last)) / m
            dev = last - mu
            sd = float(np.sqrt(np.dot(dev, dev) / m))
            isd = 0.0 if sd <= FLAT * (1 + abs(mu)) else 1.0 / sd
            for ring, v in ((self._mu, mu), (self._sd, sd), (self._isd, isd)):
                ring[i, new] = ring[i, mirror] = v

    def discord(self, i: int) -> float:
        """Sensor i's newest subsequence's distance (per √m) to its nearest earlier one; nan while
        there is none (fewer than 2m readings)."""
        m, f = self.m, int(self.filled[i])
        ends = f - 2 * m + 1                           # neighbours: subsequences ending ≤ t − m
        if ends <= 0:
            return float("nan")
        ends = min(ends, self.history - m + 1)
        x, mu, isd = self._view(self._x, i), self._view(self._mu, i), self._view(self._isd, i)
        q_mu, q_isd = mu[-1], isd[-1]
        lo = self.cap - m - ends                       # index of the oldest neighbour's last reading
        nb_mu, nb_isd = mu[lo:lo + ends], isd[lo:lo + ends]
        any_flat = not nb_isd.all()
        if q_isd == 0.0:                               # a flat query: 0 to a flat neighbour, else 1
            return 0.0 if any_flat else 1.0
        if self.updates[i] >= 0 and abs(q_mu - self.centre[i]) * q_isd > RECENTRE:
            self.updates[i] = -1                       # the level moved far from the centre: recentre
        c = q_mu if self.updates[i] < 0 else self.centre[i]
        q = x[-m:] - c
        if self.updates[i] >= 0:
            dots = self.dots[i]
        else:                                          # exact: one sliding dot product, in C
            dots = np.correlate(x[lo - m + 1:lo + ends] - c, q, mode="valid")
            if ends == self.history - m + 1:           # a full history: STOMP's update from here on
                self.dots[i], self.centre[i], self.updates[i] = dots, c, 0
        # the Pearson correlation × m × the query's spread (a flat neighbour's is 0 here and counts as
        # correlation 0.5, distance 1, below); the query's sum from the same centred readings as the
        # dot products, so that a neighbour far from the centre cancels to its rounding
        corr = (nb_mu - c) * float(np.add.reduce(q))
        np.subtract(dots, corr, out=corr)
        corr *= nb_isd
        best = float(corr.max()) * q_isd / m
        if any_flat:
            best = max(best, 0.5)
        return float(np.sqrt(max(0.0, 2.0 - 2.0 * best)))

    def step(self, values: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """One tick (warm-up ticks too): each fresh reading enters; returns which sensors' discord is a
        record (judged once MIN_DISCORDS discords from reading RECORD_FROM on have set it; larger than
        the record by more than TIE, so that two equal shapes' rounding is never news)."""
        out = np.zeros(self.n, bool)
        for i in np.flatnonzero(fresh):
            i = int(i)
            self._push(i, float(values[i]))
            if self.seen[i] <= RECORD_FROM:
                continue
            d = self.discord(i)
            if not np.isfinite(d):
                continue
            out[i] = self.judged[i] >= MIN_DISCORDS and d > self.record[i] + TIE
            self.record[i] = max(self.record[i], d)
            self.judged[i] += 1
        return out

    def state_dict(self) -> dict:
        view = {k: np.stack([self._view(r, i) for i in range(self.n)])
                for k, r in (("x", self._x), ("mu", self._mu), ("sd", self._sd))}
        return {"m": self.m, "history": self.history, **view,
                "filled": self.filled.copy(), "seen": self.seen.copy(), "record": self.record.copy(),
                "judged": self.judged.copy()}

    def restore(self, state: dict, name: str = "discord") -> None:
        """Resume from state_dict() (the dot products are computed afresh at the next discord); a state
        for another m, history or sensor count raises ValueError."""
        if int(state["m"]) != self.m or int(state["history"]) != self.history:
            raise ValueError(f"{name}: written for m={state['m']}, history={state['history']}; "
                             f"configured m={self.m}, history={self.history}")
        arrays = {k: array_of(state[k], f"{name}.{k}", float, 2, self.cap) for k in ("x", "mu", "sd")}
        filled = array_of(state["filled"], f"{name}.filled", np.int64, 1)
        seen = array_of(state["seen"], f"{name}.seen", np.int64, 1)
        judged = array_of(state["judged"], f"{name}.judged", np.int64, 1)
        record = array_of(state["record"], f"{name}.record", float, 1)
        if any(a.shape[0] != self.n for a in (*arrays.values(), filled, seen, judged, record)):
            raise ValueError(f"{name}: not {self.n} sensors")
        if ((filled < 0) | (filled > self.cap) | (filled > seen) | (judged < 0)).any() or np.isnan(record).any():
            raise ValueError(f"{name}: counts out of range or a record that is not a number")
        mu, sd = arrays["mu"], arrays["sd"]
        with np.errstate(divide="ignore"):
            isd = np.where(sd <= FLAT * (1 + np.abs(mu)), 0.0, 1.0 / sd)
        for ring, a in ((self._x, arrays["x"]), (self._mu, mu), (self._sd, sd), (self._isd, isd)):
            ring[:, :self.cap] = ring[:, self.cap:] = a
        self._at[:] = 0
        self.updates[:] = -1
        self.filled, self.seen, self.judged, self.record = filled, seen, judged, record


def judged_level(sensor_scores: np.ndarray, score: float, novel: np.ndarray, instant_factor: float) -> float | None:
    """The threshold in force on a tick where `novel` sensors' discords are records: just under the
    highest of their scores, and at least score / `instant_factor` (the tick is above the threshold,
    not `instant_factor` × above it: `min_duration_ticks` still applies). None when no novel sensor
    has a score (a sensor just back from a fault is scored 0: not judged)."""
    s = np.asarray(sensor_scores, float)[novel]
    s = s[np.isfinite(s) & (s > 0)]
    if not s.size or not np.isfinite(score) or score <= 0:
        return None
    level = max(float(s.max()) * (1 - 1e-9), score / max(instant_factor, 1.0 + 1e-9))
    return min(level, score * (1 - 1e-9))


__all__ = ["DiscordWatch", "HISTORY_TICKS", "MIN_DISCORDS", "RECORD_FROM", "TIE", "judged_level"]
