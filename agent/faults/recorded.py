"""The fault rules taught on `warmup.replay`'s recording before the first live tick.

The rules learn what is normal for each sensor (its level, its tick-to-tick change, how often it repeats a value
or sits at its floor) from the ticks they see, and before faults12 they saw live ticks only: `warmup.replay` fitted
the scorers and left the fault tracker new. A loop already broken when such a life starts was then never paged:
user27 restarted a roadside unit with a 13th station (the checkpoint refused, the journal's open faults ended
`restart`), and K028_speed, held at 96.5 through the restart, had never moved in the new tracker's eyes — `stuck`
never judges a sensor that never varied (it may be a setpoint) — and K030, at zeros, had a normal level of 0 —
`dead` never judges a sensor usually at its floor. Both faults stayed unpaged.

Here, at the first live tick, a new tracker observes as many recorded ticks as a warm-up on live traffic would have
shown it (`warmup.ticks`, at least MIN_TICKS: stuck's repeat statistics are learned over 240), its events dropped
(they are of the recording's past, told to no one), then takes the live ticks after a gap (`after_gap`: the first
live step is no tick's change). Those ticks end at the first live tick's time of day on the newest recorded day
that has it: the rules' normal is of the last hour or so, and a recording's newest ticks are often its midnight —
taught on them, an afternoon's first live ticks were `spike`s (a flow's step 9× its night step, on user27's files).
A recording shorter than that, a first live tick before it ends or within `faults.learn_s` (an hour) after it,
gives its newest ticks (faults14: a live tick right after the recording was taught on the same hours a day earlier).
A fault still open at the end of those ticks (a recording not all normal, or a sensor it has no column of: a station
added since, README's "Adding a station") would be carried into live time untold: that sensor is left out — the
rules taught again with its readings unseen — and the log names it and why. Before (faults14), one such sensor left
every sensor's rules untaught: with a station added, the recording's missing columns did, in faults12's own case.
Left out altogether, it meets the live ticks as a sensor never read, so a loop broken through the start (held, or at
zeros) was never judged while it stayed so: the rules had never seen it vary or leave its floor. So (faults15) one
the first live tick reads as the last taught tick did (the same value, or no reading in both) is left out only from
its fault's start: taught on its readings before, it is judged on the live ticks as a loop that broke live is. One
that reads otherwise (repaired since: its normal of hours before would be stale — a first build that taught every
such sensor so paged a repaired loop's morning step a `spike` against its night-time normal) or has no reading
before its fault (no column) is left out altogether, as before. What is kept until the first live tick: at most a
day and a warm-up of the recording's rows, and never more than MAX_KEPT rows nor KEPT_BYTES (else its newest ticks alone, as many as fit:
faults13 — before, a `warmup.ticks` over MAX_KEPT kept that many, unbounded). A row is 10 bytes a sensor and 8 (its
time): 18 sensors at 30-s ticks keep a day and a warm-up of 2,880, 5,760 rows, 1.1 MB (the demo with a recording:
peak RSS +1.1–1.3 MiB, docs/measured/faults.md's faults13 round), freed at the first live tick.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..alerts import iso
from ..window import Row
from .tracker import FaultTracker

MIN_TICKS = 480             # the fewest recorded ticks observed (2 × stuck.py's MIN_HORIZON_TICKS), when there are
MAX_KEPT = 20_000           # recorded rows kept until the first live tick, at most
KEPT_BYTES = 4 << 20        # …and their bytes, at most (n sensors: 10 n + 8 a row)
DAY_S = 86400.0
MAX_PASSES = 4           # teachings, each leaving out the sensors still faulty at the last one's end
ALIVE_ROWS = 256         # while taught, `alive` is called this often (rows): the watchdog is pinged (faults15)


class RecordedTicks:
    """The recording's rows the rules may be taught on (copies: the warm-up's fit gives the rows back), until the
    first live tick says which of them (`taught`)."""

    def __init__(self, rows, warmup_ticks: int, tick_s: float):
        n, sensors = len(rows), np.shape(rows.values)[1]
        cap = max(MIN_TICKS, min(MAX_KEPT, KEPT_BYTES // (10 * sensors + 8)))
        self.ticks = min(max(int(warmup_ticks), MIN_TICKS), cap)
        day = self.ticks + int(np.ceil(DAY_S / tick_s))
        keep = min(n, day if day <= cap else self.ticks)
        self.ts = np.array(rows.ts[n - keep:], float)
        self.values = np.array(rows.values[n - keep:], float)
        self.missing = np.array(rows.missing[n - keep:], bool)
        self.carried = np.array(rows.carried[n - keep:], bool)

    def span(self, live_ts: float, follows_s: float = 0.0) -> tuple[int, int]:
        """The kept rows [first, end) to teach on: `ticks` of them ending at `live_ts`'s time of day on the newest
        recorded day that has it (whole days before it), else the newest — and the newest when `live_ts` follows
        the recording's last tick within `follows_s` (faults14: a live tick right after the recording was taught on
        the same time of day a day earlier, its own last hour passed over)."""
        n = self.ts.size
        end = n
        if n and live_ts - self.ts[-1] > follows_s:
            at = live_ts - np.ceil((live_ts - self.ts[-1]) / DAY_S) * DAY_S    # (≤ the recording's last tick)
            k = int(np.searchsorted(self.ts, at, side="right"))
            if k >= min(self.ticks, n):
                end = k
        return max(0, end - self.ticks), end

    def taught(self, new_tracker: Callable[[], FaultTracker], live: Row,
               alive: Callable[[str | None], None] | None = None) -> tuple[FaultTracker | None, str]:
        """A new tracker taught on `span(live.ts)` (`live`: the first live tick), and what to log; None when nothing is to be taught, or when
        every sensor was judged faulty at its end (then the rules learn from live ticks, as before).

        `alive(status)` is called as each teaching starts (what it does) and every ALIVE_ROWS ticks (None): the
        agent pings its watchdog there. Teaching is the first live tick's, after READY=1, where systemd's watchdog
        (WatchdogSec=30) and no start timeout applies: 20,000 ticks of 8 sensors took 1.7 s CPU a teaching here
        (bench/faults.py teach-cost), up to MAX_PASSES of them, and a gateway's CPU is several times slower —
        before (faults15), a loop that pinged nothing for that long would be killed as hung.

        A sensor judged faulty at the span's end is left out (its fault would be carried into live time untold):
        the rules are taught again with its readings unseen (carried, neither observed nor missing: no rule judges
        or learns it) — from its fault's start when the first live tick `live` reads it as the span's last tick did
        (the same value, or no reading in both: a loop held or at zeros through the start), so it is judged on the
        live ticks from what it read before (faults15: before, a loop broken through the start was never judged
        while it stayed so); altogether otherwise (repaired since: its normal of hours before its fault would be
        stale, a `spike` on its first live steps), or with no reading before its fault's start — while the others
        are taught (faults14: before, one such sensor left every sensor untaught). Left out in turn, until none is
        faulty at the end (at most MAX_PASSES teachings)."""
        tracker = new_tracker()
        first, end = self.span(live.ts, tracker.cfg.learn_s if tracker.rules else 0.0)
        if end <= first or not tracker.rules:
            return None, ""
        last, now = self.values[end - 1], np.asarray(live.values, float)
        continues = np.where(self.missing[end - 1] | np.asarray(live.missing, bool),
                             self.missing[end - 1] & np.asarray(live.missing, bool), last == now)
        unseen_from = np.full(len(tracker.names), end)     # each sensor's readings unseen from this row on
        why: dict[str, str] = {}
        for teaching in range(MAX_PASSES):
            if teaching:
                tracker = new_tracker()
            judged = self._teach(tracker, first, end, unseen_from, alive, (
                f"teaching the fault rules on {end - first:,} recorded ticks" if not teaching else
                f"teaching the fault rules again on {end - first:,} recorded ticks, {int((unseen_from < end).sum())} "
                f"sensor(s) left out (teaching {teaching + 1} of at most {MAX_PASSES})"))
            still = [i for i, kind in enumerate(tracker.kind) if kind]
            if not still:
                break
            for i in still:
                at = int(np.searchsorted(self.ts, tracker.start[i], side="left"))
                began = at if at < unseen_from[i] and continues[i] else first   # (else altogether: see above)
                unseen_from[i] = began if began > first and not self.missing[first:began, i].all() else first
                why[tracker.names[i]] = ("no reading in them" if self.missing[first:end, i].all() else
                                         f"judged {tracker.kind[i]} since {iso(float(tracker.start[i]))} at their end")
            if (unseen_from <= first).all():
                break
        if still:
            return None, (f"fault rules: not taught on the recording — {', '.join(why)} judged faulty at the end of "
                          f"its ticks, or no reading in them; they learn from live ticks (a sensor broken since the "
                          f"start is judged once it moves, or `never_varied` after faults.learn_s of one value)")
        tracker.raised = {k: 0 for k in tracker.raised}      # (the recording's faults were told to no one)
        tracker.stations.take_rewritten()       # (nor its joins and hand-overs: not for the fault journal, faults15)
        tracker.after_gap()
        said = (f"fault rules taught on {end - first:,} recorded ticks ({iso(float(self.ts[first]))} to "
                f"{iso(float(self.ts[end - 1]))})"
                + (f"; {judged} fault(s) judged and ended there, told to no one" if judged else ""))
        index = {name: i for i, name in enumerate(tracker.names)}
        before = [name for name in why if unseen_from[index[name]] > first]
        never = [name for name in why if unseen_from[index[name]] <= first]
        if before:
            said += ("; left out: " + ", ".join(f"{name} ({why[name]})" for name in before)
                     + f" from then on — taught on {'its' if len(before) == 1 else 'their'} readings before it, "
                       f"{'it is' if len(before) == 1 else 'they are'} judged on live ticks as a loop that broke live")
        if never:
            said += ("; left out: " + ", ".join(f"{name} ({why[name]})" for name in never)
                     + f" — {'its' if len(never) == 1 else 'their'} rules learn from live ticks (a sensor broken since "
                       "the start is judged once it moves, or `never_varied` after faults.learn_s of one value)")
        return tracker, said

    def _teach(self, tracker: FaultTracker, first: int, end: int, unseen_from: np.ndarray,
               alive: Callable[[str | None], None] | None, status: str) -> int:
        """`tracker` fed rows [first, end), each sensor's readings unseen from its `unseen_from` row on; the faults it
        raised. `alive`: called with `status` first, then every ALIVE_ROWS rows (`taught`)."""
        judged = 0
        unseen = bool((unseen_from < end).any())
        for k in range(first, end):
            if alive is not None and (k - first) % ALIVE_ROWS == 0:
                alive(None if k > first else status)
            missing, carried = self.missing[k].copy(), self.carried[k].copy()
            if unseen:
                out = unseen_from <= k
                missing &= ~out
                carried |= out
            judged += sum(ev.event == "fault" for ev in tracker.observe(
                Row(ts=float(self.ts[k]), values=self.values[k].copy(), missing=missing, carried=carried)))
        return judged
