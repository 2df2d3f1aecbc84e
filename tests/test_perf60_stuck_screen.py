"""perf60: stuck's screen on a ring summed whole (faults/rule.py RecentMean.over_for, over_now) is one weighted
product of the ring's rows, under the newest rows' real sum. A tracker whose stuck never trusts it (reads its
window's mean every tick) decides and checkpoints alike; and the product is a sound lower bound: under the
rows' own float sum, over it less a hair, and a window it calls over has its mean at or above lowest."""
from __future__ import annotations

import numpy as np
import pytest

from agent.faults.rule import RecentMean
from fault_states import saved as through_checkpoint, text as state_text


def _faulty_rows(scenario: str, seed: int, hours: float):
    """bench/faults.py's simulated stream (drifts, spikes, stuck and dead sensors, dropouts) and its config."""
    from conftest import bench_module
    from agent.config import from_dict
    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict(scenario, seed, hours))
    return cfg, faults.simulated_rows(cfg)


def _tracker(cfg, life: str | None = None, state: dict | None = None):
    from agent.faults.tracker import FaultTracker
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults, reentry_ticks=cfg.window.steps)
    if life is not None:
        tracker.life = life
    if state is not None:
        tracker.restore(through_checkpoint(state))
    return tracker


@pytest.mark.parametrize("scenario, seed, hours", [("corridor", 2, 12.0), ("pump", 5, 12.0)])
def test_a_tracker_whose_stuck_reads_its_mean_every_tick_decides_alike(scenario, seed, hours):
    """The long twin's stuck has no screen (neither over_for nor over_now ever holds: the window's mean is
    read against lowest every tick), and it is restored from its checkpoint every 29 ticks: every tick's
    events and candidates, and the checkpoints, are the same; and the short one's screens (a look ahead held,
    or the window alone over) spared the mean on most ticks."""
    cfg, rows = _faulty_rows(scenario, seed, hours)
    short = _tracker(cfg)
    long = _tracker(cfg, short.life)
    stuck = next(r for r in short.rules if r.KIND == "stuck")
    assert not stuck.steps.running           # (the ring summed whole: the weighted product's path)
    means = [0]
    read = stuck.steps.mean

    def counted_mean():
        means[0] += 1
        return read()
    stuck.steps.mean = counted_mean
    kinds = set()
    for k, row in enumerate(rows):
        if k % 29 == 0:
            long = _tracker(cfg, short.life, long.state())
        ring = next(r for r in long.rules if r.KIND == "stuck").steps
        ring.over_for = lambda total, pushes: False     # the long way: no tick known above lowest
        ring.over_now = lambda total: False
        a, b = short.observe(row), long.observe(row)
        assert [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in a] == \
               [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in b], (scenario, k)
        assert np.array_equal(short.candidate, long.candidate), (scenario, k)
        kinds.update(e.kind for e in a)
        if k % 50 == 0:
            assert state_text(short.state()) == state_text(long.state()), (scenario, k)
    assert state_text(short.state()) == state_text(long.state())
    assert means[0] < len(rows) // 4, (means[0], len(rows))
    assert "stuck" in kinds or scenario == "corridor", kinds


def test_the_weighted_product_is_under_the_newest_rows_sum_and_over_it_less_a_hair():
    """At every head and look ahead k (0: over_now), on rings of 7 and 64 rows (RecentMean.SMALL, the longest
    summed whole): over for the newest size − k rows' own float sum less 1e-12 of it, never for that sum."""
    rng = np.random.default_rng(60)
    n = 3
    for size in (7, RecentMean.SMALL):
        ring = RecentMean(size, n)
        assert not ring.running
        pushed = []
        for step in range(2 * size + 3):
            v = rng.random(n) * 10.0 ** rng.integers(-200, 200)
            ring.push(np.ones(n, bool), v)
            pushed.append(v)
            for k in range(0, size):
                newest = np.array(pushed[::-1][:size - k])
                want = np.add.reduce(newest, axis=0)
                check = ring.over_now if k == 0 else (lambda total: ring.over_for(total, k))
                assert check(want * (1.0 - 1e-12)) and not check(want), (size, step, k)


def test_a_window_over_now_has_its_mean_at_or_above_lowest():
    """over_now(total) with stuck's total (lowest × size × (1 + 1e-9) + 1e-300): the mean is at or above lowest
    wherever it holds, with values of every size down to subnormal, +inf, entries not kept, and a lowest of 0
    or subnormal; and it holds often enough to be tested."""
    rng = np.random.default_rng(61)
    n, size = 16, 20
    held = 0
    for trial in range(400):
        ring = RecentMean(size, n)
        scale = 10.0 ** rng.integers(-300, 300) * rng.choice([1.0, 1e-20])
        for _ in range(int(rng.integers(size // 2, 3 * size))):
            v = rng.random(n) * scale * rng.choice([1.0, 1e-3, 1e3])
            if trial % 4 == 0:
                v[rng.random(n) < 0.02] = np.inf
            ring.push(rng.random(n) < (0.95 if trial % 2 else 1.0), v)
        with np.errstate(invalid="ignore", over="ignore"):
            mean = ring.mean()
            lowest = mean * rng.choice([0.0, 1e-300, 0.3, 0.95, 1.0, 1.05])
            lowest[np.isinf(lowest)] = scale
            total = lowest * (size * (1.0 + 1e-9)) + 1e-300
        if ring.over_now(np.where(np.isfinite(total), total, np.nan)):
            assert np.all(mean >= lowest), trial
            held += 1
    assert held > 100, held
