"""The time base: when the data's clock moved (the rules the aligner asks).

The aligner (agent/window.py) puts records on a tick grid and closes ticks in order: the grid is
only as good as the time base it stands on, the newest tick taken. Records that would move it —
a stamp far ahead, a step back, live data back after a silence, the first data after a restart —
are not taken at once: `TimeBaseRules`, the aligner's half that holds them, decides whether the
data moved (a jump, a step back), was away (a silence: not a move), or the agent was (a restart
gap: the agent's own downtime), or whether the record is a stray stamp that costs only itself.
They live apart from the grid so that each can be read in one sitting: the grid buckets, carries
and closes; the rules are where the aligner judges a clock, and where its mends have gone (each
rule's reason is in `TimeBaseRules`' doc).

The rules are parts a reader can take one at a time, each the aligner's base class:
- this module: jumps ahead, steps back, live data back after a silence, the end of a finite input;
- agent/restart_gap.py: the ticks after a restore — the agent's downtime, the data's silence, the
  records the last run held;
- agent/host_clock_step.py: a step of this host's clock while the agent runs;
- agent/live_pace.py (the rules' base): where a live sender's stamps stand to this host's clock,
  and at what pace they move — by which the rules tell a sender that went on while nothing came
  from one whose clock jumped.
What they hold is agent/time_base_candidates.py (and its checkpoint form); what moves with the
time base when it moves is agent/time_shift.py.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING

from .alerts import iso
from .host_clock_step import HostClockStepRules
from .live_pace import LivePace, near_host_clock_s
from .records import Record, sensors_said, span
from .restart_gap import RestartGapRules
from .time_base_candidates import Candidate

if TYPE_CHECKING:
    from .window import Row

log = logging.getLogger("stad.aligner")     # the rules speak as the aligner they are half of

#: How the time base moved (Aligner.note_move), each counted from 0 on health and in Prometheus:
#: the data stepped back, the data jumped ahead, a restart on a checkpoint ahead of the host's clock.
TIME_BASE_MOVES = ("back", "forward", "restart")
CONFIRM_RECORDS = 3        # consistent records that confirm a jump; in-step records that refute one
MAX_CANDIDATES = 4         # jump candidates held at once; the oldest is rejected beyond this


class TimeBaseRules(RestartGapRules, HostClockStepRules, LivePace):
    """The aligner's clock rules: which records would move its time base, and when they do.

    Why: one bogus stamp must never close the ticks real data is still for, and a real move of the
    data's clock must cost no record. A half of `window.Aligner` (its base class): they read and
    move its grid — `next_k` (the oldest open tick), `newest_k` (the time base), `last_k`,
    `usual_step`, `lateness`, `carry_ticks`, `tick_s`, `sensors` — and hand the records they let
    through back to it (`_take`, `_place`, `_late`, `flush_through`, `_new_time_base`). The rules
    of a restart are `RestartGapRules` (agent/restart_gap.py), those of a step of this host's clock
    `HostClockStepRules` (agent/host_clock_step.py), each with its reasons. These:

    - A live record (`Record.received` set: the receiving host's clock) more than
      `max_clock_skew_s` from that clock is rejected ('clock skew'; checked in `Aligner.push`).
    - The time base is the newest tick taken (before any, for a live record, the host clock's
      tick). A record at most the data's usual step beyond it (one tick for data as dense as
      the tick; the median of its last steps for sparser data) is in step and taken at once.
    - A record further ahead, or any record before a time base exists (replay start), is held
      as a jump candidate. Records that continue it (from `reach_ticks` before it to as far
      beyond it as it jumped; a day before any data) join it, and `CONFIRM_RECORDS` of them
      more than the records that contradicted it (below) confirm it: its earliest record moves
      the time base and the others are placed after it by these same rules, none lost. In-step records more than `reach_ticks` (lateness + 1 +
      the carry-forward bound) before it contradict it; `CONFIRM_RECORDS` of them reject it
      ('timestamp jump'). A candidate the data catches up with is taken then, unless it was
      contradicted; so is one the wall-clock flush of a live source reaches.
    - At the end of a finite input a candidate is taken if it is uncontradicted and within
      `reach_ticks` (or the usual step) of the data, or live data back after a silence (below);
      any other is rejected.
    - Live data back after every sensor fell silent, stamped as the data was before against this
      host's clock (or after the wall-clock flush closed the silence), is confirmed like a jump but
      is no move of the time base: the ticks between are missing, not a move to alert on.
    - A step back: a record more than `reach_ticks` before the oldest open tick is held as a
      step-back candidate (within that reach it is 'late' at once). Records in step with it (from
      `lateness_ticks` before its first record to the data's usual step beyond its newest: data
      going on forward from the step, not a file read newest-first) join it; records taken on the
      old time base contradict it. `CONFIRM_RECORDS` more than its contradictions confirm it: the
      old base's open ticks close, the carried values are forgotten and its earliest record starts
      a new time base (none of its records lost); the first row of the new base carries
      `rebased_from` (the old base's last tick) for its owner. One contradicted `CONFIRM_RECORDS`
      times, or still held when the input ends, is rejected as 'late': a stray old stamp costs
      only itself, as before.
    """

    def _init_rules(self, max_clock_skew_s: float) -> None:
        """The rules' state, on an aligner whose grid is made (its lateness and carry-forward)."""
        self.reach_ticks = self.lateness + 1 + self.carry_ticks  # a short step of the data
        self.held: list[Candidate] = []      # jump candidates, oldest first
        self.day_ticks = max(1, int(86400 / self.tick_s))
        self.back: list[Candidate] = []      # step-back candidates, oldest first
        self._rebased_from: float | None = None     # set on the next row closed (a new time base's first)
        self.moves: Counter = Counter()       # TIME_BASE_MOVES kind -> times, this life (health, Prometheus)
        self.last_move: dict | None = None    # the last one: kind, from, to, step_s, at (health)
        self._init_restart()
        self._init_pace(max_clock_skew_s)
        self._init_host_step()

    def _settle_passed(self, last_k: int) -> list[Row]:
        """The wall clock (Aligner.flush_until) closes ticks through `last_k`: a held candidate whose
        tick that would close is settled first (taken unless contradicted): the wall clock has passed
        it, and it was within the host clock's skew when it came."""
        passed = [c for c in self.held if c.lo <= last_k]
        self.held = [c for c in self.held if c.lo > last_k]
        return self._take_or_reject(passed)

    def _settle_at_end(self) -> list[Row]:
        """The end of a finite input (Aligner.flush_all): a step back not confirmed was late; a held
        jump is taken when near the data or live data back after a silence, else rejected."""
        rows: list[Row] = []
        for cand in self.back:      # a step back not confirmed: its records were late
            self._reject_late(cand)
        self.back = []
        while self.held:        # taking one may hold some of its records again: settle until none is left
            cands, self.held = self.held, []
            for cand in cands:
                if self._near_data(cand) or (not cand.refuted and self._back_after_silence(cand)):
                    rows += self._take_all(cand)
                else:
                    self._reject(cand, "not confirmed before the input ended")
        return rows

    def note_move(self, kind: str, from_ts: float, to_ts: float) -> None:
        """Count a move of the time base for health and Prometheus (the log says it where it happens). The
        live data's pace (and its highest offsets) is measured afresh from the next record (its stamps moved: not its pace)."""
        self._pace_from = self._pace_next = None
        self._offset_tops.clear()
        self.moves[kind] += 1
        self.last_move = {"kind": kind, "from": iso(from_ts), "to": iso(to_ts),
                          "step_s": round(to_ts - from_ts, 3), "at": iso(time.time())}

    def _hold_back(self, k: int, rec: Record) -> list[Row]:
        """Keep a record well before the closed ticks until records in step with it confirm a step
        back of the data, or records on the old time base refute it."""
        reach = max(self.reach_ticks, self.usual_step)
        for cand in self.back:
            # From its first record on (within lateness): data that resumes earlier goes on forward. A
            # recording exported newest-first steps back at every record and confirms none: all late.
            if cand.records[0][0] - self.lateness <= k <= cand.hi + reach:
                cand.add(k, rec)
                if len(cand.records) - cand.refuted < CONFIRM_RECORDS:
                    return []
                return self._step_back(cand)
        self.back.append(Candidate(k, rec, span=reach))
        if len(self.back) > MAX_CANDIDATES:
            self._reject_late(self.back.pop(0))
        return []

    def _contradict_back(self) -> None:
        """A record taken on the old time base counts against every step-back candidate."""
        keep = []
        for cand in self.back:
            cand.refuted += 1
            if cand.refuted >= CONFIRM_RECORDS:
                self._reject_late(cand)
            else:
                keep.append(cand)
        self.back = keep

    def _reject_late(self, cand: Candidate) -> None:
        for k, rec in cand.records:
            self._late(k, rec)

    def _step_back(self, cand: Candidate) -> list[Row]:
        """A confirmed step back: the old time base's open ticks close, a new one starts at the
        candidate's earliest record; candidates held for the old base are judged again on the new."""
        others = [c for c in self.back if c is not cand] + self.held
        self.back, self.held = [], []
        rows = self.flush_through(self.newest_k)
        old_k = self.next_k - 1
        log.log(self.jump_log_level,        # training says its own line for the step (convert/data.py read_series)
                "time base moved back: the data stepped %s, from %s to %s (%d records in step with it); "
                "the learned state is kept, the window refills before the next score",
                span((cand.lo - old_k) * self.tick_s, signed=True), iso(old_k * self.tick_s),
                iso(cand.lo * self.tick_s), len(cand.records))
        self._new_time_base()
        self._rebased_from = old_k * self.tick_s
        self.note_move("back", old_k * self.tick_s, cand.lo * self.tick_s)
        rows += self._take_all(cand)
        for other in sorted(others, key=lambda c: c.lo):
            for k, rec in other.records:
                rows += self._place(k, rec)
        return rows

    def _hold(self, k: int, rec: Record) -> list[Row]:
        """Keep a record that would move the time base until later records confirm or refute it."""
        if self._clock_step is not None and self._restart_gap_at(k) and self._with_stepped_clock(rec):
            # The host's clock stepped forward (host_clock_stepped) and this record is stamped with it: the
            # boot-time clock is the proof a jump of the data waits for. Waiting for CONFIRM_RECORDS raced
            # the wall-clock flush's wait (reach_ticks): lost, the step was closed as an outage after all.
            return self._move_with_host_clock(k, rec)
        if self.newest_k is not None and k <= self.newest_k + self.reach_ticks:
            self._contradict(k)     # a short step of the data counts against jumps, as an in-step record does
        for cand in self.held:
            if cand.lo - self.reach_ticks <= k <= cand.hi + cand.span and \
                    (not cand.restored or self._in_pace(cand.records[0][1], rec)):
                cand.add(k, rec)
                if len(cand.records) - cand.refuted < CONFIRM_RECORDS:     # each contradiction costs one more
                    return []
                # Confirmed. Uncontradicted records held from before it still count: the jump closes their
                # ticks anyway (taking one may hold some of its records again: settled the same way until
                # none is left). Contradicted ones, and any beyond it, are rejected.
                others, self.held = [c for c in self.held if c is not cand], []
                rows: list[Row] = []
                while others:       # earliest first, records held again included
                    others.sort(key=lambda c: c.lo)
                    other = others.pop(0)
                    if other.hi < cand.lo and not other.refuted:
                        rows += self._take_all(other)
                    elif other.hi < cand.lo:
                        # Contradicted: its first record goes; the ones that joined it are judged again
                        # on their own (in sparse data, real records can continue a stray stamp).
                        self._reject(Candidate(*other.records[0], span=0), "another time base was confirmed")
                        for k, rec in other.records[1:]:
                            rows += self._place(k, rec)
                    else:
                        self._reject(other, "another time base was confirmed")
                    others += self.held
                    self.held = []
                if self.newest_k is not None and cand.lo > self.newest_k + self.reach_ticks and \
                        not self._restart_gap_before(cand) and not self._back_after_silence(cand):
                    log.log(self.jump_log_level,
                            "time base moved: the data jumped %s, from %s to %s (%d records in step with it); "
                            "the ticks between are missing%s",
                            span((cand.lo - self.newest_k) * self.tick_s, signed=True),
                            iso(self.newest_k * self.tick_s), iso(cand.lo * self.tick_s), len(cand.records),
                            self._far_backlog_hint(cand.records[0][1]))
                    self.note_move("forward", self.newest_k * self.tick_s, cand.lo * self.tick_s)
                return rows + self._take_all(cand)
        # Before any data, a day; after, as far as it jumped: records that far beyond it continue it.
        jump = k - self.newest_k if self.newest_k is not None else self.day_ticks
        self.held.append(Candidate(k, rec, span=max(self.reach_ticks, jump)))
        if len(self.held) > MAX_CANDIDATES:
            self._reject(self.held.pop(0), "not confirmed before newer jumps")
        return []

    def _settle(self, in_step_k: int) -> list[Row]:
        """Take candidates the data caught up with; count an in-step record against the rest."""
        self._contradict(in_step_k)
        caught = [c for c in self.held if c.lo <= self.newest_k + self.usual_step]
        self.held = [c for c in self.held if c.lo > self.newest_k + self.usual_step]
        return self._take_or_reject(caught)

    def _contradict(self, k: int) -> None:
        """A record well before a candidate (taken, or held as a short step of its own) counts against it."""
        self._count_against(lambda c: k < c.lo - self.reach_ticks, "the records that followed did not continue it")

    def _count_against(self, hit, why: str) -> None:
        """One contradiction for each held candidate `hit(candidate)` is true of; rejected at CONFIRM_RECORDS."""
        keep = []
        for cand in self.held:
            if hit(cand):
                cand.refuted += 1
                if cand.refuted >= CONFIRM_RECORDS:
                    self._reject(cand, why)
                    continue
            keep.append(cand)
        self.held = keep

    def _take_or_reject(self, cands: list[Candidate]) -> list[Row]:
        rows: list[Row] = []
        for cand in cands:
            if cand.refuted:
                self._reject(cand, "the records that followed did not continue it")
            else:
                rows += self._take_all(cand)
        return rows

    def _near_data(self, cand: Candidate) -> bool:
        """Uncontradicted and within reach of the data: a short step, not a jump."""
        return (self.newest_k is not None and not cand.refuted
                and cand.lo <= self.newest_k + max(self.reach_ticks, self.usual_step))

    def _reject(self, cand: Candidate, why: str) -> None:
        for k, rec in cand.records:
            if not self.refused_whole(rec):
                continue            # counted under what is wrong with its values (Aligner.refused_whole)
            self.rejects.add("timestamp jump", rec.origin, lambda k=k, rec=rec: f"ts {iso(rec.ts)} of "
                             f"{sensors_said(rec.values)} ({self._from_data(k)}): {why}")

    def _take_all(self, cand: Candidate) -> list[Row]:
        """A confirmed (or caught-up) candidate: its earliest record moves the time base; the others
        are placed after it in arrival order by the usual rules, so a stray stamp that joined the
        candidate is held and judged again rather than taken along."""
        if 0 < cand.restored < len(cand.records):
            return self._take_restored(cand)
        pending = self._restart_pending
        first = min(range(len(cand.records)), key=lambda i: cand.records[i][0])
        k, rec = cand.records[first]
        if self.next_k is None:
            self.next_k = k
        rows = self._skip_restart_gap(cand) if self._restart_gap_before(cand) else []
        rows += self._place(k, rec) if k < self.next_k else self._take(k, rec)
        for i, (k, rec) in enumerate(cand.records):
            if i != first:
                rows += self._place(k, rec)
        if cand.restored:       # the last run's data: the restart is still ahead
            self._restart_pending = pending
        return rows

    def _back_after_silence(self, cand: Candidate) -> bool:
        """Live data back after a silence of every sensor: the data did not jump, it was away — a
        sender restarted, a network down for a minute. Not a time-base move (README tells operators
        to alert on those); the outage itself is the sensors' `missing` faults. Known by the wall
        clock having closed the silence as an outage (the ticks between are closed, as missing:
        `idle_flush_s`; for data stamped near this host's clock), or, without that flush (its default),
        by the stamps standing to this host's clock as the data's did before the silence (in its pace:
        `_in_live_pace`): the data's time went on with the host's while nothing came, whatever clock
        it stamps with. A device clock that jumps moves its stamps away from the host's clock by the
        jump: still a move. Before, stamps near this host's clock were asked for: a sender on a clock of
        its own (years off, or a replay at 10×) back after a silence was a jump of the data (qa33)."""
        return (self._stamped_live(cand) and self.next_k is not None and cand.lo <= self.next_k + self.reach_ticks) \
            or self._kept_pace(cand)

    def _kept_pace(self, cand: Candidate) -> bool:
        """Every record of the candidate is live and in the last live data's pace (`_in_live_pace`)."""
        return all(self._in_live_pace(rec) for _, rec in cand.records)

    def _stamped_live(self, cand: Candidate) -> bool:
        """Every record of the candidate came from a live source stamped near this host's clock."""
        return all(self._live(rec) for _, rec in cand.records)

    def _live(self, rec: Record) -> bool:
        """From a live source, stamped near this host's clock (within the skew bound)."""
        return rec.received is not None and abs(rec.ts - rec.received) <= near_host_clock_s(self.max_clock_skew_s)
