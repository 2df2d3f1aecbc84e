"""convert5: the profile-wander pass forecasts at most MAX_WINDOWS windows, however long the training range.

`stad-convert train` forecast the windows of every stretch of the training rows for the bundle's
`profile_wander` (convert/wander.py): on 10 days of 1-s rows 691,200 windows, ~10 min on one thread after the
sampled epochs, hours for a month (user25). Above the cap it now measures as many stretches as MAX_WINDOWS
windows hold, evenly spread over the whole training range; at or below it nothing changes (the demo bundle's and
SKAB's training ranges are below it: their bundles are built as before). The windows are counted, not timed:
the forecast stands in for the model with a real computation per window (the last context row), and a column
of row numbers says which rows each forecast window ends on.
"""
from __future__ import annotations

import numpy as np

from convert.wander import MAX_WINDOWS, profile_wander

STEPS, FIT = 8, 400


def rows(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) rows: two sensors, the second wandering upwards after the first warm-up, and the row number."""
    rng = np.random.default_rng(seed)
    z = np.zeros((n, 3), np.float64)
    z[:, :2] = 0.1 * rng.standard_normal((n, 2))
    z[:, 1] += np.sin(np.arange(n) / 3000.0)
    z[:, 2] = np.arange(n)
    return z, np.zeros_like(z, bool)


class Counted:
    """The forecast, counting the windows it is given and the rows they end on."""

    def __init__(self):
        self.newest: list[np.ndarray] = []

    def __call__(self, values: np.ndarray, missing_w: np.ndarray) -> np.ndarray:
        self.newest.append(values[:, -1, 2].astype(np.int64))
        return values[:, -2, :]

    @property
    def rows(self) -> np.ndarray:
        return np.concatenate(self.newest)


def test_a_training_range_above_the_cap_forecasts_at_most_the_caps_windows_spread_over_all_of_it():
    n = MAX_WINDOWS + 60_000
    z, missing = rows(n)
    segment = np.r_[np.zeros(70_000, int), np.ones(n - 70_000, int)]
    anomalous = np.zeros(n, bool)
    anomalous[120_000:121_000] = True                      # stretches over it are not measured, capped or not
    forecast, seen = Counted(), []
    wander = profile_wander(forecast, ["a", "b", "row"], z.astype(np.float32), missing, anomalous, segment, n, STEPS,
                            FIT, 5.0, progress=lambda done, total: seen.append((done, total)))
    forecast_rows = forecast.rows
    assert len(forecast_rows) <= MAX_WINDOWS < n - 2 * (STEPS - 1)
    assert len(np.unique(forecast_rows)) == len(forecast_rows)          # each window once
    assert seen[-1] == (len(forecast_rows), len(forecast_rows))         # the progress line's total is what is done
    per_stretch = 2 * FIT - STEPS + 1
    assert wander.chunks == MAX_WINDOWS // per_stretch                   # as many stretches as the cap holds
    assert wander.fit_ticks == wander.held_ticks == FIT                  # the same horizon as uncapped
    assert f"{wander.chunks} of the " in wander.statistic
    # evenly spread: from the range's first stretch to its last, in both segments, none over the anomaly
    assert forecast_rows.min() == STEPS - 1
    last_start = (n - 70_000 - 2 * FIT) // FIT * FIT + 70_000
    assert forecast_rows.max() == last_start + 2 * FIT - 1
    assert ((forecast_rows < 70_000).sum() > 0) and ((forecast_rows >= 70_000).sum() > 0)
    assert not ((forecast_rows >= 120_000) & (forecast_rows < 121_000)).any()
    gaps = np.diff(np.unique(forecast_rows // (2 * FIT)))
    assert gaps.max() <= 2 * gaps.min() + 1                              # no part of the range left out


def test_at_or_below_the_cap_the_pass_and_its_result_are_as_before():
    n = 30_000
    z, missing = rows(n, seed=4)
    z, anomalous = z.astype(np.float32), np.zeros(n, bool)
    segment = np.r_[np.zeros(12_000, int), np.ones(n - 12_000, int)]
    windows = (12_000 - STEPS + 1) + (n - 12_000 - STEPS + 1)
    uncapped, at_cap = Counted(), Counted()
    whole = profile_wander(uncapped, ["a", "b", "row"], z, missing, anomalous, segment, n, STEPS, FIT, 5.0,
                           max_windows=10 ** 9)
    same = profile_wander(at_cap, ["a", "b", "row"], z, missing, anomalous, segment, n, STEPS, FIT, 5.0,
                          max_windows=windows)
    assert same == whole and len(at_cap.rows) == len(uncapped.rows) == windows
    assert np.array_equal(at_cap.rows, uncapped.rows)
    assert whole.chunks == (12_000 - 2 * FIT) // FIT + 1 + (n - 12_000 - 2 * FIT) // FIT + 1
    # one window fewer than the range: capped, the same stretches' wander only fewer of them, measured the same way
    capped = Counted()
    fewer = profile_wander(capped, ["a", "b", "row"], z, missing, anomalous, segment, n, STEPS, FIT, 5.0,
                           max_windows=windows - 1)
    assert len(capped.rows) <= windows - 1 and fewer.chunks < whole.chunks
    assert fewer.fit_ticks == whole.fit_ticks and set(fewer.sensors) == set(whole.sensors)


def test_a_warm_up_longer_than_half_the_cap_still_gets_one_stretch():
    n = 12_000
    z, missing = rows(n, seed=5)
    forecast = Counted()
    wander = profile_wander(forecast, ["a", "b", "row"], z.astype(np.float32), missing, np.zeros(n, bool), None, n,
                            STEPS, FIT, 5.0, max_windows=500)
    assert wander.chunks == 1 and len(forecast.rows) == 2 * FIT - STEPS + 1
