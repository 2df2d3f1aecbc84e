"""`scoring.profile.drifting_scale_half_life_ticks` (issue 10, skab36 round; off by default: it failed the round's
FAR bar): only the `drifting` sensors' forecast-error scale learns on calm ticks, the others' stays as warm-up fitted
it. Real parts: the int8 demo bundle through the pipeline (its detector judges which ticks are calm and calls the
chain's `learn`)."""
from __future__ import annotations

import numpy as np
import pytest

from agent.config import ConfigError, from_dict
from agent.scorers.profile import NormalProfile

pytest.importorskip("ai_edge_litert")

from profile_runs import DEMO_BUNDLE, above_threshold, demo_config, noisier_after, profile_before, run  # noqa: E402

WARM, N, NOISY, OTHER = 400, 700, 3, 1        # sensor NOISY reads 3× its warm-up noise after warm-up


def sensors() -> list[str]:
    """The demo bundle's sensors, in its order (the tier's)."""
    from agent.bundle import load
    return list(load(str(DEMO_BUNDLE)).sensors)


@pytest.fixture(scope="module")
def tiers():
    """{which: (its model tier, its ticks above threshold)}: the noisier sensor drifting or not, with the
    drifting sensors' scale learning on (half-life 50) and the general key off."""
    names = sensors()
    out = {}
    for which, drifting in (("noisy drifts", [names[NOISY]]), ("another drifts", [names[OTHER]])):
        cfg = demo_config({"enabled": True, "drifting": drifting, "drifting_scale_half_life_ticks": 50.0}, WARM)
        pipe, results = run(cfg, noisier_after(cfg, N, WARM, NOISY), "tflite")
        out[which] = pipe.chain.tiers[0], above_threshold(results)
    return out


def test_only_the_drifting_sensors_scale_learns(tiers):
    on, above_on = tiers["noisy drifts"]
    assert on.residual[NOISY] > 1.5 * on.scale_floor[NOISY]       # the drifting, noisier sensor's widened
    rest = np.arange(len(on.residual)) != NOISY
    assert np.array_equal(on.residual[rest], on.scale_floor[rest])  # the others' is warm-up's, to the bit
    other, above_other = tiers["another drifts"]
    # the noisier sensor not drifting: its scale stays warm-up's, and it keeps alarming where the other quietened
    assert other.residual[NOISY] == other.scale_floor[NOISY]
    late = slice(-200, None)
    assert above_other[late].mean() > 0.05
    assert above_on[late].mean() < 0.5 * above_other[late].mean()


def test_each_sensors_rate_follows_its_own_half_life():
    names = sensors()
    rate = lambda h: 1.0 - 0.5 ** (1.0 / h)       # noqa: E731
    for keys, drifting_rate, other_rate in (({}, None, None),
                                              ({"drifting_scale_half_life_ticks": 40.0}, rate(40.0), 0.0),
                                              ({"scale_half_life_ticks": 400.0}, rate(400.0), rate(400.0)),
                                              ({"scale_half_life_ticks": 400.0, "drifting_scale_half_life_ticks": 40.0},
                                               rate(40.0), rate(400.0))):
        rates = NormalProfile(profile_before(enabled=True, drifting=[names[OTHER]], **keys), names).scale_rates()
        if drifting_rate is None:
            assert rates is None, keys
            continue
        assert rates[OTHER] == pytest.approx(drifting_rate), keys
        assert np.allclose(np.delete(rates, OTHER), other_rate), keys


def test_the_key_is_checked_with_its_path():
    with pytest.raises(ConfigError, match="drifting_scale_half_life_ticks"):
        from_dict({"sensors": ["a"], "scoring": {"profile": {"drifting_scale_half_life_ticks": -1}}})
