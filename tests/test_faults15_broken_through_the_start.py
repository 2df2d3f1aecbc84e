"""faults15: a sensor judged faulty at the end of the `warmup.replay` ticks the fault rules are taught on, and still
broken when the live ticks begin, is paged. faults14 left such a sensor out of the teaching altogether (its readings
unseen), so it met the live ticks as a sensor never read: `stuck` never judges a sensor that never varied (it may be
a setpoint) and `dead` never one usually at its floor — it was judged only once it moved, i.e. never while it stayed
broken. A restart of a gateway whose loop froze an hour before (a new release, a checkpoint refused) silenced that
loop for good. Now it is left out only from its fault's start: taught on its readings before, it is judged on the live
ticks as any sensor whose fault began live.

A real `python -m agent run` on real files: the corridor simulator's recording, 32 hours ending at 08:00 with
S02_speed held at one value and S04's loops reading 0 from 06:00, then two live hours from the next tick, both still
so; S05 frozen from the first live tick as the loop broken live it is judged like (tests/recorded_warmup.py)."""
from __future__ import annotations

from agent.sources.lines import parse_time
from recorded_warmup import agent_run, fault_events, write

FIRST_LIVE = "2026-01-05T08:00:00Z"


def _broken_from(k0: int | None, held: dict):
    """An edit: from the k0-th record on (None: from the first), S02_speed held at its value then, S04 at zeros."""
    seen = {"k": 0}

    def edit(values):
        k, seen["k"] = seen["k"], seen["k"] + 1
        if k0 is None or k >= k0:
            held.setdefault("S02_speed", values["S02_speed"])
            values["S02_speed"] = held["S02_speed"]
            for q in ("flow", "occ", "speed"):
                values[f"S04_{q}"] = 0.0
    return edit


def test_a_sensor_broken_at_the_recordings_end_and_still_broken_live_is_paged(tmp_path):
    held = {}
    write(tmp_path / "clean" / "2026-01-04.csv", "2026-01-04T00:00:00Z", 32, seed=3, edit=_broken_from(30 * 120, held))
    write(tmp_path / "live.csv", FIRST_LIVE, 2, seed=4, edit=_broken_from(None, held))
    log = agent_run(tmp_path).stderr
    raised = [f for f in fault_events(tmp_path) if f["event"] == "fault"]
    first = parse_time(FIRST_LIVE)
    # before: neither paged in the two live hours
    stuck = [f for f in raised if f["sensor"] == "S02_speed"]
    assert [f["kind"] for f in stuck] == ["stuck"], raised
    station = [f for f in raised if "S04" in (f["sensor"], f["group"])]
    assert station and set(station[0].get("sensors") or [station[0]["sensor"]]) >= {"S04_flow", "S04_speed"}, raised
    for f in (stuck[0], station[0]):        # as soon as a loop broken live is judged (stuck_s, dead's wait)
        assert parse_time(f["ts"]) <= first + 15 * 60, f
    said = next(line for line in log.splitlines() if "fault rules taught on 480 recorded ticks" in line)
    assert "left out: S02_speed (judged stuck since 2026-01-05T06:0" in said, said
    assert "taught on their readings before it" in said, said      # (and judged on live ticks)


def test_a_loop_repaired_by_the_first_live_tick_is_still_left_out_altogether(tmp_path):
    """The same recording, the loops repaired when the live ticks begin: nothing told of them. faults15's first
    build (left out from the fault's start whatever the live tick read) paged S04_occ a `spike` on its second live
    tick here — its normal step learned at night, hours before its fault, against the morning's (seed 11)."""
    held = {}
    write(tmp_path / "clean" / "2026-01-04.csv", "2026-01-04T00:00:00Z", 32, seed=11, edit=_broken_from(30 * 120, held))
    write(tmp_path / "live.csv", FIRST_LIVE, 2, seed=111)
    log = agent_run(tmp_path).stderr
    assert "left out: S02_speed (judged stuck since 2026-01-05T06:0" in log, log[-3000:]
    told = [f for f in fault_events(tmp_path) if f["sensor"] in ("S02_speed", "S04") or f["group"] == "S04"]
    assert told == [], told
