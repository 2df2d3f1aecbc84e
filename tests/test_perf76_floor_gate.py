"""perf76: on a tick every reading is over Normal's size floor (max(1 % × |mean|, tiny): Normal.above_size), the
tracker takes that one comparison for its floor test — no sensor can be at its floor (dead.AT_FLOOR × the level is
at most the size floor) — and stuck's relative step divides by x itself (|x| is x, and the larger of it and the
floor). Both hold bit for bit: a tracker kept off the comparison every tick (its `_zero_floor` cleared, as for a
config with a floor: x − 0.0 is x, the floor test then made every tick) decides and checkpoints alike on streams with
dead sensors at their floor, dropouts, drifts, spikes, stuck sensors and incidents; and the comparison both holds
and fails on many of their ticks."""
import dataclasses

import numpy as np
import pytest

from fault_states import text as state_text
from fault_streams import tracker_and_rows


SHARES = (0.005, 0.0099, 0.01, 0.0101, 0.011, 0.02, 1e-12, 0.0, -0.001)     # around the floors' 1 % of the level


def _near_floor(rows: list, sensor: int, start: int, ticks: int) -> list:
    """The stream with `sensor`'s readings on `ticks` ticks from `start` at SHARES of its reading `start` ticks in:
    on either side of, and at, 1 % of its level — the floor test's and the size floor's edge."""
    level = abs(float(rows[start].values[sensor])) or 1.0
    out = list(rows)
    for k in range(start, min(start + ticks, len(rows))):
        values = rows[k].values.copy()
        values[sensor] = level * SHARES[k % len(SHARES)]
        out[k] = dataclasses.replace(rows[k], values=values)
    return out


def _events(events) -> list:
    return [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in events]


@pytest.mark.parametrize("scenario, seed, hours", [("corridor", 2, 24.0), ("pump", 4, 24.0)])
def test_a_tracker_that_always_tests_the_floor_decides_and_checkpoints_alike(scenario, seed, hours):
    make, rows = tracker_and_rows(scenario, seed, hours)
    rows = _near_floor(_near_floor(rows, 1, 600, 180), 4, 2000, 240)
    short, long = make(), make()
    long.life = short.life
    assert short._zero_floor
    long._zero_floor = False        # (x − floor: the floors are +0.0, the same values; never the gate)
    over = under = lows = 0
    for k, row in enumerate(rows):
        # (the gate's own condition, computed here from the mean as the tick finds it)
        size = np.maximum(0.01 * np.abs(short.normal.mean), 1e-9)
        gated = bool(np.all(row.values > size))
        over, under = over + gated, under + (not gated)
        a, b = short.observe(row), long.observe(row)
        assert _events(a) == _events(b), k
        assert np.array_equal(short.candidate, long.candidate), k
        assert np.array_equal(short._tick.low, long._tick.low), k
        lows += bool(np.count_nonzero(long._tick.low))
        if k % 89 == 0:
            assert state_text(short.state()) == state_text(long.state()), k
    assert state_text(short.state()) == state_text(long.state())
    # (both ways taken, many times; a sensor at its floor — dead — on some of the ticks the gate did not pass)
    assert over > 1000 and under > 40 and lows > 20, (over, under, lows, len(rows))
    assert sum(short.raised.values()) > 0                            # (faults were judged on the way)
