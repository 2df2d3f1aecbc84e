"""The fault rules taught on `warmup.replay`'s recording before the first live tick.

The rules learn what is normal for each sensor (its level, its tick-to-tick change, how often it repeats a value
or sits at its floor) from the ticks they see, and before faults12 they saw live ticks only: `warmup.replay` fitted
the scorers and left the fault tracker new. A loop already broken when such a life starts was then never paged:
user27 restarted a roadside unit with a 13th station (the checkpoint refused, the journal's open faults ended
`restart`), and K028_speed, held at 96.5 through the restart, had never moved in the new tracker's eyes — `stuck`
never judges a sensor that never varied (it may be a setpoint) — and K030, at zeros, had a normal level of 0 —
`dead` never judges a sensor usually at its floor. Both faults stayed unpaged.

Here a new tracker observes the recording's newest ticks — as many as a warm-up on live traffic would have shown
it (`warmup.ticks`), and at least MIN_TICKS (stuck's repeat statistics are learned over 240) — its events dropped (they are of the recording's past, told to no one),
then takes the live ticks after a gap (`after_gap`: the first live step is no tick's change). A fault still open
at the recording's end (a recording that was not all normal) would be carried into live time untold: then the
rules start new, as before, and the log says why.
"""
from __future__ import annotations

from typing import Callable

from ..window import Row
from .tracker import FaultTracker

MIN_TICKS = 480             # the fewest recorded ticks observed (2 × stuck.py's MIN_HORIZON_TICKS), when there are


def taught_on_recording(new_tracker: Callable[[], FaultTracker], rows,
                        warmup_ticks: int) -> tuple[FaultTracker | None, str]:
    """A new tracker that observed the newest max(warmup_ticks, MIN_TICKS) ticks of `rows` (agent/warmup.py
    WarmupRows), and what to log; None when a fault was still open at the recording's end (then a new tracker
    learns from live ticks, as before)."""
    tracker = new_tracker()
    n = len(rows)
    if not n or not tracker.rules:
        return None, ""
    first = max(0, n - max(int(warmup_ticks), MIN_TICKS))
    ts, values, missing, carried = rows.ts, rows.values, rows.missing, rows.carried
    judged = 0
    for k in range(first, n):
        judged += sum(ev.event == "fault" for ev in tracker.observe(
            Row(ts=float(ts[k]), values=values[k].copy(), missing=missing[k].copy(), carried=carried[k].copy())))
    still = sorted(name for name, kind in zip(tracker.names, tracker.kind) if kind)
    if still:
        return None, (f"fault rules: not taught on the recording — {', '.join(still)} judged faulty at its end; "
                      f"they learn from live ticks (a sensor broken since the start is not judged until it moves)")
    tracker.raised = {k: 0 for k in tracker.raised}      # (the recording's faults were told to no one)
    tracker.after_gap()
    return tracker, (f"fault rules taught on the recording's newest {n - first:,} ticks"
                     + (f" ({judged} fault(s) judged there, ended there, told to no one)" if judged else ""))
