"""bench/nab_kinds.py: a NAB window's kind is read off the file's values before and inside it, and
the tally counts windows found per kind."""
from __future__ import annotations

import numpy as np

from bench.nab_kinds import FLAT_ROWS, KINDS, longest_run, tally, window_kind

#: A daily-looking wave between 0 and 10, 600 rows; windows at rows 400..449.
WAVE = 5 + 5 * np.sin(np.arange(600) * 2 * np.pi / 100)


def test_a_value_above_everything_before_is_a_new_high_and_below_a_new_low():
    high, low = WAVE.copy(), WAVE.copy()
    high[420] = 10.5
    low[430] = -0.5
    assert window_kind(high, 400, 449) == "new high"
    assert window_kind(low, 400, 449) == "new low"
    high[100] = 11.0                  # the file had been higher before: a spike within the range seen
    assert window_kind(high, 400, 449) == "within range"


def test_a_flat_stretch_longer_than_any_before_is_flat():
    flat = WAVE.copy()
    flat[410:410 + FLAT_ROWS] = 3.0
    assert longest_run(flat[:400]) == 1 and longest_run(flat) == FLAT_ROWS
    assert window_kind(flat, 400, 449) == "flat"
    flat[50:50 + FLAT_ROWS] = 4.0     # as long a run earlier: not new
    assert window_kind(flat, 400, 449) == "within range"
    short = WAVE.copy()
    short[410:410 + FLAT_ROWS - 1] = 3.0
    assert window_kind(short, 400, 449) == "within range"


def test_missing_values_are_skipped_and_a_window_at_the_start_is_within_range():
    gappy = WAVE.copy()
    gappy[[10, 420]] = np.nan
    assert window_kind(gappy, 400, 449) == "within range"
    assert window_kind(WAVE, 0, 49) == "within range"
    assert longest_run(np.array([np.nan, 1.0, 1.0, np.nan, 2.0])) == 2 and longest_run(np.array([np.nan])) == 0


def test_the_tally_counts_found_and_all_windows_per_kind():
    per_file = {"c/a.csv": {"windows_detail": [{"kind": "new high", "found_at": 0.5}, {"kind": "flat", "found_at": None}]},
                "c/b.csv": {"windows_detail": [{"kind": "new high", "found_at": None}]},
                "c/z.csv": {"windows_detail": [{"kind": "new low", "found_at": 0.1}]}}
    t = tally(per_file, ["c/a.csv", "c/b.csv"])
    assert list(t) == list(KINDS)
    assert t == {"new high": [1, 2], "new low": [0, 0], "flat": [0, 1], "within range": [0, 0]}


def test_a_run_written_before_windows_had_a_kind_is_refused_by_name():
    import pytest
    with pytest.raises(SystemExit, match="c/a.csv: its windows carry no kind"):
        tally({"c/a.csv": {"windows_detail": [{"found_at": 0.5}]}}, ["c/a.csv"])
