"""The numpy fallback: AR and Markov low on their own data, high on a planted change;
fusion flags a sensor that breaks from its neighbours; the chain steps down on faults."""
import numpy as np
import pytest

from agent.config import NumpyScorerConfig, ScoringConfig, SensorSpec
from agent.scorers.ar import ARModel
from agent.scorers.base import Scorer, TickScore
from agent.scorers.chain import ScorerChain
from agent.scorers.fusion import FusionModel
from agent.scorers.markov import MarkovModel
from agent.scorers.numpy_fallback import NumpyScorer
from agent.topology import adjacency, neighbours
from agent.window import WindowBuffer


def ar_series(rng, n_rows, n, phi=(0.6, 0.25)):
    x = np.zeros((n_rows, n))
    for t in range(2, n_rows):
        x[t] = phi[0] * x[t - 1] + phi[1] * x[t - 2] + rng.normal(0, 0.5, n)
    return x.astype(np.float32)


def run(model, z, missing, start):
    """Scores of `model` for rows start.. when fed through a WindowBuffer like the agent does."""
    buf = WindowBuffer(16, z.shape[1])
    out = []
    for t in range(len(z)):
        buf.push(z[t], missing[t], float(t))
        if t >= start:
            out.append(model.score(buf))
    return np.array(out)


def fit_and_run(model, z, split, plant):
    """Fit `model` on rows ..split, plant an anomaly in a copy of the rest, score it from tick 20.
    Returns (scores, the planted test rows)."""
    miss = np.zeros_like(z, bool)
    model.fit(z[:split], miss[:split])
    if hasattr(model, "calibrate"):
        model.calibrate(z[:split], miss[:split])
    test = z[split:].copy()
    plant(test)
    return run(model, test, miss[split:], 20), test


def test_ar_recovers_coefficients_and_flags_a_spike():
    rng = np.random.default_rng(0)
    m = ARModel(3, 2, 0.999)

    def spike(test):
        test[500, 1] += 6.0

    s, _ = fit_and_run(m, ar_series(rng, 3000, 3), 2000, spike)
    assert np.allclose(m.rls.w[:, :2], [[0.25, 0.6]] * 3, atol=0.05)   # [x_{t-2}, x_{t-1}, 1]
    normal = np.delete(s[:, 1], [480, 481, 482])
    assert np.percentile(normal, 99) < 3.5
    assert s[480, 1] > 8.0


def test_markov_low_on_own_chain_high_on_level_jump():
    rng = np.random.default_rng(1)
    z = ar_series(rng, 4000, 2)

    def jump(test):
        test[600:610, 0] = 4.0      # jump to the top bin from wherever it was

    s, test = fit_and_run(MarkovModel(2, 8, 0.5, 0.999), z, 3000, jump)
    assert np.median(s[:, 0]) < 1.0
    low_before = test[599, 0] < np.quantile(z[:3000, 0], 0.5)
    if low_before:
        assert s[580, 0] > 2.0


def test_markov_propagates_over_missing_ticks():
    rng = np.random.default_rng(2)
    z = ar_series(rng, 3000, 1)
    miss = np.zeros_like(z, bool)
    m = MarkovModel(1, 6, 0.5, 0.999)
    m.fit(z, miss)
    m.calibrate(z, miss)
    buf = WindowBuffer(8, 1)
    for t in range(8):
        buf.push(z[t], np.array([3 <= t < 7]), float(t))
    s = m.score(buf)
    assert np.isfinite(s).all() and s.shape == (1,)


def test_markov_states_and_propagation_against_the_definitions():
    """states() (edges transposed, counted row after row) is each sensor's count of edges below its
    value, for one row and a block; a sensor back after one or more missing ticks gets P(s1) from
    its last observed state pushed through the transition matrix, whatever the window's gaps."""
    rng = np.random.default_rng(7)
    n, k = 5, 6
    z = ar_series(rng, 2000, n)
    miss = rng.random(z.shape) < 0.05
    m = MarkovModel(n, k, 0.5, 0.999)
    m.fit(z, miss)
    m.calibrate(z, miss)
    for x in (z[7], z[:40]):
        want = np.array([[int((x2[i] > m.edges[i]).sum()) for i in range(n)] for x2 in np.atleast_2d(x)])
        assert np.array_equal(m.states(x), want.reshape(np.shape(x)))
    buf = WindowBuffer(10, n)
    checked = 0
    for t in range(60):
        buf.push(z[t], miss[t] | ((t % 7 < 2) & (np.arange(n) == 1)), float(t))
        if buf.ready and buf.missing[-2].any() and not buf.missing[-1].any():
            checked += 1
            s0, s1 = m.transitions(buf)
            p = m._prob(s0, s1)
            for i in np.flatnonzero(buf.missing[-2]):
                seen = np.flatnonzero(~buf.missing[:-1, i])
                M = m.transition(i)
                d = np.eye(k)[m.states(buf.values[seen[-1]])[i]]
                for _ in range(len(buf.values) - 2 - seen[-1]):
                    d = d @ M
                p[i] = d @ M[:, s1[i]]
            want = np.maximum((-np.log(p) - m.mean) * m.inv_std, 0.0)
            np.testing.assert_allclose(m.score(buf), want, rtol=1e-12)
    assert checked >= 5


