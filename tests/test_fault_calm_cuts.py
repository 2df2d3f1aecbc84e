"""The fault tracker's calm-tick cuts of the perf18 round give the long way's results, bit for bit:
per-tick operands as 0-d arrays (fastnp.const), the ramp's judged run kept as a pending number
while every sensor is judged, and the ramp's update and jump-back record skipped while they hold
nothing. And perf20's: stuck's repeat rate on a tick with no repeat, drift's kept relation slots
and sensors' calm context written once while they stay all True / as they are. And perf25's: drift's
~over made once a tick, the fold's wheres skipped when they would pick every entry. And perf29's:
drift's level and spread learned as the rows of one array. And perf32's: drift's pair residuals
and station relations as products folded at the refit (to rounding)."""
import json

import numpy as np
import pytest

from agent import fastnp as fnp
from agent.faults.ramp import Ramp
from fault_states import saved as through_checkpoint, text as state_text


def test_const_operands_give_the_python_numbers_results():
    rng = np.random.default_rng(5)
    a = rng.normal(size=18) * 10.0 ** rng.integers(-300, 300, 18)
    a[:6] = (np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324)
    for value in (0.0, -0.0, 0.5, 0.01, 1e-9, 9.0, 6.0, 1.0 / 3.0, 0.9977):
        c = fnp.const(value)
        assert c.shape == () and c.dtype == np.float64 and not c.flags.writeable
        for op in (np.multiply, np.add, np.subtract, np.divide, np.maximum, np.minimum):
            with np.errstate(all="ignore"):
                assert op(a, c).tobytes() == op(a, value).tobytes(), (op, value)
                assert op(c, a).tobytes() == op(value, a).tobytes(), (op, value)
        for op in (np.less, np.less_equal, np.greater, np.equal):
            assert np.array_equal(op(a, c), op(a, value))
    counts = np.arange(-3, 40, dtype=np.int64)              # a comparison with an integer array: the same
    assert np.array_equal(counts > fnp.const(2.0), counts > 2) and np.array_equal(counts == fnp.const(0.0), counts == 0)


def test_the_ramps_judged_run_kept_pending_is_the_run_counted_each_tick():
    """rest() on ticks that judge every sensor keeps +1 as a number; read at any time, and across
    update() and a checkpoint, judged_run is the run counted tick by tick."""
    rng = np.random.default_rng(9)
    n = 5
    ramp = Ramp(np.ones(n, bool), 600.0, 30.0, jump_back=True)
    counted = np.zeros(n, np.int64)
    nothing = np.zeros(n, bool)
    rests = 0
    for k in range(800):
        seen = np.ones(n, bool) if rng.random() < 0.85 else rng.random(n) < 0.6
        if ramp.resting and rng.random() < 0.9:      # (not resting just after a restore: update runs)
            ramp.rest(seen)
            rests += 1
        else:
            ramp.update(nothing, seen, np.zeros(n), nothing, 30.0 * k, np.full(n, np.nan), nothing, nothing)
        counted = np.where(seen, counted + 1, 0)
        if k % 41 == 0:
            assert np.array_equal(ramp.judged_run, counted)
        if k % 97 == 0:
            saved = json.loads(json.dumps(ramp.state()))
            ramp = Ramp(np.ones(n, bool), 600.0, 30.0, jump_back=True)
            ramp.restore(saved)
    assert np.array_equal(ramp.judged_run, counted) and counted.max() > 20 and rests > 600


def _faulty_rows(scenario: str, seed: int, hours: float):
    from conftest import bench_module
    faults = bench_module("faults")
    from agent.config import from_dict
    cfg = from_dict(faults.config_dict(scenario, seed, hours))
    return cfg, faults.simulated_rows(cfg)


def _state(tracker) -> str:
    return state_text(tracker.state())


def _trackers(cfg):
    from agent.faults.tracker import FaultTracker
    return FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults, reentry_ticks=cfg.window.steps)


def _restored(tracker, cfg, life: str):
    """A new tracker restored from `tracker`'s checkpoint, with fault ids of the same life."""
    saved = through_checkpoint(tracker.state())
    out = _trackers(cfg)
    out.life = life
    out.restore(saved)
    return out


