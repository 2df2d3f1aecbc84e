"""perf54: the tick outside the fault tracker in fewer Python calls and views, bit for bit.

- The window's and the bias run's views per head made once (WindowBuffer `_at`, TickRun `_at`): the window still
  holds the last T rows oldest first (through pushes, normalised pushes, a restore and more than two turns of the
  ring), and a model tier's carried bias gives the bits of one rebuilt every tick; the model's inputs (copied into
  the whole (1, T, N) buffers) are the window's values and missing flags.
- The Pipeline's detector callables made once (`_judged`): called on or after the tick, they answer what the closures
  built on that tick answered; `Detector.step`'s calm written out is `calm(score)` on every tick.
"""
from __future__ import annotations

import numpy as np

from agent.config import AlertConfig, ThresholdConfig
from agent.detector import Detector
from agent.threshold import AdaptiveThreshold, calibrate
from agent.window import Normaliser, WindowBuffer
from conftest import DEMO_BUNDLE, NO_DEMO


def test_the_window_with_its_views_made_once_holds_the_last_rows_oldest_first():
    rng = np.random.default_rng(54)
    steps, n = 5, 4
    norm = Normaliser(mean=rng.normal(0, 3, n), std=rng.uniform(0.1, 2, n))
    buf = WindowBuffer(steps, n)
    rows: list[tuple[np.ndarray, np.ndarray, float]] = []      # (z as float32, missing, ts) pushed, the long way
    for i in range(4 * steps + 3):                              # the ring goes round more than twice
        raw = rng.normal(0, 5, n)
        missing = rng.random(n) < 0.25
        raw[missing] = np.nan
        if i % 6 == 5:
            raw[0] = 1e300                                      # past float32's range: kept as missing
        if i % 2:
            with np.errstate(over="ignore", invalid="ignore"):
                buf.push_raw(raw, missing, float(i), norm)
                z = ((raw - norm.mean) / norm.std).astype(np.float32)
            kept = np.isfinite(z)
            rows.append((np.where(kept, z, np.float32(0.0)), missing | ~kept, float(i)))
        else:
            z = rng.normal(0, 1, n).astype(np.float32)
            buf.push(z, missing, float(i))
            rows.append((z, missing.copy(), float(i)))
        if i == 2 * steps + 1:                                  # a restore lands the rows oldest first at head 0
            other = WindowBuffer(steps, n)
            other.restore(buf.state_dict())
            buf = other
        last = rows[-steps:]
        pad = steps - len(last)
        want_v = np.vstack([np.zeros((pad, n), np.float32)] + [r[0][None] for r in last])
        want_m = np.vstack([np.ones((pad, n), bool)] + [r[1][None] for r in last])
        want_t = np.array([np.nan] * pad + [r[2] for r in last])
        assert buf.values.tobytes() == want_v.tobytes(), i
        assert buf.missing.tobytes() == want_m.tobytes(), i
        assert buf.ts.tobytes() == want_t.tobytes(), i
        assert buf.newest64.tobytes() == want_v[-1].astype(np.float64).tobytes()
        assert buf.newest_seen.tobytes() == (~want_m[-1]).tobytes()
        assert buf.row(1).tobytes() == want_v[-2].tobytes()
        assert np.shares_memory(buf.values, buf._values) and np.shares_memory(buf.missing, buf._missing)


