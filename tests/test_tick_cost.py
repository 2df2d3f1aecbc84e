"""The per-tick shortcuts of issue 16 compute the same bits as the long way: the AR model's kept
window residuals, the Markov chain's kept states, the sensors' normal behaviour learned on a tick
where every sensor is learned, and a fault rule's calm fast path."""
import numpy as np
import pytest

from agent import fastnp as fnp
from agent.config import NumpyScorerConfig
from agent.faults.context import Normal
from agent.faults.rule import Held
from agent.scorers.numpy_fallback import NumpyScorer
from agent.window import WindowBuffer
from fault_states import saved as through_checkpoint, text as state_text


def stream(rng, rows, n):
    x = np.zeros((rows, n))
    for t in range(1, rows):
        x[t] = 0.7 * x[t - 1] + rng.normal(0, 1, n)
    missing = rng.random((rows, n)) < 0.05
    return np.where(missing, 0.0, x).astype(np.float32), missing


def test_kept_window_residuals_and_states_are_the_recomputed_ones():
    rng = np.random.default_rng(3)
    n, steps, tick = 5, 16, 60.0
    z, missing = stream(rng, 700, n)
    ts = np.arange(len(z)) * tick
    cfg = NumpyScorerConfig(seasonal_periods_s=[3600.0])
    scorer = NumpyScorer(n, np.ones((n, n)) - np.eye(n), cfg, tick_s=tick, steps=steps)
    scorer.fit(z[:400], missing[:400], ts[:400])
    buf = WindowBuffer(steps, n)
    for t in range(400 - steps, 400):
        buf.push(z[t], missing[t], ts[t])
    versions = set()
    for t in range(400, len(z)):
        buf.push(z[t], missing[t], ts[t])
        scorer.score(buf)
        scorer.score(buf)                            # a retry: the same window again
        extra = scorer.seasonal.window(buf)
        kept = scorer.ar.window_residuals(buf, extra)
        assert np.array_equal(kept, scorer.ar.residuals(buf.values, buf.missing, extra))
        s0, s1 = scorer.markov.transitions(buf)
        assert np.array_equal(s0, scorer.markov.states(buf.values[-2]))
        assert np.array_equal(s1, scorer.markov.states(buf.values[-1]))
        scorer.observe(buf)
        scorer.learn(buf)                            # solves every 32 ticks: new weights, residuals recomputed
        versions.add(scorer.ar.rls.version)
    assert len(versions) > 5


def _normal_and_general(seed: int, masks) -> tuple[Normal, Normal]:
    """n sensors learned with `masks(rng, n)` -> (learn, step_ok) against the same n plus one never
    counted nor with a known step (the general path, every mask in), 300 ticks."""
    rng = np.random.default_rng(seed)
    n = 6
    mine, general = Normal(n, 50.0), Normal(n + 1, 50.0)
    prev = rng.normal(size=n)
    for _ in range(300):
        x = prev + rng.normal(size=n) * rng.choice([0.0, 1.0], size=n, p=[0.2, 0.8])
        step = np.abs(x - prev)
        at_floor = rng.random(n) < 0.1
        (learn, step_ok), yes = masks(rng, n), np.ones(n, bool)
        mine.learn(x, learn, step, step_ok, at_floor, counted=yes)
        general.learn(np.append(x, np.nan), np.append(learn, False), np.append(step, np.nan),
                      np.append(step_ok, False), np.append(at_floor, False), counted=np.append(yes, False))
        prev = x
    for key in ("count", "mean", "abs_step", "rel_step", "repeat", "at_floor"):
        assert np.array_equal(getattr(mine, key), getattr(general, key)[:n]), key
    return mine, general


def test_normal_learned_on_every_sensor_is_the_general_update():
    """n sensors all learned (the fast path) against the general path: every statistic of the n
    is the same bits."""
    fast, _ = _normal_and_general(5, lambda rng, n: (np.ones(n, bool), np.ones(n, bool)))
    assert fast.count.min() == fast.count.max() == 300


