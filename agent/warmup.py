"""The warm-up's rows, held as four arrays instead of a list of Row objects.

The pipeline keeps every warm-up tick until the fallback is fitted (a day of ticks on the demo:
2880 × 18 sensors). As Row objects — a dataclass and three small numpy arrays each — that took
~2.6 MiB; as preallocated arrays, 0.5 MiB, and the fit reads them as they are, without stacking
2880 rows into new arrays first. The arrays are released (`clear`) when the warm-up is done.
"""
from __future__ import annotations

import numpy as np

from .window import Row


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