def _twins_decide_alike(short, long, rows, label, long_way, tally):
    """Steps both trackers over the rows; before each of long's ticks `long_way(k, long)` returns the
    tracker to step (made to take the long way, restored as it says). Every tick's events and
    candidates, and the checkpoints, must be the same. Returns the sum of `tally()` (read after
    short's tick) and the kinds of fault decided."""
    counted, kinds = 0, set()
    for k, row in enumerate(rows):
        a = short.observe(row)
        counted += tally()
        long = long_way(k, long)
        b = long.observe(row)
        assert [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in a] == \
               [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in b], (label, k)
        assert np.array_equal(short.candidate, long.candidate), (label, k)
        kinds.update(e.kind for e in a)
        if k % 50 == 0:
            assert _state(short) == _state(long), (label, k)
    assert _state(short) == _state(long)
    return counted, kinds


@pytest.mark.parametrize("scenario, seed, hours", [("pump", 3, 12.0), ("pump", 4, 12.0)])
def test_a_tracker_skipping_the_ramps_calm_ticks_decides_as_one_that_runs_them(scenario, seed, hours):
    """A twin whose ramp is made to run update() and track() on every tick (its caches set to
    "something held"), and is restored from its checkpoint every 13 ticks: every tick's events and
    candidates and the checkpoints are the same, on streams with drifts, spikes, stuck and dead
    sensors and dropouts (the pump: its ramp judges every sensor)."""
    cfg, rows = _faulty_rows(scenario, seed, hours)
    short, long = _trackers(cfg), _trackers(cfg)
    long.life = short.life
    short_ramp = next(r for r in short.rules if r.KIND == "drift").ramp

    def long_way(k, long):
        drift = next(r for r in long.rules if r.KIND == "drift")
        if k % 13 == 0:
            drift.ramp.restore(json.loads(json.dumps(drift.ramp.state())))
        drift.ramp._ramped_any, drift.ramp._back_any = True, True      # the long way: update and track run
        return long

    rested, kinds = _twins_decide_alike(short, long, rows, scenario, long_way, lambda: short_ramp._run_k > 0)
    assert rested > len(rows) // 2 and "drift" in kinds, (rested, kinds)


def test_the_repeat_rate_on_a_tick_without_a_repeat_is_the_general_update():
    """r − rate·r (stuck.py, no sensor repeats) is r + rate·(False − r), bit for bit, for rates
    at the floor (a 0-d array), per sensor, and 0 where a sensor is not counted."""
    rng = np.random.default_rng(20)
    n = 64
    for _ in range(200):
        r = rng.random(n) ** rng.integers(1, 30)
        r[:4] = (0.0, 1.0, 5e-324, 0.5)
        same = np.zeros(n, bool)
        for rate in (fnp.const(rng.random() * 0.1), np.where(rng.random(n) < 0.7, rng.random(n) * 0.1, 0.0)):
            general = r.copy()
            general += rate * (same - general)
            short = r.copy()
            short -= rate * short
            assert short.tobytes() == general.tobytes()


@pytest.mark.parametrize("scenario, seed, hours", [("corridor", 0, 12.0), ("pump", 3, 12.0)])
def test_a_tracker_keeping_drifts_all_true_masks_decides_as_one_that_writes_them_each_tick(scenario, seed, hours):
    """A twin whose drift writes its kept relation slot and its sensors' calm context on every tick
    (the caches saying "not all True / not as it is"), and is restored from its checkpoint every 17
    ticks: every tick's events and candidates, and the checkpoints, are the same."""
    def long_way(twin):
        twin._rc_all = [False] * len(twin._rc_all)          # the long way: written every tick
        twin._ctx_calm_any = False

    (kept_all, kinds), ticks = _drift_twins(scenario, seed, hours, 17, long_way, lambda drift: drift._ctx_calm_any)
    assert kept_all > ticks // 5 and "drift" in kinds, (kept_all, kinds)      # (calm ticks: a fifth and more)


def _drift_twins(scenario: str, seed: int, hours: float, restore_every: int, long_way, tally):
    """_twins_decide_alike on simulator rows, the long twin restored from its checkpoint every
    `restore_every` ticks and its drift rule handed to `long_way` before each of its ticks; `tally`
    reads short's drift rule. Returns _twins_decide_alike's answer and the number of ticks."""
    cfg, rows = _faulty_rows(scenario, seed, hours)
    short, long = _trackers(cfg), _trackers(cfg)
    long.life = short.life
    drift = next(r for r in short.rules if r.KIND == "drift")

    def restored_long_way(k, long):
        if k % restore_every == 0:
            long = _restored(long, cfg, short.life)
        long_way(next(r for r in long.rules if r.KIND == "drift"))
        return long

    return _twins_decide_alike(short, long, rows, scenario, restored_long_way, lambda: tally(drift)), len(rows)