def test_normal_with_some_sensors_not_learned_is_the_general_update():
    """n sensors all counted with a known step, some not learned or without a learnable step (a
    drift candidate's tick: the all-True masks left out) against the general path: every
    statistic of the n is the same bits."""
    masked, _ = _normal_and_general(7, lambda rng, n: (rng.random(n) < 0.7, rng.random(n) < 0.8))
    assert masked.count.min() < masked.count.max()      # some ticks left sensors unlearned


def test_held_is_calm_only_when_nothing_holds_and_nothing_would():
    held = Held(3, 30.0)
    none = np.zeros(3, bool)
    assert held.calm(none)
    assert not held.calm(np.array([False, True, False]))
    held.update(np.array([False, True, False]), np.ones(3, bool), 0.0)
    assert not held.calm(none)                       # a condition held: the next tick must clear it
    held.update(none, np.ones(3, bool), 30.0)
    assert held.calm(none)
    assert not held.nothing.flags.writeable


def _fitted_markov(seed: int, n: int, steps: int, rows: int):
    """A numpy fallback fitted on the first 200 of `rows` rows of a random stream: its Markov chain,
    the stream, and an empty window to push the rest into."""
    z, missing = stream(np.random.default_rng(seed), rows, n)
    scorer = NumpyScorer(n, np.ones((n, n)) - np.eye(n), NumpyScorerConfig(), tick_s=1.0, steps=steps)
    scorer.fit(z[:200], np.zeros_like(missing[:200]))
    return scorer.markov, z, missing, WindowBuffer(steps, n)


def test_markov_tick_by_flat_index_is_the_fancy_index():
    """The Markov chain's tick reads and adds its counts by flat index: every tick's probabilities
    are the block path's (the 3-d fancy index) bit for bit, and learning adds g to exactly the
    tick's entries, as the fancy index's add did; also across a restore."""
    n, steps = 5, 12
    markov, z, missing, buf = _fitted_markov(11, n, steps, 400)
    learned = 0
    for t in range(200, 400):
        buf.push(z[t], missing[t], float(t))
        if t < 200 + steps:
            continue
        if t == 300:
            markov.restore(markov.state_dict())
        s0, s1 = markov.transitions(buf)
        assert np.array_equal(markov._prob(s0, s1), markov._prob(s0[None], s1[None])[0])
        counts, rowsum, g = markov.counts.copy(), markov.rowsum.copy(), markov.g
        markov.learn(buf, (s0, s1))
        ok = buf.newest_seen & ~buf.missing[-2]
        idx = np.flatnonzero(ok)
        if markov.g == g / markov.lam:        # (not rescaled this tick)
            counts[idx, s0[idx], s1[idx]] += markov.g
            rowsum[idx, s0[idx]] += markov.g
            assert np.array_equal(markov.counts, counts) and np.array_equal(markov.rowsum, rowsum)
            learned += ok.all()
    assert learned > 50


def test_markov_propagates_from_the_sensors_own_last_state():
    """A sensor missing on the previous tick is scored from its last observed state, found for
    that sensor alone: the same state states() gives it in its whole row."""
    n, steps = 4, 12
    markov, z, missing, buf = _fitted_markov(7, n, steps, 300)
    checked = 0
    for t in range(200, 300):
        gap = 1 <= t % 10 <= 4                       # sensor 2 missing for four ticks in ten
        m = missing[t].copy()
        m[2] = gap
        buf.push(np.where(m, 0.0, z[t]).astype(np.float32), m, float(t))
        if t < 200 + steps or not buf.missing[-2, 2] or buf.missing[-1, 2]:
            continue
        seen = np.flatnonzero(~buf.missing[:-1, 2])
        d = np.zeros(markov.k)
        d[markov.states(buf.values[seen[-1]])[2]] = 1.0
        M = markov.transition(2)
        for _ in range(steps - 2 - seen[-1]):
            d = d @ M
        s1 = markov.states(buf.values[-1])[2]
        assert markov._propagated(buf, 2, s1) == float(d @ M[:, s1])
        checked += 1
    assert checked >= 5


