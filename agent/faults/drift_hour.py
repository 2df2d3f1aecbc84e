"""drift's departure judged against its own departure at this time of day on previous days (faults9).

A corridor's weekdays repeat: the recurrent queue reaches a station at the same minutes every evening, and
while it backs up one station's speed leaves what its neighbours predict before they follow. On main the
drift rule made that a candidate on normal days (S03_speed at 16:35 on seed after seed, and thousands of
candidate ticks at the morning rise and the two peaks on the corridor's tuning seeds: faults9's census in
docs/measured/faults.md), and a candidate holds back the alerts its sensor drives alone.

So each row (a sensor's, a station relation's) keeps the mean of its departure's numerator (the smoothed
residual less its slow level: observe's `dev`) in each HOUR_BIN_S of the day, folded in when the bin ends,
days weighted by DAY_KEEP (the newest DAY_KEEP's complement). Where a bin holds a previous day, the row's
departure is judged less what that bin (or one of its HOUR_NEIGHBOURS either side: a peak a few minutes early
or late) explains: the profile is clipped into [0, dev] (it can shrink a departure towards 0, never grow it
or flip its sign) and the bin explaining most is taken. A drift is unlike the previous days at its hour, so it
is judged as before; a departure the same size and sign every day at that hour is the process.

It learns only from rows seen this tick (not settling after a jump or another fault) whose sensors are not
drifting: a decided drift does not teach tomorrow's profile. Bins with fewer than half their runs seen that day
(a gap, a restart) are not folded. It is computed only on ticks some row is past the rise's share of the limit
(the only ones whose decisions it can change); the bin's sums are kept on every tick."""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp

DAY_S = 86400.0
HOUR_BIN_S = 600.0       # the profile's bins: 10 min of the day
HOUR_NEIGHBOURS = 1      # bins either side that may explain a departure (a peak 10 min early or late)
DAY_KEEP = 0.5           # the previous days' weight when a day's bin is folded in


class DriftHour:
    """A mixin of Drift: the row's departure at this time of day on previous days."""

    def _init_hour(self, m: int, run_s: float) -> None:
        bins = int(round(DAY_S / HOUR_BIN_S))
        self._hour_bins = bins
        self.hour_level = np.zeros((bins, m))           # each bin's departure numerator over previous days
        self.hour_days = np.zeros((bins, m))            # days folded into it (0: not known)
        self._hour_known = np.zeros(bins, bool)         # some row of the bin known
        self._hour_sum = np.zeros(m)                    # this bin's sums today
        self._hour_n = np.zeros(m)
        self._hour_bin = -1
        self._hour_min = max(1.0, 0.5 * HOUR_BIN_S / run_s)    # runs seen for a day's bin to count

    def _hour_bin_of(self, ts: float) -> int:
        return int((ts % DAY_S) // HOUR_BIN_S) % self._hour_bins

    def _hour_fold(self) -> None:
        """Today's sums of the bin that ended into its profile, where enough of its runs were seen."""
        b = self._hour_bin
        if b >= 0:
            ok = self._hour_n >= self._hour_min
            if fnp.count_nonzero(ok):
                mean = self._hour_sum[ok] / self._hour_n[ok]
                days, level = self.hour_days[b], self.hour_level[b]
                level[ok] = np.where(days[ok] > 0, DAY_KEEP * level[ok] + (1 - DAY_KEEP) * mean, mean)
                days[ok] += 1
                self._hour_known[b] = True
        self._hour_sum[...] = 0.0
        self._hour_n[...] = 0.0

    def _by_hour(self, dev: np.ndarray, learn: np.ndarray, departure: np.ndarray, size: np.ndarray, ts: float,
                 any_low) -> tuple[np.ndarray, np.ndarray]:
        """(departure, |departure|) judged against the previous days at this time of day; `dev` this tick's
        numerator, `learn` the rows that teach the profile. Unchanged (the same arrays) where no bin near is
        known or no row is past the rise's share (`any_low`)."""
        b = self._hour_bin_of(ts)
        if b != self._hour_bin:
            self._hour_fold()
            self._hour_bin = b
        np.add(self._hour_sum, dev, out=self._hour_sum, where=learn)
        self._hour_n += learn
        if not any_low:
            return departure, size
        near = [k % self._hour_bins for k in range(b - HOUR_NEIGHBOURS, b + HOUR_NEIGHBOURS + 1)]
        near = [k for k in near if self._hour_known[k]]
        if not near:
            return departure, size
        lo, hi = np.minimum(dev, 0.0), np.maximum(dev, 0.0)
        best = dev
        for k in near:
            left = dev - np.clip(np.where(self.hour_days[k] > 0, self.hour_level[k], 0.0), lo, hi)
            best = np.where(np.abs(left) < np.abs(best), left, best)
        judged = np.where(departure == 0.0, 0.0, best / np.sqrt(self.d2))   # (a row not judged stays 0)
        return judged, np.abs(judged)

    def _hour_state(self) -> dict:
        return {"level": self.hour_level.tolist(), "days": self.hour_days.tolist(),
                "sum": self._hour_sum.tolist(), "n": self._hour_n.tolist(), "bin": self._hour_bin}

    def _restore_hour(self, state: dict) -> None:
        """A checkpoint's profile (one from before it, or of another shape: learned afresh)."""
        if not state:
            return
        level = np.asarray(state["level"], float)
        if level.shape != self.hour_level.shape:
            return
        self.hour_level[...] = level
        self.hour_days[...] = np.asarray(state["days"], float)
        self._hour_known[...] = np.any(self.hour_days > 0, axis=1)
        self._hour_sum[...] = np.asarray(state["sum"], float)
        self._hour_n[...] = np.asarray(state["n"], float)
        self._hour_bin = int(state["bin"])
