"""The pipeline when its ticks' time is not continuous: a restart's gap, the time base moved back, this host's
clock stepped.

Why this is a seam of the pipeline (agent/pipeline.py): on these ticks what was learned must go on as if
time had run on — an open alert is continued or ended by the gap, the window is refilled when what it
holds is from another time, and the times the learned state keeps move with a step of the time base, else
every clock compared with them (a fault's hold, the threshold's quiet time) would run out or stand still
across it (review22, review23). The daemon's restart (agent/resume.py) and the aligner's rows (Row.rebased_from,
Row.clock_moved_s) bring them; the pipeline's public `rebase`, `after_restart` and `step` call these, which
act on it through its own methods and parts.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from .records import span

if TYPE_CHECKING:
    from .alerts import AlertEvent
    from .pipeline import Pipeline, TickResult
    from .window import Row

log = logging.getLogger("stad.pipeline")     # (the pipeline's own lines, as before the split)


def step_rebased(p: Pipeline, row: Row) -> TickResult:
    """The first tick of a time base the data stepped back to (Row.rebased_from, Aligner)."""
    ended = p.rebase(row.rebased_from, row.ts)
    res = p.step(replace(row, rebased_from=None))     # (not changed: the evaluator steps a row per scorer)
    res.alerts[:0] = ended
    res.times_moved_s = rebase_delta(p.cfg.tick_s, row.rebased_from, row.ts)
    return res


def step_clock_moved(p: Pipeline, row: Row) -> TickResult:
    """The first tick after a step of this host's clock the data moved with (Row.clock_moved_s, the
    aligner): no time passed, so the times the state keeps move with the step — else every timer on them
    ran out across a step forward (the threshold's quiet time after a peak ended, an alert open since the
    old clock's start was 'accepted', learned as normal: its alert ended `cleared` mid-incident; review22)
    or stood still for as long as a step back. The open alert's `start` moves too: on the corrected clock
    that is when it began. The window and the alert go on (a step back of the data itself: `rebase`)."""
    moved = p._shift_times(row.clock_moved_s)
    log.info("this host's clock step: %d part(s) of the learned state keeping times moved %s with it", moved,
             span(row.clock_moved_s, signed=True))
    res = p.step(replace(row, clock_moved_s=None))
    res.times_moved_s = row.clock_moved_s     # (a candidate in shadow moves with it: HotSwap.on_tick)
    return res


def rebase(p: Pipeline, old_ts: float, new_ts: float) -> list[AlertEvent]:
    """The time base moved back (the data stepped back, Aligner; or the host clock, since the
    checkpoint was written): `old_ts` the last tick of the old base, `new_ts` the first of the new.
    The learned state is kept; the window refills before the next score, and the fault rules take no reading
    after the step for the tick after one before it (FaultTracker.after_gap: a level that moved while a gateway
    without a real-time clock was off after a power cut, booted behind its checkpoint, was a `spike`); an open alert ends
    ('restart', its gap unknown); state that holds times of the old base is moved with it, as
    if the new base continued the old one — else a clock compared with it (a fault's hold, the
    threshold's quiet time) would stand still for as long as the step. The alert ends first, on
    the old base's last tick: its `end` event keeps the `start` its `new` published, and its `end`
    and `ts` are times of the base it was judged on (moved, they named times before the alert began;
    on the new base's first tick, `ts` would precede `start`)."""
    p.refill_window()
    p.health.after_gap()        # nor is the next reading one tick after the last (review35: a false spike)
    # (the hot swap's recent ticks are kept, moved with the rest below: the refill's ticks go in not calm,
    # so no window across the join is fitted on — emptied, a swap soon after ran raw; review23)
    ended = p.after_restart(old_ts, None)
    delta = rebase_delta(p.cfg.tick_s, old_ts, new_ts)
    if delta is not None:
        p._shift_times(delta)
    return ended


def rebase_delta(tick_s: float, old_ts: float, new_ts: float) -> float | None:
    """The seconds `rebase` moves the learned state's times by (None: it moves none)."""
    delta = new_ts - tick_s - old_ts
    return delta if delta < 0 else None


def after_restart(p: Pipeline, ts: float, gap_s: float | None, skipped: bool = False) -> list[AlertEvent]:
    """The first new tick after a restart; `gap_s`: seconds of ticks the restored state has not seen
    (None: unknown, the clock was stepped back). An open alert is continued — its next event says
    the gap — unless the gap is longer than the window or unknown and not skipped: nothing of what
    raised it is left to judge it by, so it ends ('restart'). `skipped`: the aligner skips those ticks (live data
    after the agent's own downtime: no outage rows); a gap longer than the window then refills it
    before the next score, which would otherwise join ticks from before the downtime to the new
    ones as if adjacent. (Closed as an outage instead — a recording, or no live data within the
    aligner's wait — the window holds the outage's rows: the data is scored at once.)
    The gap is compared in whole ticks: a difference of epoch stamps on a 0.1-s tick is a few ulps
    off, and a gap of exactly the window would be 'longer' or not by the second it happened.
    A skipped gap longer than the window (and known) does not end the alert at once: the window
    refilled, the alert is judged from its first score by the rules that end a live alert
    (AlertTracker.resumed `refilled`) — above the threshold it goes on, `clear_ticks` calm ticks in a row
    before any above end it `restart` (clock25: ended at once, an incident that lasted across a kill -9 a
    few minutes after the last checkpoint paged twice; clock27: judged on the first score alone, one calm
    tick of an incident still on did)."""
    longer = gap_s is None or round(gap_s / p.cfg.tick_s) > p.window.steps
    if skipped and (gap_s is None or round(gap_s / p.cfg.tick_s) >= 1):
        p.health.after_gap()        # the next readings are not one tick after the last ones (user23's false spike)
    if longer and skipped:
        p.refill_window(after=ts)
    if not p.alerts.active:
        return []
    refilled = longer and skipped and gap_s is not None and p.refill > 0
    if longer and not refilled:
        thr = p.thresholds[p.chain.tier]
        return [p.alerts.end_at_restart(ts, thr.value, p.chain.tier, p.chain.current.describe, gap_s)]
    p.alerts.resumed(gap_s, refilled)
    if refilled:
        log.info("alert %s was open across a restart gap longer than the window (%s unseen): judged from the first "
                 "score after the window refills (%d ticks) as a live alert is — it goes on unless %d calm ticks in a "
                 "row end it (reason restart)", p.alerts.open.alert_id, span(p.alerts.open.gap_s), p.refill,
                 p.alerts.cfg.clear_ticks)
    return []
