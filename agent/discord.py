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

Cost per sensor and tick: one sliding dot product over the history (H × m multiply-adds, H =
HISTORY_TICKS, np.correlate), O(H) more for the spreads kept per subsequence; memory 3 × (H + m)
floats a sensor (measured: docs/measured/accuracy-nab.md, eleventh round).
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


class DiscordWatch:
    """Per sensor: the last H + m fresh readings, each subsequence's mean and spread, how many readings
    it had, and the record discord."""

    def __init__(self, n: int, m: int, history: int = HISTORY_TICKS):
        if m < 2 or history < m:
            raise ValueError(f"discord: need m ≥ 2 and a history of at least m ticks, got m={m}, {history}")
        self.n, self.m, self.history = n, m, history
        self.cap = history + m                         # readings kept: neighbours' ends t-H..t-m
        self.x = np.zeros((n, self.cap))               # newest last; `filled` of them valid
        self.mu = np.zeros((n, self.cap))              # mean / spread of the subsequence ending there
        self.sd = np.zeros((n, self.cap))
        self.filled = np.zeros(n, np.int64)
        self.seen = np.zeros(n, np.int64)              # fresh readings so far
        self.record = np.full(n, -np.inf)             # the largest discord from reading RECORD_FROM on
        self.judged = np.zeros(n, np.int64)            # discords in the record

    def _push(self, i: int, value: float) -> None:
        x, mu, sd = self.x[i], self.mu[i], self.sd[i]
        x[:-1], mu[:-1], sd[:-1] = x[1:], mu[1:], sd[1:]
        x[-1] = value
        self.seen[i] += 1
        self.filled[i] = min(self.filled[i] + 1, self.cap)
        if self.filled[i] >= self.m:
            last = x[-self.m:]
            mu[-1], sd[-1] = last.mean(), last.std()

    def discord(self, i: int) -> float:
        """Sensor i's newest subsequence's distance (per √m) to its nearest earlier one; nan while
        there is none (fewer than 2m readings)."""
        m, f = self.m, int(self.filled[i])
        ends = f - 2 * m + 1                           # neighbours: subsequences ending ≤ t − m
        if ends <= 0:
            return float("nan")
        ends = min(ends, self.history - m + 1)
        x, mu, sd = self.x[i], self.mu[i], self.sd[i]
        q_mu, q_sd = mu[-1], sd[-1]
        lo = self.cap - m - ends                       # index of the oldest neighbour's last reading
        nb_mu, nb_sd = mu[lo:lo + ends], sd[lo:lo + ends]
        nb_flat = nb_sd <= FLAT * (1 + np.abs(nb_mu))
        if q_sd <= FLAT * (1 + abs(q_mu)):             # a flat query: 0 to a flat neighbour, else 1
            return 0.0 if nb_flat.any() else 1.0
        q = (x[-m:] - q_mu) / q_sd
        dots = np.correlate(x[lo - m + 1:lo + ends], q, mode="valid")    # each neighbour · q, in C
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = (dots - nb_mu * q.sum()) / np.where(nb_flat, 1.0, nb_sd) / m
        corr = np.where(nb_flat, 0.5, corr)            # a flat neighbour: distance 1 (corr 0.5)
        return float(np.sqrt(max(0.0, 2.0 - 2.0 * float(corr.max()))))

    def step(self, values: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """One tick (warm-up ticks too): each fresh reading enters; returns which sensors' discord is a
        record (judged once MIN_DISCORDS discords from reading RECORD_FROM on have set it)."""
        out = np.zeros(self.n, bool)
        for i in np.flatnonzero(fresh):
            i = int(i)
            self._push(i, float(values[i]))
            if self.seen[i] <= RECORD_FROM:
                continue
            d = self.discord(i)
            if not np.isfinite(d):
                continue
            out[i] = self.judged[i] >= MIN_DISCORDS and d > self.record[i]
            self.record[i] = max(self.record[i], d)
            self.judged[i] += 1
        return out

    def state_dict(self) -> dict:
        return {"m": self.m, "history": self.history, "x": self.x.copy(), "mu": self.mu.copy(), "sd": self.sd.copy(),
                "filled": self.filled.copy(), "seen": self.seen.copy(), "record": self.record.copy(),
                "judged": self.judged.copy()}

    def restore(self, state: dict, name: str = "discord") -> None:
        """Resume from state_dict(); a state for another m, history or sensor count raises ValueError."""
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
        self.x, self.mu, self.sd = arrays["x"], arrays["mu"], arrays["sd"]
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


__all__ = ["DiscordWatch", "HISTORY_TICKS", "MIN_DISCORDS", "RECORD_FROM", "judged_level"]
