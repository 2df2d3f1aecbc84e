"""A clean restart of a live agent must not page the control room (qa17, from user3's journal).

SIGTERM, start again a few seconds later on the same state_dir (a config reload, an upgrade): the
checkpoint's last tick is a few seconds behind the first live record. That gap is the agent's own
downtime. The old code took it for a move of the data's time base (WARNING `time base moved: the
data jumped +7 s`, `time_base_moves.forward` counted — README tells operators to alert on it) and
closed the ticks it did not run as an outage: every sensor a `missing` fault (fault + fault_end to
every subscriber). Now it is a restart gap, said once at INFO with its length and counted on its
own; a sensor that stays silent after the restart still becomes `missing`, and a jump of the data
while the agent runs is still a time-base move."""
from __future__ import annotations

import time

import numpy as np

from agent.alerts import iso
from agent.records import Record, Rejects
from agent.window import Aligner
from udp_lives import restart

def test_a_clean_restart_is_a_restart_gap_not_a_time_base_move_nor_missing_sensors(tmp_path):
    # On the old code: `time base moved: the data jumped +2 s` and a `missing` fault for every sensor.
    err, after = restart(tmp_path, silent_after=set())
    assert "checkpoint" in err and "loaded" in err, err[-3000:]
    assert "time base moved" not in err, err[-3000:]
    summary = [line for line in err.splitlines() if line.startswith("summary:")][-1]
    assert "time base moved" not in summary and "sensor faults 0 " in summary, summary
    # health (and so the summary line) carries the gap, as Prometheus does: a fleet that reads only
    # the status topic sees the gateway was down (review13: it was counted in /metrics alone)
    assert "restart gap skipped: " in summary, summary
    assert after == [], after
    # The restart gap's own line (agent/restart_gap.py): on a loaded machine the first run may also have an alert
    # open at the stop and the downtime outgrow the window, whose line "alert … was open across a restart gap
    # longer than the window" is another message (found with six busy loops: 2 lines where 1 was expected).
    said = [line for line in err.splitlines() if "restart gap: " in line and not line.startswith("summary:")]
    assert len(said) == 1 and " INFO " in said[0], said
    assert "the agent's own downtime" in said[0], said


def test_a_downtime_longer_than_the_window_refills_it_before_the_next_score(tmp_path):
    """Fails on the code before this test: with the downtime skipped (no outage rows), the first
    score after a restart down longer than the window (16 ticks) was made on a window joining the
    ticks before the downtime to the new one as if adjacent; it now refills first, and says so."""
    err, after = restart(tmp_path, silent_after=set(), down_ticks=40)
    assert "time base moved" not in err and after == [], err[-3000:]
    first = [line for line in err.splitlines() if ": first tick " in line]
    assert first and "the restart gap (" in first[0] and "was longer than the window; the window refills for" \
        in first[0], first


def test_a_sensor_silent_after_the_restart_is_still_missing(tmp_path):
    err, after = restart(tmp_path, silent_after={"b_y"})
    assert "time base moved" not in err, err[-3000:]
    raised = [(e["sensor"], e["kind"]) for e in after if e["event"] == "fault"]
    assert raised == [("b_y", "missing")], after


def live(ts: float, now: float) -> Record:
    return Record(ts=ts, values={"a": 1.0, "b": 2.0}, origin="udp", received=now)


def test_a_jump_of_the_data_after_the_restart_gap_is_still_a_time_base_move():
    first = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    t0 = time.time() - 600
    for i in range(30):
        first.push(live(t0 + i, t0 + i))
    state = first.state_dict()
    again = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    again.restore(state)
    rows = []
    t1 = t0 + 29 + 40                   # the agent was down 40 s
    for i in range(10):
        rows += again.push(live(t1 + i, t1 + i))
    assert again.restart_gaps == 1 and not again.moves, (again.restart_gaps, again.moves)
    gap = again.last_restart_gap            # on health: the 39 ticks between t0 + 29 and t1 not run
    assert gap is not None and gap["skipped_s"] == 39.0 and gap["to"] == iso(again.tick_of(t1)), gap
    # the last run's open ticks close, then the first new tick: none for the 40 s the agent was down
    ticks = [again.tick_of(r.ts) for r in rows]
    assert ticks and not [k for k in ticks if again.tick_of(t0 + 29) < k < again.tick_of(t1)], ticks
    assert not np.any([r.missing.any() for r in rows])
    t2 = t1 + 10 + 120                  # the device's clock jumps 2 min ahead while the agent runs
    for i in range(10):
        rows += again.push(live(t2 + i, t2 + i - 120))
    assert again.moves == {"forward": 1} and again.restart_gaps == 1, (again.moves, again.restart_gaps)


def test_no_data_after_a_restart_closes_the_ticks_as_an_outage_once_the_wait_is_over():
    first = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    t0 = time.time() - 600
    for i in range(30):
        first.push(live(t0 + i, t0 + i))
    again = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    again.restore(first.state_dict())
    start = t0 + 29 + 40                # the agent is up again; its sensors send nothing
    assert again.flush_until(start) == []           # waiting the aligner's reach for the first data
    rows = again.flush_until(start + again.reach_ticks + 1)
    assert rows and rows[-1].missing.all() and again.restart_gaps == 0, [r.ts for r in rows[-3:]]


def test_data_back_after_a_silence_the_clock_closed_is_no_time_base_move():
    """Fails on the code before this test: every sensor silent for a minute while the agent runs (a
    sender restarted, the network down), then back on time — the wall clock had closed the minute as
    an outage, yet the first record back was taken for a jump of the data's time base (WARNING `time
    base moved: the data jumped +1.0 min`, `forward` counted, which README tells operators to alert
    on). A device clock that does jump while the data flows is still a move."""
    al = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    t0 = time.time() - 600
    rows = []
    for i in range(30):
        rows += al.push(live(t0 + i, t0 + i)) + al.flush_until(t0 + i - 1.5)
    for i in range(30, 90):             # a minute with nothing: the wall clock closes its ticks
        rows += al.flush_until(t0 + i - 1.5)
    silent = [r for r in rows if r.missing.all()]
    assert len(silent) > 50, len(silent)            # the outage is there, as missing ticks
    for i in range(90, 100):
        rows += al.push(live(t0 + i, t0 + i)) + al.flush_until(t0 + i - 1.5)
    assert not al.moves, al.moves
    back = [r for r in rows if r.ts >= t0 + 90]
    assert back and not any(r.missing.any() for r in back), [r.ts for r in back]
    t2 = t0 + 100 + 120                 # now the device's clock jumps 2 min ahead while the data flows
    for i in range(10):
        rows += al.push(live(t2 + i, t2 + i - 120)) + al.flush_until(t2 + i - 120 - 1.5)
    assert al.moves == {"forward": 1}, al.moves