def test_fault_masks_follow_each_start_and_end():
    """The tracker's faulty / healthy / drifting masks, updated at the sensors a fault started or
    ended at, are those rebuilt from every sensor's kind."""
    from agent.config import from_dict
    from agent.faults.tracker import FaultTracker
    cfg = from_dict({"sensors": ["a", "b", "c", "d"], "sources": [{"type": "stdin"}], "tick_s": 30})
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    for i, kind in ((1, "drift"), (3, "stuck"), (1, ""), (0, "missing")):
        tracker.kind[i] = kind
        tracker._kinds_changed([i])
        faulty, drifting = tracker._faulty.copy(), tracker._drifting.copy()
        tracker._kinds_changed()
        assert np.array_equal(faulty, tracker._faulty) and np.array_equal(drifting, tracker._drifting)
        assert np.array_equal(tracker._healthy, ~tracker._faulty)
        assert tracker._kinds == tuple(tracker.kind)
    assert tracker._any_faulty


def test_recent_mean_is_the_nan_ring_mean_and_round_trips():
    """RecentMean (spike's and stuck's rings of recent steps) gives, tick after tick, the mean a
    NaN-filled ring gives summed with NaN as 0 over its finite entries — inf included, which
    is summed but not counted — and its checkpoint form restores to the same ring. Stretches of
    every sensor kept and finite make the ring's count the size everywhere (not reduced: all_seen)."""
    from agent.faults.rule import RecentMean
    rng = np.random.default_rng(11)
    size, n = 7, 5
    ring, recent = np.full((size, n), np.nan), RecentMean(size, n)
    head, shortcut = 0, 0
    for t in range(120):
        value = rng.exponential(size=n)
        every = (t // 20) % 2 == 1           # every sensor kept (an inf now and then in half of them)
        if not every or t % 40 > 36:
            value[rng.random(n) < 0.1] = np.inf
        kept = np.ones(n, bool) if every else rng.random(n) < 0.7
        ring[head] = np.where(kept, value, np.nan)
        head = (head + 1) % size
        recent.push(kept, value)
        seen = np.isfinite(ring).sum(axis=0)
        assert not recent.all_seen or (seen == size).all()      # the shortcut only where it is true
        shortcut += recent.all_seen
        expected = np.where(np.isnan(ring), 0.0, ring).sum(axis=0) / np.maximum(seen, 1)
        assert np.array_equal(recent.seen(), seen)
        assert np.array_equal(recent.mean(), expected, equal_nan=True)
        assert np.array_equal(recent.rows(), ring, equal_nan=True)
    assert shortcut > 20
    again = RecentMean(size, n)
    again.set_rows(recent.rows(), recent.head)
    for k in ("zeroed", "kept", "finite"):
        assert np.array_equal(getattr(again, k), getattr(recent, k)), k
    assert np.array_equal(again.seen(), recent.seen())



def test_the_fallbacks_shorter_sums_are_the_long_ones_within_rounding():
    """What this round computes a shorter way and in another order (so not the same bits): the AR
    point statistic read from the kept residuals instead of a second forecast, the neighbour mean
    as one product, the blocked least squares' Σ x xᵀ as a batched matmul. Each within 1e-9 of the
    long way on a stream with missing readings, over many solves; the Markov surprise computed in
    place, and the fallback's parts zeroed once where the newest value is missing, the same bits."""
    rng = np.random.default_rng(11)
    n, steps, tick = 6, 16, 60.0
    z, missing = stream(rng, 900, n)
    ts = np.arange(len(z)) * tick
    adj = np.ones((n, n)) - np.eye(n)
    adj[0] = 0.0
    adj[0, 1] = adj[0, 2] = 2.0                       # unequal weights, a sensor with two neighbours
    scorer = NumpyScorer(n, adj, NumpyScorerConfig(seasonal_periods_s=[3600.0]), tick_s=tick, steps=steps)
    scorer.fit(z[:400], missing[:400], ts[:400])
    buf = WindowBuffer(steps, n)
    for t in range(400 - steps, 400):
        buf.push(z[t], missing[t], ts[t])
    ar, markov, fusion = scorer.ar, scorer.markov, scorer.fusion
    solves = 0
    for t in range(400, len(z)):
        buf.push(z[t], missing[t], ts[t])
        extra = scorer.seasonal.window(buf)
        x = ar.features(buf, extra[-1])
        point = np.abs(buf.values[-1] - fnp.einsum("nk,nk->n", ar.rls.w, x)) * ar.rls.inv_sd
        r = ar.residuals(buf.values, buf.missing, extra)
        long_way = np.maximum(point, np.abs(ar.bias_weights(len(r)) @ r)) * buf.newest_seen
        np.testing.assert_allclose(ar.score(buf, extra) * buf.newest_seen, long_way, rtol=1e-9, atol=1e-12)
        prev = buf.values[-2].astype(np.float64)
        s = fusion.neighbour_mean(buf.values[-1], buf.missing[-1])
        np.testing.assert_allclose(fusion.features(buf)[:, 1:], np.stack([prev, s, prev * s], axis=1),
                                   rtol=1e-12, atol=1e-12)
        states = markov.transitions(buf)
        prob = markov._prob(*states)
        for i in np.flatnonzero(buf.missing[-2]):
            prob[i] = markov._propagated(buf, i, states[1][i])
        want = np.maximum((-np.log(prob) - markov.mean) * markov.inv_std, 0.0) * buf.newest_seen
        assert np.array_equal(markov.score(buf, states), want)
        parts = (ar.score(buf, extra) * buf.newest_seen, markov.score(buf, states), fusion.score(buf) * buf.newest_seen)
        assert np.array_equal(scorer.score(buf).sensor_scores, scorer.combine(*parts) * buf.newest_seen)
        rls = ar.rls
        if rls._m == rls.block - 1:                   # the next learn solves: the long way beside it
            m = rls.block
            X, y, v = fnp.concatenate([rls._X[:m - 1], x[None]]), rls._y[:m].copy(), rls._v[:m].copy()
            y[-1], v[-1] = buf.values[-1], buf.newest_seen
            decay = rls.lam ** np.arange(m - 1, -1, -1)[:, None] * v
            A = rls.lam ** m * rls.A + fnp.einsum("mni,mnj->nij", X * decay[:, :, None], X)
            scorer.observe(buf)
            scorer.learn(buf)
            np.testing.assert_allclose(rls.A, A, rtol=1e-12)
            solves += 1
            continue
        scorer.observe(buf)
        scorer.learn(buf)
    assert solves >= 10


@pytest.mark.parametrize("bin_s", [600.0, 1800.0])
def test_seasonal_rows_reusing_the_previous_ticks_profile_values_are_the_same_bits(bin_s):
    """row() reads the profiles at the previous tick from the row before (and leaves a step of
    +0.0 within one bin, skips the masks when every sensor or none is known): the same bits as
    reading them afresh, across learning, skipped (uncalm) ticks, gaps, bins and cycles; and
    newest() is window()'s newest row. Bins of one tick, and of three (a row in the same bins as
    the row before: SeasonalFeatures._same_bins)."""
    rng = np.random.default_rng(5)
    n, steps, tick = 3, 8, 600.0                      # 6 ticks per hour-long cycle, bins of bin_s
    from agent.scorers.seasonal import SeasonalFeatures

    class Fresh(SeasonalFeatures):
        def row(self, *args):
            self._values_at = None                     # the long way: every profile value read afresh
            return super().row(*args)
    kept = SeasonalFeatures(n, [3600.0, 7200.0], bin_s, 3, steps + 2)
    fresh = Fresh(n, [3600.0, 7200.0], bin_s, 3, steps + 2)
    buf = WindowBuffer(steps, n)
    t = 0.0
    for i in range(600):
        t += tick * (3 if i % 97 == 0 else 1)         # now and then a gap of two ticks
        z = rng.normal(size=n).astype(np.float32)
        buf.push(z, rng.random(n) < 0.1, t)
        if i % 13 == 0 or i % 17 == 0:                 # a tick whose rows are not asked for: the next
            if i % 17:                                 # window is two on (its rows rebuilt), and what
                kept.learn(t, buf.values[-1], buf.newest_seen)  # is learned is not the kept row's tick
                fresh.learn(t, buf.values[-1], buf.newest_seen)
            continue
        if i % 3:                                      # the whole window: rebuilt from the rows kept
            assert np.array_equal(kept.window(buf), fresh.window(buf)), i
        else:                                          # the newest row alone (what most ticks ask for)
            assert np.array_equal(kept.newest(buf), fresh.window(buf)[-1]), i
        if i % 5:                                      # one tick in five not learned (not calm)
            kept.learn(t, buf.values[-1], buf.newest_seen)
            fresh.learn(t, buf.values[-1], buf.newest_seen)


def test_learning_kept_while_another_tier_scores_is_the_same_state():
    """While another tier scores, the fallback keeps each tick's row and learns the kept ticks in
    one pass (every DEFERRED_TICKS ticks, before it scores, before its state is saved): the same
    state, bit for bit, as learning each tick as it comes, across calm and uncalm ticks, a
    window refilled without being observed (after a replay) and a takeover mid-run."""
    from agent.scorers.numpy_fallback import DEFERRED_TICKS
    rng = np.random.default_rng(9)
    n, steps, tick = 5, 16, 60.0
    z, missing = stream(rng, 1000, n)
    ts = np.arange(len(z)) * tick
    cfg = NumpyScorerConfig(seasonal_periods_s=[3600.0])
    adj = np.ones((n, n)) - np.eye(n)
    now, kept = (NumpyScorer(n, adj, cfg, tick_s=tick, steps=steps) for _ in range(2))
    for scorer in (now, kept):
        scorer.fit(z[:400], missing[:400], ts[:400])
    buf = WindowBuffer(steps, n)
    for t in range(400 - steps, 400):
        buf.push(z[t], missing[t], ts[t])
    flushed_full = takeovers = 0
    for t in range(400, len(z)):
        buf.push(z[t], missing[t], ts[t])
        if 600 <= t < 610:                          # refilled, not scored or observed (a replay's end)
            continue
        now.score(buf)                              # this one scores every tick: learns as it comes
        if t in (700, 701, 850):                    # the fallback takes over for a tick
            assert np.array_equal(kept.score(buf).sensor_scores, now.score(buf).sensor_scores)
            takeovers += 1
        if rng.random() < 0.9:                      # a calm tick
            now.learn(buf)
            kept.learn(buf)
        now.observe(buf)
        kept.observe(buf)
        flushed_full += len(kept._pending) == 0
    assert takeovers == 3 and flushed_full >= 10
    a, b = now.state_dict(), kept.state_dict()
    assert DEFERRED_TICKS > 1 and not kept._pending
    for part in ("ar", "fusion"):
        for key, value in a[part]["rls"].items():
            assert np.array_equal(value, b[part]["rls"][key]), (part, key)
    for key, value in a["markov"].items():
        assert np.array_equal(value, b["markov"][key]), key
    sa, sb = a["seasonal"], b["seasonal"]
    assert np.array_equal(sa["ts"], sb["ts"]) and np.array_equal(sa["features"], sb["features"])
    for pa, pb in zip(sa["profiles"], sb["profiles"]):
        for key, value in pa.items():
            assert np.array_equal(value, pb[key]), key


def _faulty_rows(scenario: str, seed: int, hours: float, gap_every: int = 0):
    """Simulator rows with an injected anomaly an hour (incident, spike, drift, stuck, dead,
    dropout: bench/faults.py's settings), and with `gap_every`, a whole tick missing that often."""
    import dataclasses

    from conftest import bench_module
    faults = bench_module("faults")

    from agent.config import from_dict
    cfg = from_dict(faults.config_dict(scenario, seed, hours))
    rows = faults.simulated_rows(cfg)
    if gap_every:
        n = len(cfg.sensor_names())
        rows = [dataclasses.replace(r, values=np.full(n, np.nan), missing=np.ones(n, bool), carried=np.zeros(n, bool))
                if k % gap_every == gap_every - 1 else r for k, r in enumerate(rows)]
    return cfg, rows


def _tracker(cfg):
    from agent.faults.tracker import FaultTracker
    return FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults, reentry_ticks=cfg.window.steps)


