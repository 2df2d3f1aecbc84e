"""faults14: a `warmup.replay` recording whose end finds one sensor faulty teaches the fault rules of the others; that
one is left out, said once with its name and why. Before (faults12's rule), any one sensor judged faulty at the end
of the taught ticks left every sensor's rules untaught (seen with the simulator's hourly anomalies in a recording),
and the loops broken when the live ticks began were not paged. And a first live tick right after the recording is
taught on the recording's newest ticks — its own last hours, the same time of day — not on the same time of day a
day earlier.

A real `python -m agent run` on real files: the corridor simulator's recording, 32 hours ending at 08:00 with
S02_speed held at one value for its last two hours, then two live hours from the next tick in which S05_speed holds
one value and S04's loops read 0 from the first tick (tests/test_faults12_broken_since_start.py's breakage)."""
from __future__ import annotations


import numpy as np
import pytest

from agent.alerts import iso
from agent.faults.recorded import RecordedTicks
from agent.sources.lines import parse_time
from agent.warmup import WarmupRows
from agent.window import Row
from recorded_warmup import SENSORS, agent_run, broken, fault_events, write

H = 3600.0


def _stuck(k0: int, k1: int):
    """An edit holding S02_speed at its k0-th record's value from that record to the k1-th."""
    seen = {"k": 0}

    def edit(values):
        k, seen["k"] = seen["k"], seen["k"] + 1
        if k == k0:
            seen["held"] = values["S02_speed"]
        if k0 <= k < k1:
            values["S02_speed"] = seen["held"]
    return edit


NEXT_DAY = "2026-01-04T04:00:30.000Z to 2026-01-04T08:00:00.000Z"
CASES = {
    # the recording ends as the live ticks begin (08:00 on the 5th): taught on its newest ticks, where S02_speed
    # has been held since 06:00 (before: on the 4th's 04:00–08:00, the newest passed over)
    "right_after": (32, _stuck(30 * 120, 32 * 120), SENSORS, "2026-01-05T04:00:00.000Z to 2026-01-05T07:59:30.000Z",
                    "left out: S02_speed (judged stuck since 2026-01-05T06:0"),
    # a day's recording, the live ticks the next morning: taught on the 4th's 04:00–08:00, S02_speed held from
    # 06:00 to noon there (before: nothing taught)
    "next_day": (24, _stuck(6 * 120, 12 * 120), SENSORS, NEXT_DAY,
                 "left out: S02_speed (judged stuck since 2026-01-04T06:0"),
    # docs/gateway-configs.md's "Adding a station" (user27, faults12's own case): the recording has no column of the new station S06,
    # whose sensors were judged `missing` at the end — before, nothing was taught and no broken loop paged
    "new_station": (24, None, [s for s in SENSORS if not s.startswith("S06")], NEXT_DAY,
                    "left out: S06_flow (no reading in them), S06_occ (no reading in them), S06_speed (no reading in "
                    "them) — their rules learn from live ticks"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_sensor_faulty_at_the_taught_ticks_end_leaves_the_others_taught(tmp_path, case):
    hours, edit, columns, span, left = CASES[case]
    write(tmp_path / "clean" / "2026-01-04.csv", "2026-01-04T00:00:00Z", hours, seed=3, edit=edit, columns=columns)
    held = {}
    write(tmp_path / "live.csv", "2026-01-05T08:00:00Z", 2, seed=4, edit=lambda v: broken(v, held))
    run = agent_run(tmp_path)
    log = run.stderr
    # the others taught, the sensor left out said once, with its name and why
    assert f"fault rules taught on 480 recorded ticks ({span})" in log, log[-3000:]
    assert log.count(left) == 1, log[-3000:]
    assert "not taught on the recording" not in log
    faults = fault_events(tmp_path)
    raised = [f for f in faults if f["event"] == "fault"]
    stuck = [f for f in raised if f["sensor"] == "S05_speed" and f["kind"] == "stuck"]
    station = [f for f in raised if f["sensor"] == "S04" and f["kind"] == "station"]
    assert stuck and station and set(station[0]["sensors"]) >= {"S04_flow", "S04_speed"}, \
        [(f["sensor"], f["kind"], f.get("sensors")) for f in raised]
    first = parse_time("2026-01-05T08:00:00Z")
    for f in (stuck[0], station[0]):                # judged from the first live tick, as a loop broken live is
        assert parse_time(f["ts"]) <= first + 15 * 60, f
    # the left-out sensor's recorded fault is not carried into live time: it reads normally there, nothing is told
    out = "S06" if case == "new_station" else "S02_speed"
    assert not [f for f in faults if any(s.startswith(out) for s in (f["sensor"], *f.get("sensors", [])))], faults


def _recording(hours: float, tick_s: float = 30.0) -> RecordedTicks:
    count = int(hours * H / tick_s)
    rows = WarmupRows(3, count)
    t0 = parse_time("2026-01-04T00:00:00Z")
    for k in range(count):
        rows.append(Row(ts=t0 + k * tick_s, values=np.full(3, float(k % 7)), missing=np.zeros(3, bool),
                        carried=np.zeros(3, bool)))
    return RecordedTicks(rows, warmup_ticks=480, tick_s=tick_s)


def test_a_live_tick_right_after_the_recording_is_taught_on_its_newest_ticks():
    kept = _recording(32)
    last = float(kept.ts[-1])
    first, end = kept.span(last + 30.0, follows_s=H)
    assert (end, end - first) == (kept.ts.size, 480)                # before: the same time a day earlier
    first, end = kept.span(last + 8 * H, follows_s=H)               # later in the day: its time of day, a day before
    assert iso(float(kept.ts[end - 1])) == iso(last + 8 * H - 86400.0)
