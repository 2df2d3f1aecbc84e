"""fit_gpd ends on excesses that are not finite (review47).

review46's scaled path (a mean excess over 1e140: fitted on the excesses over the largest, σ scaled back) recursed
on `excesses / max`: with an infinite excess (a score's distance from a start far below zero overflows: 1.7e308 −
(−1.7e308)) or a NaN one (a damaged checkpoint's peaks, which the restore does not check) the quotient is NaN again
and the recursion never ended — RecursionError out of `calibrate` at the warm-up's end, or out of a tick's threshold
update. Before review46 such a fit gave NaN, not a crash. Now an excess past the largest float is held there, a NaN
one left out, and the fit is the scaled one's."""
from __future__ import annotations

import math

import numpy as np

from agent.config import ThresholdConfig
from agent.threshold import FLOAT_MAX, AdaptiveThreshold, calibrate, fit_gpd


def test_calibrated_on_scores_whose_excess_overflows_the_threshold_is_finite_and_resumes():
    cfg = ThresholdConfig(method="pot", risk=1e-4, init_quantile=0.5)
    scores = np.array([-FLOAT_MAX] * 9 + [FLOAT_MAX, FLOAT_MAX])    # (the start at -1.7e308: excesses +inf)
    thr = AdaptiveThreshold(cfg, calibrate(scores, cfg))          # on 740108ec: RecursionError
    assert math.isfinite(thr.value)
    assert AdaptiveThreshold.restored(cfg, thr.state_dict()).value == thr.value


def test_a_nan_or_infinite_excess_ends_the_fit():
    for excesses in ([1e300, math.inf, 1e299], [math.nan, 1.0, 2.0, 1e141], [math.inf, math.inf]):
        sigma, gamma = fit_gpd(np.array(excesses))                # on 740108ec: RecursionError
        assert math.isfinite(sigma) and sigma > 0 and -0.5 <= gamma <= 0.5, (excesses, sigma, gamma)
    # finite ones as before (review46's scaled path, bit for bit)
    x = np.array([1e300, 2e300, 5e299, 3e300])
    assert fit_gpd(x) == fit_gpd(np.minimum(x, FLOAT_MAX))
