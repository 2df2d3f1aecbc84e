"""perf53: drift's busy tick (a row past half drift_z, some pair's predictor suspect) takes its pair residuals
from the block's one product, the unusable pairs NaN in it, its middle positions kept while `usable` does not
change; its sensors' calm context is kept while `quiet` does not change. The medians are _row_median's of
the same block, bit for bit, and the pair-by-pair path's to rounding; a tracker whose caches are dropped
before every tick decides as one that keeps them, bit for bit."""
import numpy as np
import pytest

from agent.faults.drift import Drift
from agent.faults.pairs import _row_median
from fault_states import text as state_text
from fault_streams import tracker_and_rows


def test_the_busy_median_is_the_row_median_of_the_masked_block_and_the_pair_by_pair_ones():
    make, rows = tracker_and_rows("corridor", 3, 8.0)
    tracker = make()
    for row in rows[:900]:
        tracker.observe(row)
    drift = next(r for r in tracker.rules if isinstance(r, Drift))
    assert drift._all_fitted
    p = drift.target.size
    rng = np.random.default_rng(53)
    masks = [rng.random(p) < 0.7 for _ in range(6)]
    masks.append(np.zeros(p, bool))                             # every row without a usable pair: NaN, has False
    one_row = np.ones(p, bool)
    one_row[drift.target == 2] = False                          # one sensor without any
    masks.append(one_row)
    seen_k0 = 0
    for step in range(60):
        usable = masks[rng.integers(len(masks))] if step % 3 else masks[step % len(masks)]
        drift._xl[...] = rng.normal(size=drift._xl.shape) * rng.choice([1e-2, 1.0, 1e2])
        if step % 7 == 0:
            drift._busy_key = None                              # (as a pair-by-pair tick leaves it)
        np.dot(drift._slot_w, drift._xl_one, drift._block_flat)
        want_block = drift._block.copy()
        want_block.reshape(-1)[drift._pair_row[~usable]] = np.nan
        got = drift._busy_median(usable).copy()
        got_has = drift._has_n.copy()
        want, want_has = _row_median(want_block, drift._row_k, drift._mid_at)
        assert got.tobytes() == want.tobytes() and np.array_equal(got_has, want_has), step
        # …and the pair-by-pair residuals' (observe's other path): the same to rounding
        e = np.einsum("pk,pk->p", drift._coef_g, drift._xl_flat[drift.g_index]) + drift._coef_1
        e = np.append(np.where(usable, e, np.nan), np.nan)
        pair_med, pair_has = _row_median(e[drift.slot], drift._row_k, drift._mid_at)
        assert np.array_equal(pair_has, got_has) and np.array_equal(np.isnan(pair_med), np.isnan(got))
        fine = ~np.isnan(got)
        np.testing.assert_allclose(got[fine], pair_med[fine], rtol=1e-12, atol=1e-12)
        seen_k0 += int(np.count_nonzero(~got_has))
    assert seen_k0 > 0


@pytest.mark.parametrize("scenario, seed, hours", [("corridor", 0, 12.0), ("pump", 3, 12.0)])
def test_a_tracker_dropping_drifts_busy_caches_every_tick_decides_alike(scenario, seed, hours):
    """The long twin's drift forgets its busy median's middle positions and its kept calm context before
    every tick (so both are worked out afresh): every tick's events and candidates, and the checkpoints,
    are the same, on streams with drifts, spikes, stuck and dead sensors, dropouts and incidents."""
    make, rows = tracker_and_rows(scenario, seed, hours)
    short, long = make(), make()
    long.life = short.life
    kept_busy = kept_calm = 0
    drift_s = next(r for r in short.rules if isinstance(r, Drift))
    drift_l = next(r for r in long.rules if isinstance(r, Drift))
    for k, row in enumerate(rows):
        busy_key, calm_of = drift_s._busy_key, drift_s._ctx_calm_of
        a = short.observe(row)
        kept_busy += busy_key is not None and drift_s._busy_key is busy_key
        kept_calm += calm_of is not None and drift_s._ctx_calm_of is calm_of and drift_s._any_over
        drift_l._busy_key = drift_l._ctx_calm_of = None
        b = long.observe(row)
        assert [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in a] == \
               [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in b], k
        assert np.array_equal(short.candidate, long.candidate), k
        if k % 97 == 0:
            assert state_text(short.state()) == state_text(long.state()), k
    assert state_text(short.state()) == state_text(long.state())
    assert kept_busy > 10 and kept_calm > 10, (kept_busy, kept_calm)


def test_normals_rows_learned_in_place_are_the_update_they_were():
    """Normal.learn's common tick writes s + rate × (new − s) through its kept _new buffer: the same products and
    sums as the expression it was, bit for bit, whether every sensor learns or some keep their rows."""
    from agent.faults.context import Normal
    rng = np.random.default_rng(530)
    n = 9
    normal = Normal(n, 50.0)
    for k in range(120):
        x = rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)
        step = np.abs(rng.normal(size=n))
        step[rng.random(n) < 0.2] = 0.0
        learn = np.ones(n, bool) if k % 3 == 0 else rng.random(n) < 0.7
        step_ok = np.ones(n, bool) if k % 4 else rng.random(n) < 0.8
        at_floor = rng.random(n) < 0.1
        rows, rate = normal._rows.copy(), (normal._alpha if normal.rate_floor else
                                           np.maximum(1.0 / (normal.count + 1.0), normal.alpha_min))
        new = np.stack([step == 0.0, at_floor, step, normal._relative(step, x), x]).astype(float)
        want = rows + rate * (new - rows)
        mask = np.ones((5, n), bool)
        if not (learn.all() and step_ok.all()):
            mask[2:4], mask[4] = step_ok & learn, learn
        want = np.where(mask, want, rows)
        normal.learn(x, learn, step, step_ok, at_floor, counted=np.ones(n, bool), all_known=True)
        assert normal._rows.tobytes() == want.tobytes(), k
