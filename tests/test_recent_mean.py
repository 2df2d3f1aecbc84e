"""RecentMean (agent/faults/rule.py): the fault rules' window means — stuck's flatline window of
flatline_s / tick_s rows, spike's 10 — against the whole ring's sum, and its cost a tick.

perf39: a ring longer than RecentMean.SMALL keeps its sum running instead of reducing the whole
ring a tick (600,000 rows at 1-ms ticks cost ~50 ms a tick). The promise that replaces "the same
bits": every mean within 1e-9 relative (or 1e-300 absolute) of the whole ring's, ±inf and NaN
exactly where that gives them, over streams that exercise a running sum's drift and cancellation
(values over many scales, collapses to 1e-9 of them and to exact zeros, +inf, entries not kept,
10^6 pushes); the running sum's bits a function of the pushes alone (not of when it was read) and
restored from a checkpoint; and a tick's cost not growing with the ring's length."""
from __future__ import annotations

import time

import numpy as np
import pytest

from agent.faults.rule import RecentMean


def _expected(ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The whole ring's mean (NaN where not kept, summed with NaN as 0, over the finite entries),
    and the count of finite entries."""
    seen = np.isfinite(ring).sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(ring), 0.0, ring).sum(axis=0) / np.maximum(seen, 1), seen


def _stream(rng, n: int, pushes: int, inf_every: int = 0):
    """(kept, value) pairs: steps ≥ 0 over many scales, in stretches — calm, a collapse to 1e-9 of
    the scale, exact zeros (a frozen sensor), bursts 1e6 × the scale — with entries not kept and
    (inf_every) a +inf now and then."""
    scale, mode = 1.0, 0
    for t in range(pushes):
        if t % 997 == 0:
            scale, mode = 10.0 ** rng.uniform(-6, 6), int(rng.integers(4))
        value = rng.exponential(size=n) * scale * (1.0, 1e-9, 0.0, 1e6)[mode]
        kept = np.ones(n, bool) if rng.random() < 0.8 else rng.random(n) < 0.6
        if inf_every and rng.integers(inf_every) == 0:
            value[int(rng.integers(n))] = np.inf
        yield kept, value


def _check(recent: RecentMean, ring: np.ndarray, where) -> None:
    want, seen = _expected(ring)
    got = recent.mean()
    assert np.array_equal(recent.seen(), seen), where
    assert recent.all_seen == bool((seen == recent.size).all()), where
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite], want[~finite], equal_nan=True), (where, got, want)
    err = np.abs(got[finite] - want[finite])
    assert np.all(err <= 1e-9 * np.abs(want[finite]) + 1e-300), (where, got, want)


@pytest.mark.parametrize("size, pushes, every, inf_every", [
    (1, 3000, 1, 50), (7, 3000, 1, 50), (64, 3000, 1, 50), (65, 5000, 1, 50),     # (RecentMean.SMALL: 64)
    (300, 20000, 7, 200), (5000, 40000, 101, 500)])
def test_the_mean_is_the_whole_rings_within_its_bound(size, pushes, every, inf_every):
    """Pushed as stuck and spike push (next_row + push(kept, None) when every sensor is kept, else
    push(kept, value)), read every `every` pushes: each mean within the bound of the whole ring's."""
    rng = np.random.default_rng(size)
    n = 4
    recent, ring, head = RecentMean(size, n), np.full((size, n), np.nan), 0
    assert recent.running == (size > RecentMean.SMALL)
    for t, (kept, value) in enumerate(_stream(rng, n, pushes, inf_every)):
        if kept.all() and t % 2:
            recent.next_row()[:] = value
            recent.push(kept, None)
        else:
            recent.push(kept, value)
        ring[head] = np.where(kept, value, np.nan)
        head = (head + 1) % size
        if t % every == 0:
            _check(recent, ring, (size, t))
    _check(recent, ring, (size, "end"))


def test_a_million_pushes_stay_within_the_bound():
    """10^6 pushes into a 1,000-row ring (a running sum's rounding accumulates over them unless it
    is summed again: it is, on its bound), through collapses and bursts, read every 977 pushes."""
    rng = np.random.default_rng(6)
    size, n = 1000, 2
    recent, ring, head = RecentMean(size, n), np.full((size, n), np.nan), 0
    values = rng.exponential(size=(1_000_000, n)) * np.repeat(10.0 ** rng.uniform(-6, 6, (1000, 1)), 1000, axis=0)
    values[np.repeat(rng.random(1000) < 0.2, 1000)] = 0.0           # frozen stretches: exact zeros
    kept = np.ones(n, bool)
    for t in range(values.shape[0]):
        recent.push(kept, values[t])
        ring[head] = values[t]
        head = (head + 1) % size
        if t % 977 == 0:
            _check(recent, ring, t)
    _check(recent, ring, "end")


def test_its_bits_are_the_pushes_own_and_a_checkpoint_keeps_them():
    """A ring read after every push and one never read hold the same sum to the bit (a read sums
    the ring for itself, it does not move the running sum); one restored from the other's checkpoint
    (rows, head, sums) reads the same means, to the bit, from then on; a checkpoint from before the
    running sums (no sums) restores to the whole ring's sum."""
    rng = np.random.default_rng(8)
    size, n = 500, 3
    read, unread = RecentMean(size, n), RecentMean(size, n)
    stream = list(_stream(rng, n, 4000, 300))
    for kept, value in stream[:2500]:
        read.push(kept, value)
        unread.push(kept, value)
        read.mean()
    assert np.array_equal(read._sum, unread._sum) and np.array_equal(read.mean(), unread.mean(), equal_nan=True)
    restored, old = RecentMean(size, n), RecentMean(size, n)
    restored.set_rows(read.rows(), read.head, read.sums())
    old.set_rows(read.rows(), read.head)
    ring = read.rows()
    want, _ = _expected(ring)
    assert np.allclose(old.mean(), want, rtol=1e-12, atol=0, equal_nan=True)
    for kept, value in stream[2500:]:
        read.push(kept, value)
        restored.push(kept, value)
        assert np.array_equal(read.mean(), restored.mean(), equal_nan=True)


def test_a_ticks_cost_does_not_grow_with_the_rings_length():
    """One push and one mean a tick (stuck's tick at 1-ms ticks before its window is known), timed
    interleaved on a 100-row and a 300,000-row ring: the long one within 4× the short one's median
    (reducing the whole ring a tick, as before perf39: ~100× here)."""
    n = 4
    short, long = RecentMean(100, n), RecentMean(300_000, n)
    rng = np.random.default_rng(9)
    values = rng.exponential(size=(3000, n))
    kept = np.ones(n, bool)
    took = {id(short): [], id(long): []}
    for t in range(values.shape[0]):
        for ring in ((short, long) if t % 2 else (long, short)):
            t0 = time.perf_counter()
            ring.push(kept, values[t])
            ring.mean()
            took[id(ring)].append(time.perf_counter() - t0)
    ratio = np.median(took[id(long)]) / np.median(took[id(short)])
    assert ratio < 4.0, ratio