def test_fastnp_clip_is_the_minimum_of_the_maximum():
    """fastnp.clip (the ufunc behind np.clip) gives np.minimum(np.maximum(a, lo), hi) bit for bit,
    for bounds that are not zero (relation.py's: ±REL_CLIP), NaN, infinities, signed zeros and
    subnormals included. (With a zero bound the two differ in a zero's sign: not used so.)"""
    rng = np.random.default_rng(23)
    a = rng.normal(size=64) * 10.0 ** rng.integers(-300, 300, 64)
    a[:8] = (np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 6.0, -6.0)
    for lo, hi in ((-6.0, 6.0), (-1e-300, 5e-324), (1.0, 2.0), (-np.inf, -3.0)):
        lo_c, hi_c = fnp.const(lo), fnp.const(hi)
        assert fnp.clip(a, lo_c, hi_c).tobytes() == np.minimum(np.maximum(a, lo_c), hi_c).tobytes(), (lo, hi)


@pytest.mark.parametrize("scenario, seed, hours", [("corridor", 1, 12.0), ("pump", 4, 12.0)])
def test_a_tracker_taking_perf23s_calm_returns_decides_as_one_that_takes_the_long_way(scenario, seed, hours):
    """A twin made to take the long way where perf23 returns early or reads a known answer —
    out_of_range compares every tick (no sensor has a range here: its Held not idle), the relation's
    jump back runs its checks (as if a jump back were left from the last tick), the normal behaviour
    looks for NaN steps itself (prev not known full), drift's learning counts its context calm — and
    is restored from its checkpoint every 19 ticks: every tick's events and candidates, and the
    checkpoints, are the same."""
    cfg, rows = _faulty_rows(scenario, seed, hours)
    short, long = _trackers(cfg), _trackers(cfg)
    long.life = short.life
    out_of_range = next(r for r in short.rules if r.KIND == "out_of_range")
    assert out_of_range._no_range

    def long_way(k, long):
        if k % 19 == 0:
            long = _restored(long, cfg, short.life)
        for rule in long.rules:
            if rule.KIND == "out_of_range":
                rule.held.idle = False          # the long way: compare, update the Held
            elif rule.KIND == "drift":
                rule._back_any = True           # the long way: the jump back's checks
                rule._every_ctx = False         # the long way: learn counts `on`
        long._prev_all = False                  # the long way: Normal.learn tests step == step
        return long

    calm, kinds = _twins_decide_alike(short, long, rows, scenario, long_way, lambda: short.candidate is short._none)
    assert calm > len(rows) // 5 and {"drift", "spike"} <= kinds, (calm, kinds)


@pytest.mark.parametrize("scenario, seed, hours", [("corridor", 2, 12.0), ("pump", 5, 12.0)])
def test_a_tracker_taking_perf25s_kept_answers_decides_as_one_that_works_them_out(scenario, seed, hours):
    """perf25's drift: ~over made once a tick and the fold's wheres skipped when they would pick every
    entry. A twin made to work each out every tick — its kept ticks' and pairs' all-True flags and the
    last tick's 'none over' unknown — and restored from its checkpoint every 23 ticks: every tick's
    events and candidates, and the checkpoints, are the same."""
    def long_way(twin):
        twin._pl_all = [False] * len(twin._pl_all)     # the long way: the fold's wheres, the slots written
        twin._all_fitted = False                   # the long way: `& fitted`, the fold's where
        twin._all_rel_fitted = False               # the long way: the relations' fold's where, their ok and has
        twin._any_over = True                      # the long way: ok_j and-ed with ~over

    (busy, kinds), ticks = _drift_twins(scenario, seed, hours, 23, long_way,
                                        lambda drift: drift._any_over)
    assert busy > ticks // 20 and "drift" in kinds, (busy, kinds)


