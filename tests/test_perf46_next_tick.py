"""The perf46 round's cuts of the fallback's next tick (agent/scorers/numpy_fallback.py, seasonal.py, ar.py):
the Markov states, flat indices and smoothing from one float64 product, the seasonal regressors not copied
into a slot that holds them already, and the seasonal profile learning into the bin it learned last. Each
must give the bits the parts' own methods give, on the paths the bench's stream does not take."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from agent.checkpoint import decode, encode
from agent.config import NumpyScorerConfig
from agent.scorers.ar import ARModel
from agent.scorers.numpy_fallback import NumpyScorer
from agent.scorers.seasonal import SeasonalFeatures
from agent.window import WindowBuffer
from fallback_streams import ar1_stream as stream   # (tick times 60 s apart, coefficient 0.6)


@pytest.mark.parametrize("bins", [3, 8, 64])
def test_the_next_tick_while_no_seasonal_bin_is_known_is_the_parts_path_bit_for_bit(bins):
    """The day's profile knows no bin in these 1000 ticks (2 cycles are needed), so the next tick's seasonal
    row is the shared zeros, left in its slot where it is already (ARModel.extra_in). Against a twin scored
    by the parts' own methods every tick: the same scores, and the same checkpoint at the end. On the way:
    ticks not scored (the next one goes through _score_any, whose features() writes the slot and whose states
    the product's base row is then rebuilt from), ticks with sensors missing, a restore mid-run (which
    forgets which rows the slots hold), and the fewest and the most Markov bins (with 3, the product's
    rows reach the operand's first rows)."""
    n, steps = 6, 16
    z, missing, ts = stream(1000, n, 0.04, bins)
    cfg = NumpyScorerConfig(markov_bins=bins)
    flat = NumpyScorer(n, np.ones((n, n)) - np.eye(n), cfg, tick_s=60.0, steps=steps)
    flat.fit(z[:400], missing[:400], ts[:400])
    parts = copy.deepcopy(flat)
    bufs = WindowBuffer(steps, n), WindowBuffer(steps, n)
    ran = {"flat": 0, "flat after _score_any": 0, "zeros left in the slot": 0}
    after_any = False
    for t in range(400 - steps, len(z)):
        for buf in bufs:
            buf.push(z[t], missing[t], ts[t])
        if t < 400 or t % 41 == 0:
            continue
        if t == 700:                    # a restore: a fresh scorer, its slots' rows not known
            restored = NumpyScorer(n, np.ones((n, n)) - np.eye(n), cfg, tick_s=60.0, steps=steps)
            restored.restore(decode(encode({"config": {}}, flat.state_dict()))[1])
            flat = restored
        held = sum(row is flat.seasonal._unknown for row in flat.ar.extra_in)
        a = flat._next_score(bufs[0], float(ts[t]))
        if a is None:
            a, after_any = flat._score_any(bufs[0]), True
        else:
            ran["flat after _score_any" if after_any else "flat"] += 1
            ran["zeros left in the slot"] += held == sum(row is flat.seasonal._unknown for row in flat.ar.extra_in)
            after_any = False
        b = parts._score_any(bufs[1])
        assert np.array_equal(a.sensor_scores, b.sensor_scores) and a.score == b.score, t
        for scorer, buf in zip((flat, parts), bufs):
            scorer.observe(buf)
            scorer.learn(buf)
    assert flat.seasonal.profiles[0].ref_n.max() < 2          # no bin known: the zeros row throughout
    assert min(ran.values()) >= 10, ran
    assert encode({"config": {}}, flat.state_dict()) == encode({"config": {}}, parts.state_dict())


def test_a_seasonal_profile_learning_into_its_last_bin_is_the_located_learn_and_survives_a_deep_copy():
    """SeasonalProfile.learn adds a tick into the bin it learned last without locating it again (the same
    `at` from row(), its [count; sum] view kept). Against a profile that learns every tick the long way
    (no [1; x] given: located, checked, x copied): the same state after 600 ticks of a 600-s period (bins
    of 60 s, ticks 20 s apart: three to a bin; every bin known after two cycles). A deep copy (what NumpyScorer.fit makes of
    the profile) holds a copy of that view, no longer the copy's array: it must learn the long way, and
    does, into its own arrays."""
    n = 4
    z, _, _ = stream(600, n, 0.0, 5)
    x = z.astype(np.float64)
    ts = np.arange(600) * 20.0
    quick, slow = (SeasonalFeatures(n, [600.0], 60.0, 4, 18) for _ in range(2))
    one_x = np.ones((2, n))
    twin, kept = None, 0
    for t in range(1, 600):
        for features in (quick, slow) + ((twin,) if twin is not None else ()):
            features.row(float(ts[t]), float(ts[t - 1]), x[t - 1])
        one_x[1] = x[t]
        into, at = quick.profiles[0]._into, quick._values_at[1][0][0]
        kept += into is not None and into[0] is at           # the bin it learned last: not located again
        quick.learn(float(ts[t]), x[t], None, one_x)
        slow.learn(float(ts[t]), x[t], None)
        if twin is not None:
            twin.learn(float(ts[t]), x[t], None, one_x)
        if t == 250:
            twin = copy.deepcopy(quick)
    assert kept >= 350, kept                                   # two of each bin's three ticks
    profiles = [f.profiles[0] for f in (quick, slow, twin)]
    assert profiles[0].ref_n.min() >= 2
    for key in ("ref", "ref_n", "acc_sum", "acc_n", "acc_cycle"):
        got = [p.state_dict()[key] for p in profiles]
        assert got[0].tobytes() == got[1].tobytes() == got[2].tobytes(), key
    assert not np.shares_memory(profiles[2]._acc, profiles[0]._acc)


def test_a_slot_written_by_features_or_a_restore_is_not_taken_for_the_row_it_held():
    """ARModel.extra_in says which read-only regressors row a buffer slot holds, so the next tick may leave
    it there; features() writing the slot, or a restore writing the buffer, must forget it — else a later
    tick with that row would score from what features() wrote (the bench's stream cannot show it: while no
    bin is known, every row written is zeros)."""
    n, steps = 3, 8
    z, missing, ts = stream(60, n, 0.0, 2)
    ar = ARModel(n, 3, 0.999, extra=2)
    ar.fit(z[:40], missing[:40], np.zeros((40, n, 2)))
    buf = WindowBuffer(steps, n)
    for t in range(40, 40 + steps):
        buf.push(z[t], missing[t], ts[t])
    held = np.zeros((n, 2))
    slot = ar.rls._m
    ar.extra_in[slot] = held
    row = np.full((n, 2), 0.5)
    ar.features(buf, row)
    assert ar.extra_in[slot] is None and np.array_equal(ar.rls.next_x()[:, 4:], row)
    ar.extra_in = [held] * len(ar.extra_in)
    ar.restore(ar.state_dict())
    assert all(held_row is None for held_row in ar.extra_in)
