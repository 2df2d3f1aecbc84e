"""The live data's pace: where a live sender's stamps stand to this host's clock, and how fast they move.

Why a part of its own: the aligner's clock rules (agent/timebase.py, agent/restart_gap.py) must tell a sender that
went on while nothing came — back after a silence, or the first data after a restart — from one whose clock
jumped. Data stamped near this host's clock goes on with it; a sender on a clock of its own, or a recording piped
in at 10×, does not, and was taken for a jump of the data (its ticks missing, a `source` fault, the open alert
ended: qa33). So the aligner notes each live record it takes (`note_live`): its stamp minus its arrival and the
pace of its stamps per second of arrivals, measured over a sliding window; a record is then in the live data's
pace (`_in_live_pace`) when it stands where that offset and pace put it, within a short step. The pace is kept in
the checkpoint (`pace_state`, `pace_in`, `restore_pace`): a restart's first data is judged by it.

A receiver's backlog delays arrivals and never advances them: a sender silent for S seconds while this host was
S or more seconds behind (a broker's queue after a publisher flood) has its first record after the silence come
right behind its last one before it, its stamp − arrival S seconds higher — read as a jump of S (mqttsrc3: the
+3–4 s forward moves of the chaos floods). So a record is in pace too when its stamp − arrival lies between the
last live record's and the highest of the last PACE_WINDOW_S of arrivals (`_offset_tops`: where the sender
stands when nothing delays it), within a short step: the backlog drained — for a sender whose undelayed stamps
stand within OFFSET_SAID_S of this host's clock (the measured pace is the backlog's then, and a sender at a pace
of its own drifts away from this host's clock). A sender's clock that jumps forward by less than the backlog it is
read with is then not said (its ticks are missing all the same).

`LivePace` is a base of `timebase.TimeBaseRules` (and so of `window.Aligner`): `_init_pace` sets up its state;
`_in_live_pace` reads the aligner's `reach_ticks` and `tick_s` (a short step of the data). The time base's moves
start the pace's measure afresh (TimeBaseRules.note_move), and the rules read `live_offset` for the sign of
life's silence and a step of this host's clock.
"""
from __future__ import annotations

import logging
from collections import deque

from .json_read import finite_number
from .alert_events import iso
from .records import Record, sensors_said, span

log = logging.getLogger("stad.aligner")     # the rules speak as the aligner they are part of

#: A live record stamped further than this from this host's clock (`window.max_clock_skew_s`'s default) is
#: rejected ('clock skew'); the rules read a live sender within it as stamped near this host's clock.
DEFAULT_MAX_CLOCK_SKEW_S = 300.0


def near_host_clock_s(max_clock_skew_s: float) -> float:
    """How far from this host's clock a live sender's stamps may be and still be read as stamped with that clock
    (the time base's live rule, the restart gap's silence, the resume's clock-step check): the skew bound, or its
    default where the bound is 0 (live records not checked)."""
    return max_clock_skew_s or DEFAULT_MAX_CLOCK_SKEW_S
#: The live data's pace (its stamps' seconds per second of this host's clock) is measured over at least this
#: many seconds of arrivals; one within SAME_PACE of 1 is this host's (arrival jitter, a sender's clock drift).
PACE_SPAN_S = 5.0
SAME_PACE = 0.05
#: The pace is measured over the last PACE_WINDOW_S / 2 to PACE_WINDOW_S of arrivals (after the first): a burst
#: of queued records (a broker's backlog at a reconnect) sways it for at most that long.
PACE_WINDOW_S = 60.0
#: A sender at another pace is expected where that pace puts it within a short step plus this share of the
#: data time passed (the pace is measured, not known).
PACE_SLACK = 0.02
#: A live sender whose stamps stand at least this far from this host's clock, at this host's pace, for
#: OFFSET_SAID_TICKS ticks' (at least PACE_SPAN_S) worth of arrivals in a row, is said once: its records are taken
#: as stamped (within `window.max_clock_skew_s`), so every alert and fault time is that sender's clock (user24: a
#: loop-detector controller 40 s fast was read without a word, its alerts 40 s ahead of the centre's clocks).
OFFSET_SAID_S = 10.0
OFFSET_SAID_TICKS = 3
OFFSET_STEADY_S = 5.0        # ... and within this of where the run began: a broker's backlog draining moves fast
OFFSET_ORIGINS = 64          # senders followed at once (an mqtt source's origin is its topic)