def _plain_state(tracker) -> str:
    return state_text(tracker.state())


def test_fault_tracker_with_deferred_learning_decides_as_one_restored_from_its_checkpoints():
    """What the tracker learns in passes or skips on calm ticks (spike's recent steps pushed only
    when read; stuck's repeat rate and run left alone while nothing repeats; the size floor of the
    relative step kept from the learning) against the long way: a twin whose shortcuts are all
    set to "do it" before every tick (the recent steps pushed on the tick, the repeat rate and
    run updated, the size floor recomputed, stuck's ring counted, drift's calm tick and its
    masks known from last tick's `over` not taken), and whose spike, stuck and normal behaviour are
    restored from their own checkpoint every 7 ticks. Every tick's events and
    candidates, and the checkpoints, are the same; on streams with spikes, stuck and dead
    sensors, dropouts and whole missing ticks, corridor and pump."""
    for scenario, seed, gap_every in (("corridor", 3, 0), ("corridor", 4, 23), ("pump", 2, 17)):
        cfg, rows = _faulty_rows(scenario, seed, 10.0, gap_every)
        straight, chained = _tracker(cfg), _tracker(cfg)
        chained.life = straight.life            # (the random per-life part of fault ids)
        spike, stuck, drift = (next(r for r in chained.rules if r.KIND == kind) for kind in ("spike", "stuck", "drift"))
        kinds = set()
        for k, row in enumerate(rows):
            a = straight.observe(row)
            if k % 7 == 0:
                for part in [chained.normal, spike, stuck]:
                    part.restore(through_checkpoint(part.state()))
            # the long way on every tick: each shortcut's cache set to "do it"
            stuck._never_repeated, stuck.held.idle, chained.normal._size_now = False, False, False
            chained._zero_floor = False                     # the floor test in full, not by the size floor (perf76)
            stuck.steps._full_run = 0                       # the ring's count reduced
            drift._all_judged, drift._any_over, drift._any_stepped = False, True, True   # no calm tick
            b = chained.observe(row)
            spike._flush()                      # the recent steps pushed on the tick
            assert [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in a] == \
                   [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in b], (scenario, k)
            assert np.array_equal(straight.candidate, chained.candidate), (scenario, k)
            kinds.update(e.kind for e in a)
            if k % 50 == 0:                  # a checkpoint mid-run: the waiting pushes are made first
                assert _plain_state(straight) == _plain_state(chained), (scenario, k)
        assert _plain_state(straight) == _plain_state(chained)
        assert {"spike", "stuck"} <= kinds, (scenario, kinds)


