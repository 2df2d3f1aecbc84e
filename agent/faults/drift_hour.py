"""drift's departure judged against the row's own departures at this time of day on the previous day (faults9).

A corridor's weekdays repeat: the recurrent queue reaches a station at the same minutes every evening, and
while it backs up one station's speed leaves what its neighbours predict before they follow. On main the
drift rule made that a candidate on normal days (S03_speed at 16:35 on seed after seed, and thousands of
candidate ticks at the morning rise and the two peaks on the corridor's tuning seeds: faults9's census in
docs/measured/faults.md), and a candidate holds back the alerts its sensor drives alone.

So each row (a sensor's, a station relation's) keeps, for each HOUR_BIN_S of the day, the largest departure
numerator (the smoothed residual less its slow level: observe's `dev`) it reached that day on each side of 0. A candidate whose departure is no larger than what its row
reached at this time of day on the previous day, on the same side (in this bin or one of HOUR_NEIGHBOURS either
side: a peak a few minutes early or late), is the day's pattern and no candidate (no alert waits on it); a larger
one is a candidate as without the profile. Only the candidates change: the departures, the neighbours' calm and
a drift's time past the limit are judged as before, so a drift is decided when it was (a drift decided is
never taken out).

It learns only from rows seen this tick (not settling after a jump or another fault) whose sensors are not
drifting: a decided drift does not teach tomorrow's profile. A row with fewer than half its runs of a bin seen that day (a
gap, a restart) has no profile there the next day. Only exactly the previous day is read (two days kept, by the
day's parity): no day before it, no profile. The bin's extremes are kept on every tick; the candidates are filtered only
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
        # Each bin's extremes on the last two days, by the day's parity ([day % 2, bin]): the previous day's
        # (the one judged with) is kept while today's is learned. hour_day: the day each slot holds (-1: none).
        self.hour_hi = np.zeros((2, bins, m))     # its largest departure numerator that day (≥ 0)
        self.hour_lo = np.zeros((2, bins, m))     # …and its most negative (≤ 0)
        self.hour_day = np.full((2, bins), -1, np.int64)
        self._today = np.zeros((3, m))            # this bin today: its largest, its most negative, runs seen
        self._hour_at = -1                        # this bin's index since the epoch (ts // HOUR_BIN_S)
        self._hour_min = max(1.0, 0.5 * HOUR_BIN_S / run_s)    # runs seen for a day's bin to count

    def _hour_fold(self) -> None:
        """Today's extremes of the bin that ended into its day's slot, where enough of its runs were seen."""
        at = self._hour_at
        hi, lo, runs = self._today
        if at >= 0:
            ok = runs >= self._hour_min
            if fnp.count_nonzero(ok):
                day, b = divmod(at, self._hour_bins)
                slot = day % 2
                if self.hour_day[slot, b] != day:       # (the day before yesterday's: nothing of it is kept)
                    self.hour_hi[slot, b] = 0.0
                    self.hour_lo[slot, b] = 0.0
                    self.hour_day[slot, b] = day
                self.hour_hi[slot, b, ok] = hi[ok]
                self.hour_lo[slot, b, ok] = lo[ok]
        self._today[...] = 0.0

    def _hour_learn(self, dev: np.ndarray, learn: np.ndarray, ts: float) -> None:
        """This tick's departure numerators (`dev`) into today's extremes of its bin, where `learn`."""
        at = int(ts // HOUR_BIN_S)
        if at != self._hour_at:
            self._hour_fold()
            self._hour_at = at
        hi, lo, runs = self._today
        np.maximum(hi, dev, out=hi, where=learn)
        np.minimum(lo, dev, out=lo, where=learn)
        runs += learn

    def _yesterday(self) -> list[tuple[int, int]]:
        """The (slot, bin) of this bin and its HOUR_NEIGHBOURS either side exactly a day before, those learned."""
        bins, out = self._hour_bins, []
        for k in range(self._hour_at - bins - HOUR_NEIGHBOURS, self._hour_at - bins + HOUR_NEIGHBOURS + 1):
            day, b = divmod(k, bins)
            if self.hour_day[day % 2, b] == day:
                out.append((day % 2, b))
        return out

    def _by_hour(self, out: tuple[np.ndarray, np.ndarray], dev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """_judge's (candidates, decided) with the candidates whose departure the previous day reached at this time
        of day (same side; its own row, or its station relation's where its own row is under half the limit)
        taken out; decided ones stay, and nothing else the rule judged changes (their departures, their
        neighbours' calm, the time a drift is held past the limit)."""
        cand, decided = out
        if cand is self.held.nothing or not fnp.count_nonzero(cand):
            return out
        near = self._yesterday()
        if not near:
            return out
        slots, bins = zip(*near)
        reach_hi = np.max(self.hour_hi[slots, bins], axis=0)
        reach_lo = np.min(self.hour_lo[slots, bins], axis=0)
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
        return {"hi": self.hour_hi.tolist(), "lo": self.hour_lo.tolist(), "day": self.hour_day.tolist(),
                "today": self._today.tolist(), "at": self._hour_at}

    def _restore_hour(self, state: dict | None) -> None:
        """A checkpoint's profile (one from before it, or of another shape: learned afresh)."""
        if not state:
            return
        hi = np.asarray(state["hi"], float)
        if hi.shape != self.hour_hi.shape:
            return
        self.hour_hi[...] = hi
        self.hour_lo[...] = np.asarray(state["lo"], float)
        self.hour_day[...] = np.asarray(state["day"], np.int64)
        self._today[...] = np.asarray(state["today"], float)
        self._hour_at = int(state["at"])