@pytest.mark.parametrize("scenario, seed, hours", [("corridor", 2, 12.0), ("pump", 5, 12.0)])
def test_a_tracker_taking_perf27s_screens_decides_as_one_that_computes_every_tick(scenario, seed, hours):
    """A twin that never trusts perf27's screens — spike computes every sensor's usual change and
    ratio (no bound kept), stuck reads its window mean every tick (no ticks known above lowest), the
    tracker calls every rule (none told quiet from the Tick: rule.rule_quiet) — and is restored from
    its checkpoint every 23 ticks: every tick's events and candidates, and the checkpoints, are the
    same; and the screens did clear most ticks."""
    cfg, rows = _faulty_rows(scenario, seed, hours)
    short, long = _trackers(cfg), _trackers(cfg)
    long.life = short.life
    spike = next(r for r in short.rules if r.KIND == "spike")
    stuck = next(r for r in short.rules if r.KIND == "stuck")
    seen = {"spike": 0, "stuck": 0}
    before = {"learns": -1}

    def screened():     # (read after short's tick: its spike did not recompute `usual`, its stuck read no mean)
        cleared = spike.usual is before.get("usual")
        seen["spike"] += cleared
        seen["stuck"] += stuck._above_left > 0
        before["usual"] = spike.usual
        return cleared

    def long_way(k, long):
        if k % 23 == 0:
            long = _restored(long, cfg, short.life)
        for rule in long.rules:
            if rule.KIND == "spike":
                rule._under = None              # the long way: the usual change and every ratio
            elif rule.KIND == "stuck":
                rule._above_left = 0            # the long way: the window's mean against lowest
        long._plan = [(rule, 0) for rule, _ in long._plan]      # the long way: every rule called
        return long

    _, kinds = _twins_decide_alike(short, long, rows, scenario, long_way, screened)
    assert seen["spike"] > len(rows) // 2 and seen["stuck"] > len(rows) // 3, seen
    assert {"spike", "stuck"} <= kinds, kinds


def test_the_spike_screens_bound_holds_through_its_ticks_of_learning():
    """Spike._screen's bound, made from a Normal learning at its floor rate, stays at or under z ×
    the usual change the spike would compute on each of the next SCREEN_TICKS learned ticks, for
    adversarial ticks (every step 0, or huge, every sensor repeating, none learned), statistics
    near their edges (repeat near 0 and 1, subnormal and huge abs_step) and several rates."""
    from agent.faults.config import FaultConfig
    from agent.faults.context import Normal
    from agent.faults.spike import MIN_MOVING, SCREEN_TICKS, Spike

    class Ctx:
        n = 24
    rng = np.random.default_rng(27)
    n = Ctx.n
    for trial in range(600):
        normal = Normal(n, float(rng.choice([2.0, 7.0, 120.0, 2880.0])))
        normal.restore({"count": [1e6] * n})
        normal.repeat[:] = rng.choice([0.0, 1e-300, 0.3, 0.95, 1.0 - 1e-16, 1.0], n)
        normal.abs_step[:] = rng.choice([5e-324, 1e-300, 0.01, 3.0, 1e300], n) * rng.random(n)
        normal.learn(np.ones(n), np.zeros(n, bool), np.zeros(n), np.zeros(n, bool), np.zeros(n, bool),
                     counted=np.zeros(n, bool))         # (a tick learning nothing: the rate floor is known)
        assert normal.rate_floor
        spike = Spike(FaultConfig(), Ctx, 30.0)
        spike._screen(normal, 1.0 - normal.repeat)
        under = spike._under
        for _ in range(SCREEN_TICKS):
            mode = rng.integers(4)
            step = (np.zeros(n), np.full(n, 1e300), rng.random(n) * 10.0 ** rng.integers(-320, 300), np.zeros(n))[mode]
            unchanged = step == 0 if mode != 3 else np.ones(n, bool)
            every = np.ones(n, bool) if rng.random() < 0.7 else rng.random(n) < 0.5
            normal.learn(rng.random(n), every, step, every, np.zeros(n, bool), counted=every | (rng.random(n) < 0.5),
                         unchanged=unchanged)
            usual = normal.abs_step / np.maximum(1.0 - normal.repeat, MIN_MOVING)
            with np.errstate(invalid="ignore"):
                assert not np.any(under > spike.z * usual), (trial, under / usual)


