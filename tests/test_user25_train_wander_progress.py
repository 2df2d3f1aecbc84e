"""user25: `stad-convert train` says how far its profile-wander pass is (convert/wander.py), the same result.

After its last epoch, train forecasts every training window once for the bundle's `profile_wander`; on 8 days of
1-s rows (about 690,000 windows, one thread, load 8) that took longer than the training's four sampled epochs and
printed nothing for 10 minutes — a user reads a hang. profile_wander now forecasts in chunks of FORECAST_CHUNK
windows and reports (done, total) after each (train shows it as its progress line); the wander is the same as
forecast in one call, with a forecast that is a real computation per window (the last context row)."""
from __future__ import annotations

import numpy as np

from convert.wander import FORECAST_CHUNK, profile_wander


def test_profile_wander_reports_each_chunk_up_to_its_total_and_the_result_is_unchanged():
    rng = np.random.default_rng(5)
    steps, fit_ticks = 8, 4000
    n = 2 * FORECAST_CHUNK + 3000                   # three chunks in one segment, four in two
    z = (0.1 * rng.standard_normal((n, 2))).astype(np.float32)
    z[fit_ticks:, 1] += np.linspace(0.0, 2.0, n - fit_ticks, dtype=np.float32)
    missing = np.zeros_like(z, bool)
    segment = np.r_[np.zeros(11000, int), np.ones(n - 11000, int)]
    calls = []

    def last_row(values, missing_w):
        calls.append(len(values))
        return values[:, -2, :]
    seen = []
    wander = profile_wander(last_row, ["a", "b"], z, missing, np.zeros(n, bool), segment, n, steps, fit_ticks, 5.0,
                            progress=lambda done, total: seen.append((done, total)))
    total = (11000 - steps + 1) + (n - 11000 - steps + 1)
    assert [t for _, t in seen] == [total] * len(seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == total
    assert len(seen) == len(calls) == 4 and max(calls) == FORECAST_CHUNK
    whole = profile_wander(lambda v, m: v[:, -2, :], ["a", "b"], z, missing, np.zeros(n, bool), segment, n, steps,
                           fit_ticks, 5.0)
    assert wander == whole