def test_drift_median_of_every_pair_is_the_counted_one():
    """Drift's row median when every pair is usable and a number (middle positions fixed by each
    row's context size) is _row_median's (which counts each row's entries), bit for bit, on the
    corridor's and the pump's pairs."""
    from agent.faults.pairs import _full_median, _row_median
    rng = np.random.default_rng(8)
    for scenario in ("corridor", "pump"):
        cfg, _ = _faulty_rows(scenario, 1, 10.0, 0)
        drift = next(r for r in _tracker(cfg).rules if r.KIND == "drift")
        e = np.full(drift.target.size + 1, np.nan)            # the last slot: no pair (padding)
        for _ in range(200):
            e[:-1] = rng.standard_normal(drift.target.size) * rng.choice([1e-3, 1.0, 1e3])
            e[:-1][rng.random(drift.target.size) < 0.2] = rng.choice([0.0, -0.0, np.inf, -np.inf])
            med, has = _row_median(e[drift.slot], drift._row_k, drift._mid_at)
            assert np.array_equal(_full_median(e[drift.slot], drift._mid_flat), med, equal_nan=True)
            assert np.array_equal(drift._has_full, has)


def test_spike_screen_never_misses_a_jump():
    """A jump is step / max(usual, recent) > z; the screen reads step / usual > z, which holds
    wherever the first does (the larger divisor gives the smaller correctly rounded quotient),
    including zero, huge, inf and NaN recent means and steps."""
    rng = np.random.default_rng(7)
    z = 8.0
    specials = np.array([0.0, 1e-300, 5e-324, 1.0, 8.0, 8.000000000000002, 1e300, np.inf, np.nan])
    for _ in range(200):
        n = 64
        step = np.where(rng.random(n) < 0.2, rng.choice(specials, n), np.abs(rng.standard_cauchy(n)))
        usual = np.where(rng.random(n) < 0.2, rng.choice(specials[1:-1], n), rng.random(n) * 2 + 1e-12)
        recent = np.where(rng.random(n) < 0.3, rng.choice(specials, n), usual * rng.random(n) * 3)
        known = usual > 0
        with np.errstate(all="ignore"):
            jump = known & (np.divide(step, np.maximum(usual, recent), out=np.zeros(n), where=known) > z)
            screen = known & (np.divide(step, usual, out=np.zeros(n), where=known) > z)
        assert not (jump & ~screen).any()


