"""perf65's kept views: rows written and read through views made once (bit for bit with an index a tick).

- WindowBuffer's `newest_values`, `newest_missing` and `newest_ts` are values[-1], missing[-1] and float(ts[-1]) —
  the same memory for the two rows — after every push, around the ring and after a restore;
- a small RecentMean ring written through its kept row views (next_row / push) holds what a ring written by value
  holds, before and after set_rows makes its arrays anew;
- the tflite scorer's `run_read_now` gives `run`'s outputs, the forecast in the output tensor itself and the attention
  as copies; on a caller's arrays it is `run`;
- the fallback's kept ticks (written into slots made once while the model tier scores) hold each tick's own row until
  the flush, whatever ticks come after, and the flush learns the same state as a fallback that never deferred.
"""
from __future__ import annotations

import numpy as np
import pytest

from agent.faults.rule import RecentMean
from agent.window import WindowBuffer
from conftest import DEMO_BUNDLE, NO_DEMO, demo_cfg


def _same_row(view: np.ndarray, row: np.ndarray) -> bool:
    return np.shares_memory(view, row) and view.tobytes() == row.tobytes()


def test_the_windows_newest_row_views_follow_every_push_and_a_restore():
    rng = np.random.default_rng(3)
    steps, n = 5, 4
    buf = WindowBuffer(steps, n)
    assert np.isnan(buf.newest_ts)
    for k in range(3 * steps + 2):              # around the doubled ring more than once
        z = rng.normal(size=n).astype(np.float32)
        missing = rng.random(n) < 0.3
        buf.push(z, missing, 30.0 * k)
        assert _same_row(buf.newest_values, buf.values[-1]) and _same_row(buf.newest_missing, buf.missing[-1])
        assert buf.newest_values.tobytes() == z.tobytes() and (buf.newest_missing == missing).all()
        assert buf.newest_ts == float(buf.ts[-1]) == 30.0 * k
    other = WindowBuffer(steps, n)
    other.restore(buf.state_dict())
    assert _same_row(other.newest_values, other.values[-1]) and _same_row(other.newest_missing, other.missing[-1])
    assert other.newest_ts == buf.newest_ts
    other.push(np.ones(n, np.float32), np.zeros(n, bool), 1e6)
    assert _same_row(other.newest_values, other.values[-1]) and other.newest_ts == 1e6


def test_a_small_rings_row_views_write_what_a_push_by_value_writes_also_after_set_rows():
    rng = np.random.default_rng(5)
    size, n = 7, 3
    by_view, by_value = RecentMean(size, n), RecentMean(size, n)
    assert by_view._zeroed_rows is not None      # summed whole (≤ SMALL rows): the views are kept

    def push_both(k: int) -> None:
        value = np.abs(rng.normal(size=n))
        if k % 5 == 4:
            value[1] = np.inf                     # a kept +inf: the ring's infs are counted too
        by_view.next_row()[...] = value           # stuck's way: the next row's view, then push(kept, None)
        by_view.push(np.ones(n, bool), None)
        by_value.push(np.ones(n, bool), value)

    for k in range(2 * size + 3):
        push_both(k)
        assert by_view.zeroed.tobytes() == by_value.zeroed.tobytes()
        assert by_view.finite.tobytes() == by_value.finite.tobytes()
        assert by_view.mean().tobytes() == by_value.mean().tobytes()
    for ring in (by_view, by_value):            # restored into fresh arrays: the views are made anew with them
        ring.set_rows(ring.rows(), ring.head, ring.sums())
    assert all(np.shares_memory(v, by_view.zeroed) for v in by_view._zeroed_rows)
    for k in range(size + 2):
        push_both(k)
        assert by_view.zeroed.tobytes() == by_value.zeroed.tobytes()
        assert by_view.mean().tobytes() == by_value.mean().tobytes()


@NO_DEMO
def test_run_read_now_gives_runs_outputs_with_the_forecast_in_place():
    pytest.importorskip("ai_edge_litert")
    from agent import bundle as bundles
    from agent.scorers.tflite import TfliteScorer

    bundle = bundles.load(DEMO_BUNDLE)
    scorer = TfliteScorer(bundle, "tflite_int8")
    assert scorer._views is not None
    rng = np.random.default_rng(11)
    for _ in range(4):
        scorer._values[...] = rng.normal(size=scorer._values.shape)
        scorer._missing[...] = rng.random(scorer._missing.shape) < 0.1
        kept = scorer.run(scorer._values, scorer._missing)
        now = scorer.run_read_now(scorer._values, scorer._missing)
        for a, b in zip(kept, now):
            assert a.tobytes() == b.tobytes()
        assert np.shares_memory(now[0], scorer._views[0])                   # the forecast: the tensor itself
        assert not any(np.shares_memory(a, v) for a, v in zip(now[1:], scorer._views[1:]))   # attention: copies
        given = scorer.run_read_now(scorer._values.copy(), scorer._missing.copy())   # a caller's arrays: `run`
        assert not np.shares_memory(given[0], scorer._views[0]) and given[0].tobytes() == kept[0].tobytes()


@NO_DEMO
def test_the_fallbacks_kept_rows_hold_each_ticks_row_until_the_flush(tmp_path):
    pytest.importorskip("ai_edge_litert")
    from agent.pipeline import Pipeline
    from agent.scorers.numpy_fallback import DEFERRED_TICKS
    from conftest import sim_rows

    cfg = demo_cfg(tmp_path, warmup_ticks=300, chain=["tflite", "numpy"])
    rows = sim_rows(cfg, days=0.2)
    pipe, twin = Pipeline(cfg), Pipeline(demo_cfg(tmp_path / "twin", warmup_ticks=300, chain=["tflite", "numpy"]))
    first = cfg.warmup.ticks + cfg.window.steps + 5
    for row in rows[:first]:
        pipe.step(row)
        twin.step(row)
    assert pipe.chain.tier == "tflite"
    pipe.numpy.flush()                            # (both from an empty run: what is kept below is these ticks')
    twin.numpy.flush()
    seen, flushed = [], 0
    for row in rows[first:first + 3 * DEFERRED_TICKS]:
        pipe.step(row)
        twin.step(row)
        twin.numpy.flush()                        # the twin learns every tick at once: no row is kept
        pending = pipe.numpy._pending
        if not pending:
            seen, flushed = [], flushed + 1
            continue
        if len(pending) <= len(seen):            # a flush and a new run began on this tick
            seen, flushed = [], flushed + 1
        seen.append((pipe.window.newest_values.copy(), pipe.window.newest_missing.copy()))
        assert len(pending) == len(seen)
        for (_, values, missing, _, _), (want_v, want_m) in zip(pending, seen):
            assert values.tobytes() == want_v.tobytes() and missing.tobytes() == want_m.tobytes()
    assert flushed >= 2                           # the slots were written again after flushes
    pipe.numpy.flush()
    state, twin_state = pipe.numpy.state_dict(), twin.numpy.state_dict()
    assert _flat(state) == _flat(twin_state)


def _flat(state) -> bytes:
    """A state dict's arrays and numbers as bytes, in key order."""
    if isinstance(state, dict):
        return b"".join(k.encode() + _flat(state[k]) for k in sorted(state))
    if isinstance(state, (list, tuple)):
        return b"".join(_flat(v) for v in state)
    if isinstance(state, np.ndarray):
        return state.dtype.str.encode() + str(state.shape).encode() + np.ascontiguousarray(state).tobytes()
    return repr(state).encode()