def test_fusion_neighbour_mean_is_the_mean_of_the_observed_neighbours():
    specs = [SensorSpec(name=f"S0{i}_speed") for i in range(1, 6)]
    adj = adjacency(specs, "corridor")
    f = FusionModel(adj, 0.999)
    rng = np.random.default_rng(8)
    x, missing = rng.normal(size=(30, 5)), rng.random((30, 5)) < 0.3
    want = np.zeros((30, 5))
    for t in range(30):
        for i in range(5):
            js = [j for j in np.flatnonzero(adj[i]) if not missing[t, j]]
            if js:
                want[t, i] = sum(adj[i, j] * x[t, j] for j in js) / sum(adj[i, j] for j in js)
    np.testing.assert_allclose(f.neighbour_mean(x, missing), want, rtol=1e-12)
    np.testing.assert_allclose(f.neighbour_mean(x[3], missing[3]), want[3], rtol=1e-12)


def test_fusion_flags_a_sensor_that_breaks_from_its_neighbours():
    rng = np.random.default_rng(3)
    common = ar_series(rng, 3000, 1)[:, 0]
    z = np.stack([common + rng.normal(0, 0.2, 3000) for _ in range(4)], axis=1).astype(np.float32)
    specs = [SensorSpec(name=f"S0{i}_speed") for i in range(1, 5)]

    def drop(test):
        test[500:520, 2] -= 3.0          # S03 drops while S02 and S04 carry on

    s, _ = fit_and_run(FusionModel(adjacency(specs, "corridor"), 0.999), z, 2000, drop)
    assert s[480, 2] > 5.0
    assert np.percentile(s[:400, 2], 99) < 4.0


def test_topology_rules():
    specs = [SensorSpec(name=n) for n in ["S01_flow", "S01_speed", "S02_flow", "S02_speed", "S03_flow"]]
    nb = neighbours(specs, "corridor")
    assert nb["S02_flow"] == ["S01_flow", "S03_flow"] and nb["S03_flow"] == ["S02_flow"]
    assert neighbours(specs, "group")["S01_flow"] == ["S01_speed"]
    specs[0] = SensorSpec(name="S01_flow", neighbours=["S03_flow"])
    assert neighbours(specs, "corridor")["S01_flow"] == ["S03_flow"]


def test_numpy_scorer_end_to_end_scores_are_calibrated():
    rng = np.random.default_rng(4)
    z = ar_series(rng, 3000, 6)
    miss = np.zeros_like(z, bool)
    specs = [SensorSpec(name=f"S0{i}_x") for i in range(1, 7)]
    sc = NumpyScorer(6, adjacency(specs, "corridor"), NumpyScorerConfig())
    sc.fit(z[:2000], miss[:2000])
    batch = sc.batch_scores(z[2000:], miss[2000:], 16)
    buf = WindowBuffer(16, 6)
    online = []
    for t in range(2000, 3000):
        buf.push(z[t], miss[t], float(t))
        if t >= 2016:
            online.append(sc.score(buf).sensor_scores)
    # The batch path (used to calibrate) and the per-tick path agree.
    assert np.allclose(np.array(online), batch[16 - sc.ar.p:], atol=1e-4)


class Exploding(Scorer):
    TYPE = "onnx"

    def __init__(self, mode):
        self.mode = mode

    def score(self, window):
        if self.mode == "raise":
            raise RuntimeError("session died")
        return TickScore(sensor_scores=np.array([np.nan]), score=float("nan"), tier="onnx")


class Constant(Scorer):
    TYPE = "numpy"

    def score(self, window):
        return TickScore(sensor_scores=np.array([1.0]), score=1.0, tier="numpy")


@pytest.mark.parametrize("mode", ["raise", "nan"])
def test_chain_steps_down_within_the_tick(mode, caplog):
    chain = ScorerChain([Exploding(mode), Constant()], ScoringConfig(probation_ticks=3))
    buf = WindowBuffer(4, 1)
    res = chain.score(buf)
    assert res.tier == "numpy" and chain.tier == "numpy"
    assert "onnx -> numpy" in caplog.text
    for _ in range(3):
        chain.score(buf)
    assert len(chain.switches) >= 3     # retried after probation, failed again, stepped down again


def test_ar_keeps_flagging_a_lasting_level_shift():
    rng = np.random.default_rng(5)
    m = ARModel(2, 2, 0.999)

    def shift(test):
        test[500:560, 0] += 5.0                   # a shift held for 60 ticks

    s, test = fit_and_run(m, ar_series(rng, 3000, 2), 2000, shift)
    s = s[:, 0]                                   # s[i] scores tick 20 + i
    calm = np.percentile(s[:400], 99)
    assert calm < 4.0
    assert np.min(s[480 + 3:480 + 55]) > calm     # flagged for as long as the shift lasts
    assert np.max(s[480 + 80:480 + 200]) < 5.0    # and calm again once it is over
    # The batch path used for calibration gives what score() gives tick by tick.
    batch = m.batch_scores(test, np.zeros_like(test, bool), 16)  # rows p.. = ticks 2..
    assert np.allclose(batch[18:18 + len(s), 0], s, atol=1e-5)


def test_a_tick_scores_explanation_is_computed_on_first_read_only():
    """A model scorer's attention weights are for alerts: built when read, once, not every tick."""
    calls = []

    def explanation():
        calls.append(1)
        return np.array([0.25, 0.75]), np.array([1.0, 0.0])

    res = TickScore(sensor_scores=np.array([1.0, 2.0]), score=2.0, tier="tflite", explanation=explanation)
    assert calls == []
    assert res.sensor_weights.tolist() == [0.25, 0.75] and res.time_weights.tolist() == [1.0, 0.0]
    assert len(calls) == 1
    assert TickScore(sensor_scores=np.array([1.0]), score=1.0, tier="numpy").time_weights is None