class LivePace:
    """The live data's offset from this host's clock and its pace (see the module's docstring)."""

    def _init_pace(self, max_clock_skew_s: float) -> None:
        """No live record taken yet; `max_clock_skew_s` (window.max_clock_skew_s) kept here, where `_judge_offset`
        reads it (the rules and the aligner read it too)."""
        self.max_clock_skew_s = float(max_clock_skew_s)   # 0: live records are not checked
        self.live_offset: float | None = None   # the last live record taken: its stamp minus its arrival
        self.live_received: float | None = None   # ... and its arrival (this host's clock)
        self.live_pace = 1.0                      # the live data's stamp seconds per second of this host's clock
        self._pace_from: tuple[float, float] | None = None   # (stamp, arrival) the pace is measured from
        self._pace_next: tuple[float, float] | None = None   # ... from PACE_WINDOW_S of arrivals on
        self._offset_since: dict[str, tuple[float, float]] = {}  # origin -> (arrival, offset) of the run off
        self.offsets_said: dict[str, float] = {}      # origin -> the offset said (`_judge_offset`), until back
        # The highest offset of the live records taken over the last PACE_WINDOW_S of arrivals, as a sliding maximum:
        # (arrival, offset) pairs, offsets decreasing — where the sender stands when no backlog delays it.
        self._offset_tops: deque[tuple[float, float]] = deque()
        self.own_stamps_at: float | None = None   # the arrival of the last live record taken with a stamp of its own

    def note_live(self, rec: Record) -> None:
        """A live record taken (Aligner._take): where its stamp stands to this host's clock, and the live
        data's pace — its stamps' seconds per second of arrivals, measured from the first live record since
        the last move of the time base once PACE_SPAN_S of arrivals lie between, then over a sliding window
        (PACE_WINDOW_S) — a replay piped in at 10× runs at 10; within SAME_PACE of 1 it is 1."""
        self.live_offset, self.live_received = rec.ts - rec.received, rec.received
        if not rec.arrival_stamped:
            self.own_stamps_at = rec.received
        self._note_top(rec.received, self.live_offset)
        self._judge_offset(rec)
        start = self._pace_from
        if start is None or rec.received < start[1]:
            self._pace_from, self._pace_next = (rec.ts, rec.received), None
            return
        span = rec.received - start[1]
        if span >= PACE_SPAN_S:
            pace = (rec.ts - start[0]) / span
            self.live_pace = 1.0 if abs(pace - 1.0) <= SAME_PACE or pace <= 0 else pace
        if span >= PACE_WINDOW_S:           # a sliding window: the next start is half a window old
            self._pace_from, self._pace_next = self._pace_next or (rec.ts, rec.received), (rec.ts, rec.received)
        elif span >= PACE_WINDOW_S / 2 and self._pace_next is None:
            self._pace_next = (rec.ts, rec.received)

    def _arrival_stamp_refused(self, k: int, rec: Record) -> bool:
        """A reading without a stamp of its own (stamped on arrival), not in step with the time base, while the data
        is stamped by its senders (one such record taken within PACE_WINDOW_S of arrivals): no evidence of the
        data's clock — it never starts, joins or confirms a move of the time base; it is counted (`timestamp jump`
        ahead of the data, `late` behind it) and goes. Read behind a broker's backlog, its arrival stands up to the
        backlog ahead of the stamped readings read with it: mqttsrc4's plain `5.0` among stamped readings moved the
        time base forward (taken as the backlog draining) and the stamped ones after it stepped it back (mqttsrc5).
        A step of this host's clock is its own rule (host_clock_step.py): such a reading moves with it as before;
        and where no sender stamps (a feed of plain numbers), arrivals are the data's clock."""
        if not rec.arrival_stamped or self._clock_step is not None or self.own_stamps_at is None \
                or rec.received is None or rec.received - self.own_stamps_at > PACE_WINDOW_S:
            return False
        if self.next_k is not None and k < self.next_k:
            self._late(k, rec)
        elif self.refused_whole(rec):
            self.rejects.add("timestamp jump", rec.origin, lambda: f"ts {iso(rec.ts)} of {sensors_said(rec.values)} "
                             f"({self._from_data(k)}): no ts of its own, stamped "
                             f"as it came, while the data's senders stamp theirs — read behind a broker's backlog, its "
                             f"arrival is no time of its reading (publish it with \"ts\")")
        return True

    def _from_data(self, k: int) -> str:
        """Where tick k is from the data's newest, for a `timestamp jump`'s words: 'no data before it' or '+12 min
        from the data' (here and agent/timebase.py)."""
        return "no data before it" if self.newest_k is None else \
            f"{span((k - self.newest_k) * self.tick_s, signed=True)} from the data"

    def _note_top(self, received: float, offset: float) -> None:
        """The sliding maximum of the live offsets over the last PACE_WINDOW_S of arrivals (`_offset_tops`)."""
        tops = self._offset_tops
        if tops and received < tops[-1][0]:     # this host's clock stepped back: measured afresh
            tops.clear()
        while tops and tops[-1][1] <= offset:
            tops.pop()
        tops.append((received, offset))
        while tops[0][0] < received - PACE_WINDOW_S:
            tops.popleft()

    def _judge_offset(self, rec: Record) -> None:
        """Say once per sender (`rec.origin`) when its stamps stand OFFSET_SAID_S or more from this host's clock
        for OFFSET_SAID_TICKS ticks of arrivals (at least PACE_SPAN_S), steady within OFFSET_STEADY_S — a sender's
        clock off, within the skew bound: taken as stamped —, and when they are back. A broker's backlog at a
        reconnect, whose offset moves as it drains, and live data at another pace (a replay piped in at 10×) are
        not said."""
        off, origin = self.live_offset, rec.origin or "live"
        if abs(off) < OFFSET_SAID_S or self.live_pace != 1.0:
            self._offset_since.pop(origin, None)
            if abs(off) < OFFSET_SAID_S and self.offsets_said.pop(origin, None) is not None:
                log.info("%s: its stamps are back within %.0f s of this host's clock (%+.1f s)",
                         origin, OFFSET_SAID_S, off)
            return
        since = self._offset_since.get(origin)
        if since is None or abs(off - since[1]) > OFFSET_STEADY_S or rec.received < since[0]:
            if since is None and len(self._offset_since) >= OFFSET_ORIGINS:     # bounded: the oldest forgotten
                self._offset_since.pop(next(iter(self._offset_since)))
            self._offset_since[origin] = (rec.received, off)
            return
        if origin in self.offsets_said or rec.received - since[0] < max(PACE_SPAN_S, OFFSET_SAID_TICKS * self.tick_s):
            return
        if len(self.offsets_said) >= OFFSET_ORIGINS:
            self.offsets_said.pop(next(iter(self.offsets_said)))
        self.offsets_said[origin] = off
        skew = self.max_clock_skew_s
        taken = (f"within window.max_clock_skew_s ({skew:.0f} s), so taken as stamped" if skew
                 else "taken as stamped (window.max_clock_skew_s 0)")
        way = "ahead of" if off > 0 else "behind"
        log.warning("%s: its stamps stand %.0f s %s this host's clock (for %.0f s of arrivals): %s — the alert and "
                    "fault times of its readings are that sender's clock; set the sender's clock (NTP) or this "
                    "host's (said once; again after they are back within %.0f s)",
                    origin, abs(off), way, rec.received - since[0], taken, OFFSET_SAID_S)

    def _in_live_pace(self, rec: Record) -> bool:
        """Live, and as far from its arrival as the last live record taken was, within the reach of a short
        step — or, for live data at another pace than this host's (a replay at 10×: its stamp − arrival
        drifts 9 s a second), where that pace from the last live record puts it, within a short step and
        PACE_SLACK of the data time passed. Before the pace was kept, a restart's downtime of a sender at
        another pace was a jump of the data (its offset drifted meanwhile): a `source` fault, the open alert
        ended (qa33). For a sender whose undelayed stamps stand within OFFSET_SAID_S of this host's clock, also a
        record whose offset is back up toward the highest of the last PACE_WINDOW_S (`_offset_tops`), within a
        short step: a backlog drained while the sender was silent (the module's docstring)."""
        if rec.received is None or self.live_offset is None:
            return False
        bound = self.reach_ticks * self.tick_s
        offset = rec.ts - rec.received
        if abs(offset - self.live_offset) <= bound:
            return True
        top = self._offset_tops[0][1] if self._offset_tops else None
        if top is not None and abs(top) <= OFFSET_SAID_S and self.live_offset < offset <= top + bound:
            return True         # (the pace measured meanwhile is the backlog's: not asked)
        if self.live_pace == 1.0 or self.live_received is None:
            return False
        passed = self.live_pace * (rec.received - self.live_received)
        expected = self.live_received + self.live_offset + passed
        return abs(rec.ts - expected) <= bound + PACE_SLACK * abs(passed)

    def _far_backlog_hint(self, rec: Record) -> str:
        """For the line of a jump ahead (`rec` its first record): '' or, when it has the shape of a silence read
        behind a backlog (its stamp − arrival above the last live record's, at most a short step above the highest
        of the last PACE_WINDOW_S) from a sender whose stamps stand more than OFFSET_SAID_S from this host's clock
        — where `_in_live_pace` does not take it as the backlog draining —, that it may be one, and what to do.
        mqttsrc4: such a sender under a publisher flood was said only as its data jumping."""
        top = self._offset_tops[0][1] if self._offset_tops else None
        if rec.received is None or self.live_offset is None or top is None or abs(top) <= OFFSET_SAID_S:
            return ""
        if not self.live_offset < rec.ts - rec.received <= top + self.reach_ticks * self.tick_s:
            return ""
        way = "ahead of" if top > 0 else "behind"
        return (f" — or {rec.origin or 'the sender'} fell silent while this host read it {top - self.live_offset:.0f} s "
                f"behind (a broker's backlog): its stamps stand {abs(top):.0f} s {way} this host's clock, too far to "
                f"tell a silence read behind a backlog from its clock jumping (within {OFFSET_SAID_S:.0f} s it is "
                f"told); set the sender's clock (NTP)")

    def pace_state(self) -> dict:
        """The live data's pace for the checkpoint (`note_live`): a restart's first data is judged by it."""
        return {"live_received": self.live_received, "live_pace": self.live_pace,
                "pace_from": None if self._pace_from is None else list(self._pace_from)}

    @staticmethod
    def pace_in(state: dict) -> tuple:
        """`pace_state` read back and checked, for `restore_pace`; a checkpoint written before it was kept:
        this host's pace, none measured."""
        received, pace, start = state.get("live_received"), state.get("live_pace", 1.0), state.get("pace_from")
        for key, v in (("live_received", received), ("live_pace", pace)):
            if v is not None and not finite_number(v):
                raise ValueError(f"aligner.{key}: expected seconds")
        if start is not None and not (isinstance(start, (list, tuple)) and len(start) == 2
                                      and all(finite_number(v) for v in start)):
            raise ValueError("aligner.pace_from: expected [stamp, arrival] seconds")
        if pace is None or pace <= 0:
            raise ValueError("aligner.live_pace: expected stamp seconds per second, > 0")
        return (None if received is None else float(received), float(pace),
                None if start is None else (float(start[0]), float(start[1])))

    def restore_pace(self, pace: tuple) -> None:
        self.live_received, self.live_pace, self._pace_from = pace
        self._pace_next = None
