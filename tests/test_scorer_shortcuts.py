"""The model tier's per-tick shortcuts give the same bits as the work they skip.

- profile.ew_level: a fully known run is summed without the masking (its weight total a cached
  constant); against the masked computation written out here, on random runs of every layout;
- model_scorer: with `lasting_shift` off the bias statistic is not computed (its errors are only
  recorded); a scorer that computes it and zeroes it everywhere (`lasting_shift` on with every
  sensor `drifting`: the bias is kept on none) scores the same bits and records the same history,
  so it writes the same checkpoint (both with every sensor drifting: no profile distance).
"""
from __future__ import annotations

import numpy as np
import pytest

from agent.scorers.profile import ew_level, level_weights


def masked_level(forecasts: np.ndarray, known: np.ndarray, half_life: float) -> np.ndarray:
    """ew_level's general path: the weights masked by `known`, the unknown entries zeroed."""
    w = level_weights(len(forecasts), float(half_life))[:, None] * known
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w * np.where(known, forecasts, 0.0)).sum(axis=0) / total, np.nan)


def test_a_fully_known_level_is_the_masked_computations_bits():
    rng = np.random.default_rng(16)
    fast = 0
    for trial in range(3000):
        steps, n = int(rng.integers(1, 70)), int(rng.integers(1, 30))
        dtype = np.float32 if trial % 3 == 0 else np.float64
        x = (rng.standard_normal((steps, n)) * 10 ** rng.uniform(-3, 3)).astype(dtype)
        known = rng.uniform(size=(steps, n)) >= rng.choice([0.0, 0.0, 0.05, 0.5])
        if trial % 2:
            x = np.where(known, x, np.nan).astype(dtype)
        if trial % 5 == 0:                               # column-major: summed in another order
            x, known = np.asfortranarray(x), np.asfortranarray(known)
        if trial % 7 == 0:                               # a row slice of a larger array
            x = np.concatenate([x, x])[steps // 2:steps // 2 + steps]
        half_life = float(rng.choice([0.5, 2.0, 8.0, 30.0]))
        fast += bool(known.all())
        got, want = ew_level(x, known, half_life), masked_level(x, known, half_life)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (trial, steps, n)
    assert fast > 1000                                   # the shortcut was taken


pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO  # noqa: E402


@NO_DEMO
def test_without_the_lasting_shift_the_bias_is_skipped_with_the_same_scores_and_checkpoint():
    from agent import bundle as bundles
    from profile_runs import profile_before
    from agent.scorers.tflite import TfliteScorer
    from agent.window import Normaliser, WindowBuffer

    bundle = bundles.load(str(DEMO_BUNDLE))
    sensors = list(bundle.sensors)
    norm = Normaliser.from_manifest(bundle.normalisation, sensors)
    rng = np.random.default_rng(5)
    n_rows, warm = 420, 200
    raw = np.asarray(norm.mean) + np.asarray(norm.std) * 0.3 * rng.standard_normal((n_rows, len(sensors)))
    raw[300:, 3] += 1.5 * np.asarray(norm.std)[3]        # a lasting shift
    z = norm.apply(raw)
    missing = np.zeros(z.shape, bool)
    missing[250:260, 2] = True                           # readings missing for a while
    z[missing] = 0.0
    ts = 1.7e9 + 30.0 * np.arange(n_rows)
    ts[340:] += 150.0                                    # a gap in the timestamps
    skipped, computed = TfliteScorer(bundle), TfliteScorer(bundle)
    # lasting_shift off: no bias computed; on, with every sensor drifting: computed, then zeroed
    skipped.set_profile(profile_before(enabled=True, min_ticks=50, lasting_shift=False, drifting=sensors))
    computed.set_profile(profile_before(enabled=True, min_ticks=50, lasting_shift=True, drifting=sensors))
    fitted = [s.fit_profile(z[:warm], missing[:warm], ts[:warm]) for s in (skipped, computed)]
    assert fitted[0] is not None and fitted[1] is not None
    assert skipped.profile.bias_kept() is False and not computed.profile.bias_kept().any()
    buf = WindowBuffer(bundle.steps, len(sensors))
    for i in range(warm - bundle.steps, n_rows):
        buf.push(z[i], missing[i], ts[i])
        if i < warm:
            continue
        for _ in range(2 if i % 7 == 0 else 1):          # now and then the same tick twice
            a, b = skipped.score(buf), computed.score(buf)
            assert a.sensor_scores.tobytes() == b.sensor_scores.tobytes(), i
            assert a.score == b.score
        sa, sb = skipped.state_dict(), computed.state_dict()
        for key in ("ts", "errors"):
            assert sa[key].tobytes() == sb[key].tobytes(), (i, key)
    assert len(sa["ts"]) >= bundle.steps                 # the history holds at least the window's ticks
    assert computed._error_run.ts is not None and skipped._error_run.ts is None   # one carried, one not