def test_a_window_over_for_some_pushes_stays_over_whatever_is_pushed():
    """RecentMean.over_for(total, k): when it holds, every sensor's mean stays at or above lowest
    for k pushes when total is stuck's (lowest × size × (1 + 1e-11) + 1e-300), even when each push
    is all zeros (the worst case), with values of every size down to subnormal, +inf, entries not
    kept, and a lowest of 0 or subnormal; and it holds often enough to be tested."""
    from agent.faults.rule import RecentMean
    rng = np.random.default_rng(11)
    n, size = 16, 20
    promised = 0
    for trial in range(600):
        ring = RecentMean(size, n)
        scale = 10.0 ** rng.integers(-300, 300) * rng.choice([1.0, 1e-20])
        for _ in range(int(rng.integers(size, 3 * size))):
            v = rng.random(n) * scale * rng.choice([1.0, 1e-3, 1e3])
            if trial % 4 == 0:
                v[rng.random(n) < 0.02] = np.inf
            ring.push(rng.random(n) < (0.95 if trial % 2 else 1.0), v)
        with np.errstate(invalid="ignore", over="ignore"):      # (inf × 0: NaN, a lowest never passed)
            lowest = ring.mean() * rng.choice([0.0, 1e-300, 0.05, 0.3, 0.6, 0.95, 1.0])
            lowest[np.isinf(lowest)] = scale
            total = lowest * (size * (1.0 + 1e-11)) + 1e-300
        k = int(rng.integers(1, size))
        if not ring.over_for(np.where(np.isfinite(total), total, np.nan), k):
            continue
        assert np.all(ring.mean() >= lowest), trial
        promised += k
        for _ in range(k):
            zero = rng.random() < 0.7
            ring.push(rng.random(n) < 0.5, np.zeros(n) if zero else rng.random(n) * 1e-300)
            assert np.all(ring.mean() >= lowest), trial
    assert promised > 600, promised


def test_a_windows_newest_rows_cost_memory_linear_in_its_size():
    """review14 found bench/fuzz.py's agent killed at 17–22 GB: RecentMean kept over_for's row order
    as one index array per head, size² entries (stuck's ring is flatline_s / tick_s rows: 600 s of
    0.1-s ticks was ~0.3 GB at start-up, 1-ms ticks never started). Now one doubled range sliced per
    head: building a 3,000-row ring stays within a few times its own rows. perf39: over_for reads, at
    every head, the ring's newest size − k rows as the ring's sum less its k oldest rows', each at its
    lowest — certain under those rows' sum by 1e-9 of it and 1e-12 of the ring's (a running sum's
    error is a share of the whole ring's), never over it — both on a ring summed whole
    (7 rows) and on one whose sum is kept running (RecentMean.SMALL + 6 rows)."""
    import tracemalloc
    from agent.faults.rule import RecentMean
    size, n = 3000, 2
    tracemalloc.start()
    try:
        RecentMean(size, n)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rows_bytes = size * n * (8 + 1 + 1)           # zeroed, kept, finite
    assert peak < 20 * rows_bytes + 200_000, peak  # the old per-head index: 72 MB here
    rng = np.random.default_rng(5)
    n = 3
    for size in (7, RecentMean.SMALL + 6):
        ring = RecentMean(size, n)
        assert ring.running == (size > RecentMean.SMALL)
        pushed = []
        for step in range(3 * size + 2):               # every head, and the ring wrapped more than once
            v = rng.random(n)
            ring.push(np.ones(n, bool), v)
            pushed.append(v)
            for k in range(1, size):
                newest = np.array(pushed[::-1][:size - k])
                want = np.add.reduce(newest, axis=0)
                under = want * (1.0 - 1e-9) - 1e-12 * np.add.reduce(np.array(pushed[::-1][:size]), axis=0)
                assert ring.over_for(under, k) and not ring.over_for(want, k), (size, step, k)


