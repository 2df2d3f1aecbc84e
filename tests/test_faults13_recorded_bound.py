"""The recording's rows kept for the fault rules' teaching until the first live tick are bounded (faults13): at most
MAX_KEPT rows and KEPT_BYTES, whatever `warmup.ticks` says — before, a warm-up longer than MAX_KEPT ticks kept that
many rows (a day of 1-s ticks: 86,400 rows, 16 MB for 18 sensors). A day and a warm-up that fit are kept whole (the
teaching's span ends at the first live tick's time of day). Real WarmupRows, as `warmup.replay` fills them."""
from __future__ import annotations

import numpy as np

from agent.faults.recorded import KEPT_BYTES, MAX_KEPT, MIN_TICKS, RecordedTicks
from agent.warmup import WarmupRows
from agent.window import Row


def _rows(count: int, sensors: int, tick_s: float) -> WarmupRows:
    rows = WarmupRows(sensors, count)
    for k in range(count):
        rows.append(Row(ts=1_767_600_000 + k * tick_s, values=np.full(sensors, float(k % 7)),
                        missing=np.zeros(sensors, bool), carried=np.zeros(sensors, bool)))
    return rows


def _bytes(kept: RecordedTicks) -> int:
    return kept.ts.nbytes + kept.values.nbytes + kept.missing.nbytes + kept.carried.nbytes


def test_a_long_warm_up_keeps_no_more_than_the_bound():
    kept = RecordedTicks(_rows(90_000, 18, 1.0), warmup_ticks=86_400, tick_s=1.0)
    assert kept.ts.size == kept.ticks == MAX_KEPT and _bytes(kept) <= KEPT_BYTES      # before: 86,400 rows
    wide = RecordedTicks(_rows(30_000, 200, 1.0), warmup_ticks=86_400, tick_s=1.0)
    assert MIN_TICKS <= wide.ts.size < MAX_KEPT and _bytes(wide) <= KEPT_BYTES


def test_a_day_and_a_warm_up_that_fit_are_kept_whole():
    kept = RecordedTicks(_rows(3 * 2880, 18, 30.0), warmup_ticks=2880, tick_s=30.0)
    assert (kept.ticks, kept.ts.size) == (2880, 2 * 2880)
    live = kept.ts[-1] + 30.0 + 8 * 3600
    first, end = kept.span(live)
    assert end - first == 2880 and kept.ts[end - 1] == live - 86400     # ending at its time of day, a day before
