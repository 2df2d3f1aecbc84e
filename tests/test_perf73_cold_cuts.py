"""perf73: the fault tracker's cold cuts (bit for bit) — what each keeps of what the tracker decides.

Real trackers on the simulator's rows (bench/faults.py's corridor, with its injected faults), no stand-ins:
- stuck's repeat count is the number of ticks each sensor was counted, whether or not its repeat rate is known to
  be at its floor (a sensor that never repeated never learns that), and survives a checkpoint;
- the station relation's z clipped by maximum and minimum is np.clip's, NaN and the bounds included.
"""
from __future__ import annotations

import numpy as np

from fault_states import saved as through_checkpoint


def _corridor(hours: float = 8.0, seed: int = 3):
    from conftest import bench_module
    from agent.config import from_dict
    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict("corridor", seed, hours))
    return cfg, faults.simulated_rows(cfg)


def _tracker(cfg):
    from agent.faults.tracker import FaultTracker
    return FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults, reentry_ticks=cfg.window.steps)


def _drift(tracker):
    from agent.faults.drift import Drift
    return next(r for r in tracker.rules if isinstance(r, Drift))


def test_stucks_repeat_count_is_the_ticks_counted_whether_or_not_its_rate_floor_is_known():
    from agent.faults.stuck import Stuck
    from agent.window import Row
    cfg, rows = _corridor(hours=2.0)
    tracker = _tracker(cfg)
    stuck = next(r for r in tracker.rules if isinstance(r, Stuck))
    n = tracker.ctx.n
    rng = np.random.default_rng(7)
    want = np.zeros(n)
    prev_seen = np.zeros(n, bool)
    for k, row in enumerate(rows):
        # readings that never repeat (the demo's), one sensor missing now and then: both count paths run
        values = row.values + rng.normal(size=n) * 1e-3
        missing = np.zeros(n, bool)
        if k % 7 == 3:
            missing[k % n] = True
        values = np.where(missing, np.nan, values)
        row = Row(ts=row.ts, values=values, missing=missing, carried=np.zeros(n, bool), label=row.label,
                  event=row.event)
        healthy = ~tracker.faulty                          # (as the tick finds it)
        tracker.observe(row)
        seen = ~missing
        counted = seen & prev_seen & healthy               # observed with a step, healthy
        want += counted
        prev_seen = np.where(seen, True, prev_seen)
    assert stuck._never_repeated and not stuck._rate_floor          # (the flag the count no longer waits for)
    assert stuck._repeat_count._k > 0                               # (ticks kept as a number, not yet in the array)
    np.testing.assert_array_equal(stuck.repeat_count, want)
    restored = _tracker(cfg)
    restored.restore(through_checkpoint(tracker.state()))
    again = next(r for r in restored.rules if isinstance(r, Stuck))
    np.testing.assert_array_equal(again.repeat_count, want)


def test_the_relations_z_clipped_by_maximum_and_minimum_is_np_clips():
    cfg, rows = _corridor()
    tracker = _tracker(cfg)
    for row in rows[:900]:
        tracker.observe(row)
    drift = _drift(tracker)
    assert drift.trio.size and drift._all_rel_fitted
    lo, hi = float(drift._clip_lo), float(drift._clip_hi)
    assert lo < 0.0 < hi
    rng = np.random.default_rng(11)
    seen_lo = seen_hi = 0
    for step in range(30):
        x = np.abs(rows[900 + step].values) + 0.1
        x *= np.exp(rng.normal(size=x.size) * rng.choice([0.01, 1.0, 5.0]))      # relations far off, both ways
        if step % 5 == 0:
            x[rng.integers(x.size)] = np.nan
        with np.errstate(invalid="ignore"):
            z = drift._relation(x, x * x, np.ones(x.size, bool), True)[0].copy()
        want = np.clip(drift._rel_scale, lo, hi)        # (_rel_scale: the quotient it was clipped from, in place)
        kept = ~np.isnan(z)                             # (a relation without its three readings: NaN, not judged)
        assert kept.any() and z[kept].tobytes() == want[kept].tobytes(), step
        assert np.isnan(want).sum() <= (~kept).sum()
        seen_lo += int(np.count_nonzero(z == lo))
        seen_hi += int(np.count_nonzero(z == hi))
    assert seen_lo and seen_hi
