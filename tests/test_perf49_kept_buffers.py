"""The perf49 round's cuts of the fallback's next tick (agent/scorers/numpy_fallback.py, fusion.py, seasonal.py):
the Markov states cast into three kept buffers in turn, the table's entries taken into kept buffers, the joint's
validity slot not written again while it holds the all-seen rows, and on a tick with a sensor missing the bool
operands copied to float64 before their ufuncs. Each must leave what the parts' own methods give: against a twin
scored, observed and learned through them, the same scores every tick and the same checkpoint bytes, on the paths
the bench's stream seldom takes (a fifth of the values missing, a sensor back after one missing tick, a sensor
without neighbours), and after a restore into a scorer that has run (its kept validity slots forgotten)."""
from __future__ import annotations

import copy

import numpy as np

from agent.checkpoint import encode
from agent.config import NumpyScorerConfig
from agent.scorers.numpy_fallback import NumpyScorer
from agent.window import WindowBuffer
from fallback_streams import ar1_stream


def stream(rows: int, n: int, missing_p: float, seed: int) -> tuple:
    """An AR(1) stream (coefficient 0.7, ticks 10 s apart), as a scorer sees it."""
    return ar1_stream(rows, n, missing_p, seed, phi=0.7, tick=10.0)


def fitted(n: int, z: np.ndarray, missing: np.ndarray, ts: np.ndarray, steps: int) -> NumpyScorer:
    adj = np.ones((n, n)) - np.eye(n)
    adj[0] = 0.0                                # sensor 0 has no neighbour (fusion's 0.0 / 1.0 row)
    scorer = NumpyScorer(n, adj, NumpyScorerConfig(seasonal_periods_s=[3600.0]), tick_s=10.0, steps=steps)
    scorer.fit(z[:400], missing[:400], ts[:400])
    return scorer


def state(scorer: NumpyScorer) -> bytes:
    return encode({"config": {}}, scorer.state_dict())


def run(pairs, z, missing, ts, lo, hi, steps) -> dict:
    """Score, observe and learn rows lo..hi-1 with each (flat, parts) pair: the flat scorer through score() (its
    next tick's path when it can), the twin through the parts' methods; the scores equal every tick."""
    ran = {"next tick": 0, "a sensor missing": 0, "back after one missing tick": 0}
    for t in range(lo, hi):
        for flat, parts, bufs in pairs:
            for buf in bufs:
                buf.push(z[t], missing[t], ts[t])
            if t < lo + steps:
                continue
            key = float(ts[t])
            fast = key != flat._tick_key and flat._next_score(bufs[0], key)
            a = fast or flat._score_any(bufs[0])
            b = parts._score_any(bufs[1])
            assert np.array_equal(a.sensor_scores, b.sensor_scores) and a.score == b.score, t
            ran["next tick"] += bool(fast)
            ran["a sensor missing"] += bool(fast) and bool(missing[t - 1:t + 1].any())
            ran["back after one missing tick"] += bool(fast) and bool((missing[t - 1] & ~missing[t - 2] & ~missing[t]).any())
            for scorer, buf in ((flat, bufs[0]), (parts, bufs[1])):
                scorer.observe(buf)
                scorer.learn(buf)
    return ran


def test_a_fifth_missing_gives_the_parts_scores_and_state_bit_for_bit():
    n, steps = 6, 16
    z, missing, ts = stream(1000, n, 0.2, 3)
    flat = fitted(n, z, missing, ts, steps)
    parts = copy.deepcopy(flat)
    ran = run([(flat, parts, (WindowBuffer(steps, n), WindowBuffer(steps, n)))], z, missing, ts, 400 - steps, 1000, steps)
    assert state(flat) == state(parts)
    assert ran["next tick"] >= 300 and ran["a sensor missing"] >= 200 and ran["back after one missing tick"] >= 50, ran


def test_a_restore_into_a_scorer_that_has_run_forgets_its_kept_validity_slots():
    """A scorer that learned calm ticks (its validity slots kept as all seen) restored from a state whose buffered
    ticks had sensors missing learns on as a fresh scorer restored from that state does."""
    n, steps = 5, 16
    calm = stream(700, n, 0.0, 4)
    gappy = stream(700, n, 0.3, 5)
    used = fitted(n, *calm, steps)
    run([(used, copy.deepcopy(used), (WindowBuffer(steps, n), WindowBuffer(steps, n)))], *calm, 400 - steps, 470, steps)
    source = fitted(n, *gappy, steps)
    run([(source, copy.deepcopy(source), (WindowBuffer(steps, n), WindowBuffer(steps, n)))], *gappy, 400 - steps, 490, steps)
    assert source.ar.rls._m > 0 and not source.joint._v[:source.ar.rls._m].all()    # its buffer has sensors missing
    used.restore(copy.deepcopy(source.state_dict()))
    fresh = copy.deepcopy(source)
    z, missing, ts = stream(700, n, 0.0, 6)         # calm on: every slot's validity written by learn()'s fast path
    ran = run([(used, fresh, (WindowBuffer(steps, n), WindowBuffer(steps, n)))], z, missing, ts, 400 - steps, 520, steps)
    assert state(used) == state(fresh)
    assert ran["next tick"] >= 80, ran