def test_drifts_level_and_spread_learned_as_one_array_are_the_two_updates():
    """perf29: drift's slow level and spread, rows of one array learned by one multiply and one add
    (_learn_rows), are bit for bit the two updates they replaced — base_e += rate × dev where calm,
    d2 += b × (min(dev², CLIP² d2) − d2), floored — for the constant rates and for every mix of a
    `calm` mask and a per-row `b`, on values over many scales with −0.0, subnormals and huge ones."""
    from agent.faults.drift import CLIP, Drift
    cfg, _ = _faulty_rows("corridor", 0, 1.0)
    drift = next(r for r in _trackers(cfg).rules if isinstance(r, Drift))
    m = drift.base_e.size
    rng = np.random.default_rng(29)
    with np.errstate(over="ignore", under="ignore"):       # (inf where dev² overflows: the same either way)
        for k in range(400):
            scale = 10.0 ** rng.integers(-160, 160, m)
            base = rng.normal(size=m) * scale
            d2 = np.abs(rng.normal(size=m)) * 10.0 ** rng.integers(-160, 160, m) + drift.d2_floor
            dev = rng.normal(size=m) * 10.0 ** rng.integers(-160, 160, m)
            dev[rng.random(m) < 0.1] = -0.0
            dev[rng.random(m) < 0.05] = 5e-324
            calm = None if k % 2 else rng.random(m) < 0.7
            b = None if k % 3 else np.where(rng.random(m) < 0.8, np.maximum(1.0 / (rng.integers(0, 500, m) + 1.0),
                                                                            drift.alpha_min), 0.0)
            drift.base_e[...], drift.d2[...] = base, d2
            drift._steps[0] = dev            # (observe writes dev into that row)
            drift._learn_rows(drift._steps[0], b, calm)
            # The long way: the two updates as they were made before (drift.py before perf29).
            rate_b = drift.alpha_min if b is None else b
            want_d2 = d2 + rate_b * (np.minimum(np.multiply(dev, dev), CLIP ** 2 * d2) - d2)
            want_base = base + (drift.base_lam if calm is None else np.where(calm, drift.base_lam, 0.0)) * dev
            want_d2 = np.maximum(want_d2, drift.d2_floor)
            assert drift.base_e.tobytes() == want_base.tobytes(), k
            assert drift.d2.tobytes() == want_d2.tobytes(), k


def test_drifts_folded_pair_residuals_are_each_pairs_own():
    """perf32: drift's pair residuals (x_i − β·g − intercept) / spread as one product of the refit's
    folded matrix with [x, x², lag1, lag2, 1], laid out as the median's (n, width) block, are each
    pair's residual worked out from its own β, intercept and spread (to rounding: the fold multiplies
    before it sums), with NaN in every padding slot; a feature NaN or inf spoils the block beyond its
    padding, so the tick is judged pair by pair. The station relations' one product with the signs and
    the level is the gathered trio's r and r − level; the median's halves are (a + b) × 0.5 bit for bit."""
    from agent.faults.drift import Drift
    from agent.faults.pairs import _HALVES, F
    cfg, rows = _faulty_rows("corridor", 3, 8.0)
    tracker = _trackers(cfg)
    for row in rows[:900]:
        tracker.observe(row)
    drift = next(r for r in tracker.rules if isinstance(r, Drift))
    assert drift._all_fitted and np.abs(drift.beta).max() > 0.01       # (refitted models, not the zeros)
    n, p = drift.n, drift.target.size
    on = drift.slot < p
    rng = np.random.default_rng(32)
    for _ in range(50):
        drift._xl[...] = rng.normal(size=(F, n)) * rng.choice([1e-2, 1.0, 1e2])
        block = np.dot(drift._slot_w, drift._xl_one).reshape(drift.slot.shape)
        g = drift._xl_flat[drift.g_index]
        want = (g[:, F] - np.einsum("pk,pk->p", drift.beta, g[:, :F]) - drift.icept) / drift.spread
        scale = (np.abs(g[:, :F] * drift.beta).sum(axis=1) + np.abs(g[:, F]) + np.abs(drift.icept)) / drift.spread
        np.testing.assert_array_less(np.abs(block[on] - want[drift.slot[on]]), 1e-13 * scale + 1e-300)
        assert np.isnan(block[~on]).all() and not np.isnan(block[on]).any()
        assert np.count_nonzero(np.isnan(block)) == drift._n_pad
        for bad in (np.nan, np.inf):
            drift._xl[rng.integers(F), rng.integers(n)] = bad
            with np.errstate(invalid="ignore"):          # (0 × inf)
                assert np.count_nonzero(np.isnan(np.dot(drift._slot_w, drift._xl_one))) > drift._n_pad, bad
    lx = rng.normal(size=n) * 3.0
    r = lx[drift.trio] @ np.array([1.0, -1.0, -1.0])
    assert np.abs(drift.rel_level).max() > 0.01                # (a learned level, not the zeros)
    np.testing.assert_allclose(np.dot(drift._rel_w, np.append(lx, 1.0)), np.concatenate((r, r - drift.rel_level)),
                               rtol=0, atol=1e-13)
    with np.errstate(all="ignore"):
        two = rng.normal(size=(2, 4000)) * 10.0 ** rng.integers(-300, 300, (2, 4000))
        fine = np.isfinite((two[0] + two[1]) * 0.5) & (np.abs(two) > 1e-300).all(axis=0)
        assert np.dot(_HALVES, two)[fine].tobytes() == ((two[0] + two[1]) * 0.5)[fine].tobytes()
