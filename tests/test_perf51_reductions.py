"""perf51: the tick's reductions through a dot and an argmax give numpy's reductions' answers, bit for bit.

`fastnp.max_of` (the model scorer's and the fallback's tick score) must be `float(np.maximum.reduce(a))` to
the bit — a zero's sign and a NaN included — and `model_scorer.finite_sum` (the model tier's refusal of a
forecast) must answer as `math.isfinite(np.add.reduce(f))` on every array, including finite entries whose
sum overflows. The err row's float64 subtract on operands copied first is the ufunc's float64 loop's bits.
"""
import math
import struct

import numpy as np
import pytest

from agent import fastnp as fnp
from agent.scorers.model_scorer import finite_sum


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def reduce_max(a: np.ndarray) -> float:
    return float(np.maximum.reduce(a))


def arrays(rng, dtype):
    """Score-like rows and the edges: NaN, ±inf, ±0 ties, negatives, one entry, SIMD-sized and odd lengths."""
    for n in (1, 2, 3, 7, 8, 16, 17, 18, 31, 64, 256):
        yield np.abs(rng.normal(size=n)).astype(dtype)
        yield rng.normal(size=n).astype(dtype)
        yield -np.abs(rng.normal(size=n)).astype(dtype) - 1
        zeros = np.zeros(n, dtype)
        zeros[rng.random(n) < 0.5] = -0.0
        yield zeros
        yield -zeros
        for special in (np.nan, np.inf, -np.inf, 0.0, -0.0):
            for at in {0, n // 2, n - 1}:
                a = np.abs(rng.normal(size=n)).astype(dtype)
                a[at] = special
                yield a
        a = np.abs(rng.normal(size=n)).astype(dtype)
        a[rng.integers(n)] = a.max()                    # a tie at the top
        yield a
        a = np.full(n, 2.5, dtype)
        yield a


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_of_is_the_reduce_to_the_bit(dtype):
    rng = np.random.default_rng(51)
    checked = 0
    for a in arrays(rng, dtype):
        got, want = fnp.max_of(a), reduce_max(a)
        assert isinstance(got, float)
        if math.isnan(want):
            assert math.isnan(got), a
        else:
            assert bits(got) == bits(want), (a, got, want)
        checked += 1
    assert checked > 200


def test_max_of_reads_a_strided_row():
    """The fallback's and the scorer's rows are views; a strided one is read as the reduce reads it."""
    rng = np.random.default_rng(5)
    block = np.abs(rng.normal(size=(18, 4)))
    block[7, 2] = np.nan
    for j in range(4):
        got, want = fnp.max_of(block[:, j]), reduce_max(block[:, j])
        assert (math.isnan(got) and math.isnan(want)) or bits(got) == bits(want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_sum_answers_as_the_sum(dtype):
    big = float(np.finfo(dtype).max)
    rng = np.random.default_rng(16)
    cases = [rng.normal(size=18), np.zeros(18), np.full(18, 1e18), np.full(18, 2e19), np.full(18, -2e19)]
    for special in (np.nan, np.inf, -np.inf):
        a = rng.normal(size=18)
        a[4] = special
        cases.append(a)
    cases += [np.array([big / 2, big / 2, big / 2]),          # every entry finite, the sum overflows: refused
              np.array([big, -big, big, -big]),              # finite sum of entries past √max
              np.array([big / 4] * 5), np.array([big, 0.0]), np.array([np.sqrt(big) * 2, 1.0]),
              np.array([1.0])]
    for a in cases:
        a = np.asarray(a, dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            want = math.isfinite(np.add.reduce(a))
            got = finite_sum(a)
        assert got is want, (a, got, want)
    with np.errstate(over="ignore"):
        assert finite_sum(np.array([3e38, 3e38], np.float32)) is False
        assert finite_sum(np.array([2e19, 1.0], np.float32)) is True


def test_the_err_rows_subtract_is_the_ufuncs_float64_loop():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(32, 18)).astype(np.float32)
    forecast = (rng.normal(size=18) * 1e3).astype(np.float32)
    forecast[[2, 9]] = [np.float32(1e-42), -0.0]        # a subnormal, a negative zero
    want = np.subtract(values[-1], forecast, dtype=np.float64)
    got = values[-1].astype(np.float64)
    np.subtract(got, forecast.astype(np.float64), got)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def test_the_fallbacks_tick_score_covers_its_sensors():
    """NumpyScorer.SCORE_COVERS_SENSORS (the chain then checks its tick by the score alone): with no weight below
    0, a tick with a sensor score NaN or inf has a tick score NaN or inf, on the next-tick path and the other;
    a negative weight turns the promise off."""
    from agent.config import NumpyScorerConfig
    from agent.scorers.numpy_fallback import NumpyScorer
    from agent.window import WindowBuffer
    from fallback_streams import ar1_stream

    n, steps = 6, 16
    z, missing, ts = ar1_stream(600, n, 0.05, seed=2)
    cfg = NumpyScorerConfig(seasonal_periods_s=[])
    scorer = NumpyScorer(n, np.ones((n, n)) - np.eye(n), cfg, tick_s=60.0, steps=steps)
    assert scorer.SCORE_COVERS_SENSORS
    scorer.fit(z[:400], missing[:400], ts[:400])
    buf = WindowBuffer(steps, n)
    for row, m, t in zip(z[400 - steps:400], missing[400 - steps:400], ts[400 - steps:400]):
        buf.push(row, m, float(t))
    hot = 0
    with np.errstate(all="ignore"):
        for i in range(400, 600):
            row = z[i].copy()
            if i % 7 == 0:
                row[i % n] = np.float32(3e38) if i % 2 else np.float32(np.inf)
            buf.push(row, missing[i], float(ts[i]))
            got = scorer.score(buf)
            bad = not np.isfinite(got.sensor_scores).all()
            hot += bad
            assert bad == (not math.isfinite(got.score)), i
            assert (np.isnan(got.sensor_scores) | (got.sensor_scores >= 0)).all()
            scorer.learn(buf)
            scorer.observe(buf)
    assert hot > 0
    negative = NumpyScorer(n, np.ones((n, n)) - np.eye(n), NumpyScorerConfig(weights={"ar": 1.0, "markov": -0.5}),
                           tick_s=60.0, steps=steps)
    assert not negative.SCORE_COVERS_SENSORS


def test_the_scored_ticks_result_and_decision_fields_in_the_order_they_are_built_by_position():
    """Pipeline.step and Detector.step build a scored tick's TickResult and Decision by position (a class called
    with keywords builds a dict of them first): a field put before those it passes would take another's value."""
    from dataclasses import fields

    from agent.detector import Decision
    from agent.pipeline import TickResult

    assert [f.name for f in fields(TickResult)][:11] == [
        "ts", "warming", "score", "threshold", "tier", "sensor_scores", "label", "event", "alerts", "faults", "scored"]
    assert [f.name for f in fields(Decision)] == ["threshold", "above", "calm", "events"]