@NO_DEMO
def test_a_model_tiers_carried_bias_with_its_views_made_once_is_the_rebuilt_ones_bits():
    from agent import bundle as bundles
    from agent.scorers.tflite import TfliteScorer

    bundle = bundles.load(str(DEMO_BUNDLE))
    n, steps = len(bundle.sensors), bundle.steps
    carried, rebuilt = TfliteScorer(bundle), TfliteScorer(bundle)
    rng = np.random.default_rng(7)
    buf = WindowBuffer(steps, n)
    ts = 1.7e9
    hits = 0
    for i in range(3 * steps + 5):
        z = (0.5 * rng.standard_normal(n)).astype(np.float32)
        missing = rng.random(n) < 0.1
        z[missing] = 0.0
        ts += 150.0 if i == 2 * steps else 10.0              # a gap: the carried run is rebuilt once
        buf.push(z, missing, ts)
        for _ in range(2 if i % 5 == 0 else 1):              # now and then the same tick scored again
            rebuilt._error_run.forget()                      # the long way: the run rebuilt from the history
            a, b = carried.score(buf), rebuilt.score(buf)
            assert a.sensor_scores.tobytes() == b.sensor_scores.tobytes(), i
            assert a.score == b.score or (a.score != a.score and b.score != b.score)
            hits += carried._error_run.ts is not None
            # the inputs the model read: the window's values and its missing flags as float32
            assert carried._values[0].tobytes() == buf.values.tobytes()
            assert carried._missing[0].tobytes() == buf.missing.astype(np.float32).tobytes()
    assert hits > 2 * steps                                  # the carried path was the one taken
    sa, sb = carried.state_dict(), rebuilt.state_dict()
    assert sa["ts"].tobytes() == sb["ts"].tobytes() and sa["errors"].tobytes() == sb["errors"].tobytes()


def test_the_detectors_calm_written_out_is_its_rule_on_every_tick():
    calm_scores = np.random.default_rng(0).exponential(size=2000)
    cfg = ThresholdConfig(method="quantile")
    det = Detector(AlertConfig(min_duration_ticks=2, clear_ticks=2, cooldown_ticks=0, accept_after_s=40.0),
                   "gw", "lab", 10.0, {"numpy": AdaptiveThreshold(cfg, calibrate(calm_scores, cfg))})
    high = 10 * det.threshold("numpy")
    scores = [0.1, 0.2, high, high, 0.1, high, high, high, high, high, high, 0.1, 0.1, 0.1, 0.1, high, 0.2]
    learned = []
    for i, s in enumerate(scores):
        d = det.step(10.0 * i, s, "numpy", lambda: {"model_id": "m"},
                     lambda: {"top_sensors": [], "top_steps": [], "origin": None}, learn=lambda i=i: learned.append(i))
        assert d.calm == det.calm(s), i                       # the rule, asked on the same tick
        assert d.above == (s > d.threshold)
        assert (i in learned) == d.calm
    assert any(d for d in learned if scores[d] == high)      # an accepted change was learned
    assert [i for i in range(len(scores)) if scores[i] == high and i not in learned]   # and a hot tick not


def test_the_pipelines_callables_made_once_answer_as_the_ticks_closures_did():
    """Two pipelines in lockstep on perf42's stream (missing readings, missing and station faults, an alert at rows
    575–582), its first 600 rows: after each scored tick one is asked
    through its callables (what the detector was handed), the other the long way on the tick's own result."""
    from agent.alerts import explain
    from agent.pipeline import Pipeline
    from agent.pipeline_faults import judged_at, rejudged, unheard
    from recorded_outputs import SENSORS, corridor_stream, pipeline_cfg

    rows = corridor_stream(700, 42, 2e9, 0.04, 89, [(2, 5.0, 400, 440), (4, 8.0, 560, 580)])[:600]
    made, long = Pipeline(pipeline_cfg()), Pipeline(pipeline_cfg())
    events = silent = rejudges = 0
    for row in rows:
        a, b = made.step(row), long.step(row)
        assert a.score == b.score or (a.score != a.score and b.score != b.score)
        if a.warming:
            continue
        assert made.detector.tracker.judged[3] == made._rejudge     # what the alert tracker keeps for a fault
        res = b.scored
        want = explain(long.sensors, long.groups, res.sensor_scores, long.window, long.cfg.alerts.top_k)
        assert made._explain() == want
        assert made._hold() == long.health.holds(res.sensor_scores, judged_at(long.detector.threshold(res.tier), None))
        for names in ([s] for s in SENSORS):
            got = made._unheard(names)
            assert got == unheard(names, long.index, row.missing, long.health)
            silent += got == "silent"
        for fault_id in {*made.health.ids, "no such fault"} - {""}:    # (ids end in a random part: made's own)
            assert made._rejudge(fault_id) == rejudged(a.scored, fault_id, made.health, made.numpy)
            rejudges += fault_id != "no such fault"
        assert made._model() == long.chain.current.describe()
        events += len(a.alerts)
        assert [e.event for e in a.alerts] == [e.event for e in b.alerts]
    assert events and silent and rejudges
