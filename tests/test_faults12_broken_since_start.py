"""faults12: a loop already broken when a life starts that warms up on `warmup.replay` is paged (user27: a roadside
unit restarted with a 13th station, the checkpoint refused and the open faults ended `restart`; K028_speed, held at
96.5, and K030, at zeros, through the restart were not paged again in the new life). The fault rules had learned
from live ticks only: a speed frozen since the first live tick had never varied (`stuck` leaves such a sensor alone:
a setpoint?) and a station at zeros since then had a normal level of 0 (`dead` leaves a sensor usually at its
floor alone). Now the rules are taught on the recording at the first live tick (agent/faults/recorded.py).

A real `python -m agent run` on real files: a clean day of the corridor simulator as `warmup.replay`, then two live
hours (a replay source) in which S05_speed holds one value and S04's three loops read 0 from the first tick. The
fault events are read from the jsonl sink and checked against the schema."""
from __future__ import annotations

import subprocess
from pathlib import Path


from agent.sources.lines import parse_time
from recorded_warmup import SENSORS, agent_run, broken, fault_events, write


def _paged(tmp_path: Path, run: subprocess.CompletedProcess) -> None:
    """The broken loops paged within minutes of the first live tick (08:00), the rules taught as they should be."""
    # taught on a warm-up's worth of the recording ending at the first live tick's time of day (08:00), not on its
    # newest ticks (its midnight): on user27's files those made an afternoon's first flow steps `spike`s
    assert "fault rules taught on 480 recorded ticks (2026-01-04T04:00:30.000Z to 2026-01-04T08:00:00.000Z)" \
        in run.stderr, run.stderr[-3000:]
    faults = fault_events(tmp_path)
    raised = [f for f in faults if f["event"] == "fault"]
    stuck = [f for f in raised if f["sensor"] == "S05_speed" and f["kind"] == "stuck"]
    assert stuck, [(f["sensor"], f["kind"]) for f in raised]
    station = [f for f in raised if f["sensor"] == "S04" and f["kind"] == "station"]
    assert station and set(station[0]["sensors"]) >= {"S04_flow", "S04_speed"}, \
        [(f["sensor"], f["kind"], f.get("sensors")) for f in raised]
    # paged within minutes of the first live tick, as a loop that broke while the agent ran is
    first = parse_time("2026-01-05T08:00:00Z")
    for f in (stuck[0], station[0]):
        assert parse_time(f["ts"]) <= first + 15 * 60, f


def test_loops_broken_before_a_warm_up_on_a_recording_are_paged_in_the_new_life(tmp_path):
    write(tmp_path / "clean" / "2026-01-04.csv", "2026-01-04T00:00:00Z", 24, seed=3)
    held = {}
    write(tmp_path / "live.csv", "2026-01-05T08:00:00Z", 2, seed=4, edit=lambda v: broken(v, held))
    _paged(tmp_path, agent_run(tmp_path))


def test_a_stop_between_the_warm_up_and_the_first_live_tick_leaves_no_untaught_rules_behind(tmp_path):
    """faults12 named a gap: a checkpoint written between the warm-up on the recording and the first live tick
    (where the rules are taught) would hold rules never taught, and the recording's rows are not in it. No
    checkpoint is written before a life's first tick (agent/resume.py `save_checkpoint`: nothing to write at 0
    ticks), at a stop or at checkpoint_s, so a restart in that gap warms up on the recording again and teaches the
    rules at its own first live tick: here a first life whose live source had no rows stops (input ended), and the
    next life, its source now the broken loops, pages them as a life that never stopped."""
    write(tmp_path / "clean" / "2026-01-04.csv", "2026-01-04T00:00:00Z", 24, seed=3)
    (tmp_path / "live.csv").write_text("timestamp," + ",".join(SENSORS) + "\n")
    first = agent_run(tmp_path)
    assert "warm-up done: 2880 ticks" in first.stderr and "fault rules taught" not in first.stderr, first.stderr[-3000:]
    assert not [p.name for p in (tmp_path / "state").iterdir() if "checkpoint" in p.name]
    held = {}
    write(tmp_path / "live.csv", "2026-01-05T08:00:00Z", 2, seed=4, edit=lambda v: broken(v, held))
    second = agent_run(tmp_path)
    assert "warm-up done: 2880 ticks" in second.stderr, second.stderr[-3000:]      # (on the recording again)
    _paged(tmp_path, second)