def test_the_relative_step_size_floor_follows_the_mean():
    """Normal keeps the size floor of relative_step from its learning to the next tick's rules:
    after every learn (every sensor learned, or some) and every restore it is the one the mean
    gives now; readings near 0 make the floor the divisor."""
    rng = np.random.default_rng(11)
    n = 5
    normal = Normal(n, 40.0)
    x_prev = rng.normal(5, 1, n)
    for k in range(400):
        x = np.where(rng.random(n) < 0.3, rng.normal(0, 0.001, n), rng.normal(5, 1, n))
        step = np.abs(x - x_prev)
        learn = rng.random(n) < (0.7 if k % 3 else 1.1)
        normal.learn(x, learn, step, np.ones(n, bool), np.zeros(n, bool), counted=learn)
        if k % 50 == 49:
            normal.restore(normal.state())
        x_next = rng.normal(0, 0.01, n)
        fresh = np.divide(step, np.maximum(np.abs(x_next), np.maximum(0.01 * np.abs(normal.mean), 1e-9)))
        assert np.array_equal(normal.relative_step(step, x_next), fresh), k
        x_prev = x


def test_stuck_flatline_and_new_quietest_need_a_window_under_the_quietest():
    """stuck judges the flatline and learns a new quietest window only where the window is under
    the quietest one (recent < lowest): every flatline is (under lowest / FLAT_MARGIN, and only
    where lowest is finite), with inf, 0 and equal values."""
    from agent.faults.stuck import FLAT_MARGIN
    rng = np.random.default_rng(13)
    specials = np.array([0.0, 5e-324, 1e-300, 0.25, 1.0, 4.0, np.inf])
    for _ in range(300):
        n = 64
        lowest = np.where(rng.random(n) < 0.3, rng.choice(specials, n), rng.random(n))
        recent = np.where(rng.random(n) < 0.3, rng.choice(specials[:-1], n), lowest * rng.random(n) * 2)
        recent = np.where(rng.random(n) < 0.1, lowest / FLAT_MARGIN, recent)
        rel = np.where(rng.random(n) < 0.2, rng.choice(specials, n), rng.random(n))
        full = rng.random(n) < 0.8
        known = np.isfinite(lowest)
        flat = full & (recent < np.minimum(0.1 * rel, lowest / FLAT_MARGIN)) & known
        assert not (flat & ~(full & (recent < lowest))).any()


