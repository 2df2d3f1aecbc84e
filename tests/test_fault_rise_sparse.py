"""perf22: the rise's record (ramp.py `rise`) kept at the rising sensors' indices in Python numbers gives
the whole arrays' arithmetic it replaced, bit for bit — its candidates, its far record and its checkpoint
— through sensors that rise, fall back, dip, are forgotten (a fault of another kind) and are restored."""
import json

import numpy as np

from agent.faults.ramp import RISE_DIP, RISE_GROWTH, RISE_S, Ramp

TICK = 30.0


class WholeArrayRise:
    """faults22's rise as it was written (every sensor's record, numpy arrays): the reference."""

    def __init__(self, n: int):
        self.rise_from, self.rise_start, self.rise_peak = np.full(n, np.nan), np.zeros(n), np.zeros(n)

    def rise(self, low: np.ndarray, size: np.ndarray, ts: float) -> np.ndarray:
        if not (np.isfinite(self.rise_from).any() or low.any()):
            return np.zeros(low.size, bool)
        fell = size < self.rise_peak - RISE_DIP
        new = low & (np.isnan(self.rise_from) | fell)
        self.rise_from[~low] = np.nan
        self.rise_from[new] = ts
        self.rise_start[new] = size[new]
        self.rise_peak = np.where(low, np.maximum(np.where(new, 0.0, self.rise_peak), size), 0.0)
        with np.errstate(invalid="ignore"):
            return low & (ts - self.rise_from >= RISE_S) & (size >= RISE_GROWTH * self.rise_start)

    def forget(self, other: np.ndarray) -> None:
        if np.isfinite(self.rise_from).any():
            self.rise_from[other] = np.nan

    def state(self) -> dict:
        return {"rise_from": [None if np.isnan(v) else v for v in self.rise_from.tolist()],
                "rise_start": self.rise_start.tolist(), "rise_peak": self.rise_peak.tolist()}


def _record(ramp: Ramp) -> dict:
    return {k: v for k, v in ramp.state().items() if k.startswith("rise_")}


def test_the_sparse_rise_is_the_whole_arrays_rise_bit_for_bit():
    rng = np.random.default_rng(22)
    n = 6
    on = np.array([True, True, True, False, True, True])       # sensor 3 has a station relation: never judged
    ramp, ref = Ramp(on, 600.0, TICK, jump_back=True, limit=6.0), WholeArrayRise(n)
    size = rng.uniform(0.5, 1.5, n)
    candidates = 0
    for k in range(3000):
        ts = 1_000_000.0 + TICK * k
        # slow rises, falls and dips, with now and then a jump down (a dip past RISE_DIP) or up
        size = np.abs(size + rng.normal(0.004, 0.03, n) + (rng.random(n) < 0.01) * rng.normal(0.0, 0.5, n))
        low = (size > 1.0) & on & (rng.random(n) > 0.03)           # now and then not judged, or its context busy
        got = ramp.rise(np.flatnonzero(low).tolist(), size, ts, size * np.where(rng.random(n) < 0.5, 1.0, -1.0))
        want = ref.rise(low, size, ts)
        assert np.array_equal(np.zeros(n, bool) if got is None else got, want), k
        candidates += int(want.sum())
        if k % 97 == 50:                                           # a fault of another kind on some sensors
            other = rng.random(n) < 0.3
            ramp.forget(other)
            ref.forget(other)
        assert json.dumps(_record(ramp)) == json.dumps(ref.state()), k
        assert ramp.rising_any == bool(np.isfinite(ref.rise_from).any())
        if k % 500 == 251:                                          # a restart mid-run
            again = Ramp(on, 600.0, TICK, jump_back=True, limit=6.0)
            again.restore(json.loads(json.dumps(ramp.state())))
            ramp = again
    assert candidates > 10          # the run had rises that became candidates, not only calm ticks (26 here)
