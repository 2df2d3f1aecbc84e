"""The drift rule's residuals at many sensors: the pairs' own products instead of one dense matrix (perf78).

The matrix that turned a tick's pair residuals into one np.dot has (n · width) · (4n + 1) entries: at 256 corridor
sensors 10 MB, read whole every tick (4 ms, every cache flushed). Past DENSE_MAX entries the rule now takes each
pair's features and sums its own F + 2 products; these tests hold that the two ways agree on every tick's result,
and that no array of the rule grows with n² any more."""
from __future__ import annotations

import numpy as np

from agent import config
from agent.faults import drift_layout
from agent.faults.drift import Drift
from agent.pipeline import Pipeline
from agent.window import Row


def _pipeline(n: int) -> Pipeline:
    sensors = [f"S{i:03d}_{q}" for i in range(n // 4) for q in ("flow", "occ", "speed", "x")]
    raw = {"sensors": sensors, "sources": [{"type": "stdin"}], "tick_s": 10,
           "topology": "corridor", "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]}}
    return Pipeline(config.from_dict(raw))


def _rows(n: int, ticks: int, seed: int = 3) -> list[Row]:
    rng = np.random.default_rng(seed)
    x, rows = np.zeros(n), []
    for t in range(ticks):
        x = 0.8 * x + rng.normal(size=n)
        miss = rng.random(n) < 0.005
        rows.append(Row(ts=t * 10.0, values=np.where(miss, np.nan, x + 50), missing=miss,
                        carried=np.zeros(n, bool)))
    return rows


def _drift(p: Pipeline) -> Drift:
    return next(r for r in p.health.rules if isinstance(r, Drift))


def test_the_pairs_own_products_give_the_matrix_results(monkeypatch):
    """The same rows through a pipeline with the matrix and one without: the same scores, fault states and
    drift medians to rounding (the sums' order differs), every tick."""
    n, rows = 48, _rows(48, 700)
    monkeypatch.setattr(drift_layout, "DENSE_MAX", 10 ** 12)
    dense = _pipeline(n)
    monkeypatch.setattr(drift_layout, "DENSE_MAX", 0)
    sparse = _pipeline(n)
    assert _drift(dense)._slot_w is not None and _drift(sparse)._slot_w is None
    faults = {"dense": [], "sparse": []}
    for row in rows:
        a, b = dense.step(row), sparse.step(row)
        np.testing.assert_allclose(_drift(dense)._med_n, _drift(sparse)._med_n, rtol=1e-9, atol=1e-12)
        assert abs(a.score - b.score) <= 1e-9 * max(1.0, abs(a.score)) or (np.isnan(a.score) and np.isnan(b.score))
        faults["dense"] += [(f.kind, f.sensor, f.event) for f in a.faults]
        faults["sparse"] += [(f.kind, f.sensor, f.event) for f in b.faults]
    assert faults["dense"] == faults["sparse"]
    assert np.isfinite(_drift(sparse)._med_n).mean() > 0.9     # (the sensors' medians judged: the products ran)

def test_no_array_of_the_rule_grows_with_n_squared():
    """At 256 sensors every array the drift rule keeps is under 1 MB (the matrix alone was 10.5 MB)."""
    d = _drift(_pipeline(256))
    sizes = {k: v.nbytes for k, v in vars(d).items() if isinstance(v, np.ndarray)}
    big = {k: s for k, s in sizes.items() if s > 1 << 20}
    assert not big, big