def test_whole_counts_kept_pending_are_the_counts_added_each_tick():
    """WholeCounts keeps the usual tick's +1 as one pending number: read at any time it is what
    adding 1.0 every tick (and any other update in between) gives, the same bits."""
    from agent.faults.context import WholeCounts
    rng = np.random.default_rng(13)
    counts, every = WholeCounts(4), np.zeros(4)
    for t in range(500):
        if rng.random() < 0.8:
            counts.add_one()
            every += 1.0
        else:
            mask = rng.random(4) < 0.5
            counts.array[mask] += 1.0
            every[mask] += 1.0
        if t % 37 == 0:
            assert np.array_equal(counts.array, every)
    assert np.array_equal(counts.array, every) and every.min() > 300


def test_fault_trackers_counts_read_or_left_pending_are_the_same():
    """The tracker's whole-tick counts (the sensors' normal behaviour, stuck's repeats, drift's
    rows) read every tick or left pending until the end give the same checkpointed state, and
    on a calm stream each grows by one per tick after the first few."""
    from agent.config import from_dict
    from agent.faults.tracker import FaultTracker
    from agent.window import Row
    names = ["a", "b", "c", "d"]
    cfg = from_dict({"sensors": [{"name": s, "group": "skid"} for s in names], "sources": [{"type": "stdin"}],
                     "tick_s": 30})
    read, pending = (FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults) for _ in range(2))
    rules = {r.KIND: r for r in read.rules}

    def counts():
        return (read.normal.count.copy(), rules["stuck"].repeat_count.copy(), rules["drift"].count.copy())

    rng = np.random.default_rng(17)
    level = rng.normal(10.0, 1.0, len(names))
    history, ticks = [], 600
    for k in range(ticks):
        values = level + rng.normal(0.0, 0.2, len(names)) + np.sin(k / 40.0)
        for tracker in (read, pending):
            tracker.observe(Row(ts=30.0 * k, values=values.copy(), missing=np.zeros(len(names), bool),
                                carried=np.zeros(len(names), bool)))
        history.append(counts())
    assert state_text(read.state()) == state_text(pending.state())
    for before, after in zip(history[100:], history[101:]):
        for b, a in zip(before, after):
            assert np.array_equal(a - b, np.ones_like(a))       # one whole tick each, every sensor/row
    assert all(c.min() >= ticks - 100 for c in history[-1])


