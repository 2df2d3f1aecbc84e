"""drift's departure judged against the row's own departures at this time of day on the previous day (faults9).

A corridor's weekdays repeat: the recurrent queue reaches a station at the same minutes every evening, and
while it backs up one station's speed leaves what its neighbours predict before they follow. On main the
drift rule made that a candidate on normal days (S03_speed at 16:35 on seed after seed, and thousands of
candidate ticks at the morning rise and the two peaks on the corridor's tuning seeds: faults9's census in
docs/measured/faults.md), and a candidate holds back the alerts its sensor drives alone.

So each row (a sensor's, a station relation's) keeps, for each HOUR_BIN_S of the day, the largest departure
numerator (the smoothed residual less its slow level: observe's `dev`) it reached that day on each side of 0,
and keeps the last full day's when the bin ends. A candidate whose departure is no larger than what its row
reached at this time of day on the previous day, on the same side (in this bin or one of HOUR_NEIGHBOURS either
side: a peak a few minutes early or late), is the day's pattern and no candidate (no alert waits on it); a larger
one is a candidate as without the profile. Only the candidates change: the departures, the neighbours' calm and
a drift's time past the limit are judged as before, so a drift is decided when it was (a drift decided is
never taken out).

It learns only from rows seen this tick (not settling after a jump or another fault) whose sensors are not
drifting: a decided drift does not teach tomorrow's profile. A bin with fewer than half its runs seen that day
(a gap, a restart) keeps the day before's. The bin's extremes are kept on every tick; the candidates are filtered only
on ticks there are any."""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp

DAY_S = 86400.0
HOUR_BIN_S = 600.0       # the profile's bins: 10 min of the day
HOUR_NEIGHBOURS = 1      # bins either side that may explain a departure (a peak 10 min early or late)


class DriftHour:
    """A mixin of Drift: the row's departures at this time of day on the previous day."""

    def _init_hour(self, m: int, run_s: float) -> None:
        bins = int(round(DAY_S / HOUR_BIN_S))
        self._hour_bins = bins
        self.hour_hi = np.zeros((bins, m))       # each bin's largest departure numerator on the last full day (≥ 0)
        self.hour_lo = np.zeros((bins, m))       # …and its most negative (≤ 0)
        self._hour_known = np.zeros(bins, bool)  # some row of the bin learned
        self._today = np.zeros((3, m))           # this bin today: its largest, its most negative, runs seen
        self._hour_bin = -1
        self._hour_min = max(1.0, 0.5 * HOUR_BIN_S / run_s)    # runs seen for a day's bin to count

    def _hour_bin_of(self, ts: float) -> int:
        return int((ts % DAY_S) // HOUR_BIN_S) % self._hour_bins

    def _hour_fold(self) -> None:
        """Today's extremes of the bin that ended become its profile, where enough of its runs were seen."""
        b = self._hour_bin
        hi, lo, runs = self._today
        if b >= 0:
            ok = runs >= self._hour_min
            if fnp.count_nonzero(ok):
                self.hour_hi[b, ok] = hi[ok]
                self.hour_lo[b, ok] = lo[ok]
                self._hour_known[b] = True
        self._today[...] = 0.0

    def _hour_learn(self, dev: np.ndarray, learn: np.ndarray, ts: float) -> None:
        """This tick's departure numerators (`dev`) into today's extremes of its bin, where `learn`."""
        b = self._hour_bin_of(ts)
        if b != self._hour_bin:
            self._hour_fold()
            self._hour_bin = b
        hi, lo, runs = self._today
        np.maximum(hi, dev, out=hi, where=learn)
        np.minimum(lo, dev, out=lo, where=learn)
        runs += learn

    def _by_hour(self, out: tuple[np.ndarray, np.ndarray], dev: np.ndarray, ts: float) -> tuple[np.ndarray, np.ndarray]:
        """_judge's (candidates, decided) with the candidates whose departure the previous day reached at this time
        of day (same side; its own row, or its station relation's where its own row is under half the limit)
        taken out; decided ones stay, and nothing else the rule judged changes (their departures, their
        neighbours' calm, the time a drift is held past the limit)."""
        cand, decided = out
        if cand is self.held.nothing or not fnp.count_nonzero(cand):
            return out
        b = self._hour_bin
        near = [k % self._hour_bins for k in range(b - HOUR_NEIGHBOURS, b + HOUR_NEIGHBOURS + 1)]
        near = [k for k in near if self._hour_known[k]]
        if not near:
            return out
        reach_hi = np.max(self.hour_hi[near], axis=0)
        reach_lo = np.min(self.hour_lo[near], axis=0)
        explained = ((dev > 0) & (dev <= reach_hi)) | ((dev < 0) & (dev >= reach_lo))
        n = self.n
        mine = explained[:n]
        if self.trio.size:
            mine = mine | ((explained[n:] @ self.trio_in.T > 0) & ~self.over[:n])
        keep = ~mine | decided
        if fnp.count_nonzero(keep) == n:
            return out
        return cand & keep, decided

    def _hour_state(self) -> dict:
        return {"hi": self.hour_hi.tolist(), "lo": self.hour_lo.tolist(), "today": self._today.tolist(),
                "bin": self._hour_bin}

    def _restore_hour(self, state: dict | None) -> None:
        """A checkpoint's profile (one from before it, or of another shape: learned afresh)."""
        if not state:
            return
        hi = np.asarray(state["hi"], float)
        if hi.shape != self.hour_hi.shape:
            return
        self.hour_hi[...] = hi
        self.hour_lo[...] = np.asarray(state["lo"], float)
        self._hour_known[...] = np.any((self.hour_hi != 0) | (self.hour_lo != 0), axis=1)
        self._today[...] = np.asarray(state["today"], float)
        self._hour_bin = int(state["bin"])
