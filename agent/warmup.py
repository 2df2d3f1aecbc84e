"""The warm-up's rows, held as four arrays instead of a list of Row objects.

The pipeline keeps every warm-up tick until the fallback is fitted (a day of ticks on the demo:
2880 × 18 sensors). As Row objects — a dataclass and three small numpy arrays each — that took
~2.6 MiB; as preallocated arrays, 0.5 MiB, and the fit reads them as they are, without stacking
2880 rows into new arrays first. The arrays are released (`clear`) when the warm-up is done.
"""
from __future__ import annotations

import numpy as np

from .quantile import quantile
from .window import Normaliser, Row

#: A sensor's warm-up readings whose median lies this many of the bundle's std from its mean, or
#: whose median and spread are both under 1/this of the bundle's mean and std, are not in the units
#: the bundle was trained on. A plant's real change after training is not that (the demo's quiet
#: night hour as warm-up: its flows 1/5 of the day's mean, their spread 1/50 of its std).
UNIT_RATIO = 30.0


class WarmupRows:
    """Rows appended one at a time: `ts` (n,), `values` (n, N) raw, NaN where missing, `missing`
    and `carried` (n, N) bool — views of the rows so far. Room for `capacity` rows at first,
    grown by half when a warm-up counting only rows with data needs more ticks than that."""

    def __init__(self, sensors: int, capacity: int):
        self.sensors = sensors
        self._len = 0
        self._alloc(max(1, capacity))

    def _alloc(self, capacity: int) -> None:
        n, keep = self.sensors, self._len
        old = (self._ts, self._values, self._missing, self._carried) if keep else None
        self._ts = np.empty(capacity)
        self._values = np.empty((capacity, n))
        self._missing = np.empty((capacity, n), bool)
        self._carried = np.empty((capacity, n), bool)
        if old is not None:
            for new, prev in zip((self._ts, self._values, self._missing, self._carried), old):
                new[:keep] = prev[:keep]

    def __len__(self) -> int:
        return self._len

    def append(self, row: Row) -> None:
        i = self._len
        if i == len(self._ts):
            self._alloc(i + i // 2 + 1)
        self._ts[i] = row.ts
        self._values[i] = row.values
        self._missing[i] = row.missing
        self._carried[i] = row.carried
        self._len = i + 1

    def clear(self) -> None:
        """Forget the rows and give their memory back (the warm-up is over)."""
        self._len = 0
        self._alloc(1)

    @property
    def ts(self) -> np.ndarray:
        return self._ts[:self._len]

    @property
    def values(self) -> np.ndarray:
        return self._values[:self._len]

    @property
    def missing(self) -> np.ndarray:
        return self._missing[:self._len]

    @property
    def carried(self) -> np.ndarray:
        return self._carried[:self._len]


def unit_mismatches(sensors: list[str], raw: np.ndarray, missing: np.ndarray, bundle: Normaliser) -> list[str]:
    """One line per sensor whose warm-up readings (raw (n, N), NaN where missing) are not on the
    scale of the bundle's normalisation: another unit, a missing or doubled scaling factor."""
    out = []
    for j, name in enumerate(sensors):
        seen = raw[~missing[:, j], j]
        seen = seen[np.isfinite(seen)]
        if len(seen) < 2:
            continue
        mean, std = float(bundle.mean[j]), float(bundle.std[j])
        level, spread = float(quantile(seen, 0.5)), float(np.std(seen))   # np.median imports numpy.ma
        shift = abs(level - mean) / std
        small = abs(mean) >= std and abs(level) < abs(mean) / UNIT_RATIO and spread < std / UNIT_RATIO
        if shift <= UNIT_RATIO and not small:
            continue
        where = f"{abs(level / mean):.3g}× the bundle's mean" if mean != 0 else f"{shift:.3g} std from its mean"
        out.append(f"{name}: warm-up readings median {level:.4g}, spread {spread:.4g}, against the bundle's "
                   f"mean {mean:.4g}, std {std:.4g} (median {where}): not the bundle's scale — another unit, or a "
                   "scaling factor missing? The model tier's score of it is off by as much; fix the source's "
                   "scaling or train a bundle on this data")
    return out


def flat_sensors(sensors: list[str], raw: np.ndarray, missing: np.ndarray, norm: Normaliser, source: str) -> list[str]:
    """One line per sensor whose std in `norm` is the floor (Normaliser.floored): flat through the rows
    it was fitted on (a pump off, a valve shut, a flag at 0) or never read. Its first change then scores
    as many floors as it moves and holds an alert open for as long as it differs; said once, at the end
    of warm-up, so that alert is not a mystery. `raw`/`missing`: the warm-up's rows, for the figures;
    `source`: where the normalisation comes from ("this warm-up", "the bundle's training data")."""
    out = []
    for j in np.flatnonzero(norm.floored()):
        name, seen = sensors[j], raw[~missing[:, j], j]
        seen = seen[np.isfinite(seen)]
        now = ("no reading in this warm-up" if not len(seen) else
               f"this warm-up read {float(seen.min()):.4g}" + ("" if seen.min() == seen.max()
                                                              else f" to {float(seen.max()):.4g}"))
        out.append(f"{name}: did not move in {source} (std {float(norm.std[j]):.3g}, the floor; {now}): its "
                   "normal spread is unknown, so any change of it scores in units of that floor and holds an "
                   "alert open for as long as it differs. Warm up over data in which it moves (warmup.replay), "
                   "or leave it out of `sensors`")
    return out
