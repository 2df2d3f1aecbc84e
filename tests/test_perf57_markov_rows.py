"""The fallback's next tick (agent/scorers/numpy_fallback.py) reads the Markov chain's table once: one take gives
both the entries observe() writes back (`_counted`) and the smoothed pair the probability is read from. Each must be
its definition bit for bit (MarkovModel.learn's entries, _prob's quotient), with the fewest and the most bins, on
ticks with and without a sensor missing. Written for perf57's denser product (the indices twice, [g; g; a; k·a]),
which the lead reverted (docs/measured/speed.md, the perf57 round); it holds the code as it is."""
from __future__ import annotations

import numpy as np
import pytest

from agent.config import NumpyScorerConfig
from agent.scorers.numpy_fallback import NumpyScorer
from agent.window import WindowBuffer
from fallback_streams import ar1_stream as stream   # (tick times 60 s apart, coefficient 0.6)


@pytest.mark.parametrize("bins", [3, 64])
def test_the_next_ticks_entries_and_probability_are_their_definitions(bins):
    n, steps = 6, 16
    z, missing, ts = stream(700, n, 0.03, bins + 57)
    scorer = NumpyScorer(n, np.ones((n, n)) - np.eye(n), NumpyScorerConfig(markov_bins=bins), tick_s=60.0, steps=steps)
    scorer.fit(z[:400], missing[:400], ts[:400])
    mk, k, rows = scorer.markov, bins, np.arange(n)
    buf = WindowBuffer(steps, n)
    checked = {"no sensor missing": 0, "a sensor missing": 0}
    for t in range(400 - steps, len(z)):
        buf.push(z[t], missing[t], ts[t])
        if not buf.ready:
            continue
        table, g_old = mk._table.copy(), mk.g
        scorer.score(buf)
        counted = scorer._counted
        if counted is None or counted[0] != float(ts[t]):
            scorer.observe(buf)         # (not the next tick's path: the parts' own methods scored it)
            continue
        s0, s1 = mk.states(buf.values[-2]), mk.states(buf.values[-1])
        g, a = g_old / mk.lam, mk.alpha * g_old
        assert counted[3] == g
        seen_both = ~buf.missing[-1] & ~buf.missing[-2]
        want = np.stack([table[rows, s0, s1], table[rows, s0, k]]) + np.where(seen_both, g, 0.0)
        assert np.array_equal(counted[2], want)                         # what observe() writes back
        ok = ~buf.missing[-2]            # (a sensor missing the tick before: its probability is propagated)
        p = (table[rows, s0, s1] + a) / (table[rows, s0, k] + k * a)
        assert np.array_equal(scorer._log_p[ok], np.log(p)[ok])
        scorer.observe(buf)
        if mk.g == g:                   # (not rescaled: the table compared entry by entry)
            table[rows, s0, s1], table[rows, s0, k] = want
            assert np.array_equal(mk._table, table)
        checked["a sensor missing" if buf.missing[-2:].any() else "no sensor missing"] += 1
    assert checked["no sensor missing"] >= 150 and checked["a sensor missing"] >= 50, checked