def test_normal_learns_the_relative_step_of_the_mean_the_tick_found():
    """perf27: the relative step Normal learns is |Δx| over max(|x|, 1 % of the mean as the tick found
    it) — the value stuck's relative_step call made that tick, reused (one division a tick) — on the
    fast path and the general one, whether or not that call was made; the same arrays on a later
    tick (a caller reusing its buffers) are divided again, with that tick's mean."""
    rng = np.random.default_rng(27)
    n = 5
    called, uncalled = Normal(n, 20.0), Normal(n, 20.0)
    x, step = np.zeros(n), np.zeros(n)          # (one buffer of each, written in place every tick)
    for k in range(200):
        x[:] = rng.normal(size=n) * rng.choice([1.0, 1e-4], size=n) + 3.0 * (k % 7 == 0)
        step[:] = np.abs(rng.normal(size=n))
        learn = np.ones(n, bool) if k % 3 else rng.random(n) < 0.6
        counted = np.ones(n, bool) if k % 5 else rng.random(n) < 0.7
        size = np.maximum(0.01 * np.abs(called.mean), 1e-9)
        expected = step / np.maximum(np.abs(x), size)
        made = called.relative_step(step, x)            # (stuck's call, before the tick's learn)
        assert made.tobytes() == expected.tobytes()
        before = called.rel_step.copy()
        rate = np.maximum(1.0 / (called.count + 1.0), called.alpha_min)
        for normal in (called, uncalled):
            normal.learn(x, learn, step, np.ones(n, bool), np.zeros(n, bool), counted=counted)
        has = learn & counted if not (k % 5) else learn
        want = np.where(learn, before + rate * (expected - before), before)
        assert np.allclose(called.rel_step[has], want[has], rtol=1e-12, atol=0.0), k
        assert called.rel_step.tobytes() == uncalled.rel_step.tobytes(), k
        assert called.mean.tobytes() == uncalled.mean.tobytes(), k
