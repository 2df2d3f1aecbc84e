"""The time base: when the data's clock moved (the rules the aligner asks), and what moves with it.

The aligner (agent/window.py) puts records on a tick grid and closes ticks in order: the grid is
only as good as the time base it stands on, the newest tick taken. Records that would move it —
a stamp far ahead, a step back, live data back after a silence, the first data after a restart —
are not taken at once: `TimeBaseRules`, the aligner's half that holds them, decides whether the
data moved (a jump, a step back), was away (a silence: not a move), or the agent was (a restart
gap: the agent's own downtime), or whether the record is a stray stamp that costs only itself.
They live apart from the grid so that each can be read in one sitting: the grid buckets, carries
and closes; the rules are where the aligner judges a clock, and where its mends have gone (each
rule's reason is in `TimeBaseRules`' doc). Where a live sender's stamps stand to this host's clock,
and at what pace they move — by which the rules tell a sender that went on while nothing came from
one whose clock jumped — is a part of its own (agent/live_pace.py, the rules' base).

When the time base moved back — the data stepped back (`TimeBaseRules._step_back`), or the host
clock since a checkpoint was written (service._rebase_time) — every clock that compares a tick's
time with a stored one would stand still for as long as the step: a fault hold whose `since` lies
ahead, the threshold's quiet time after a peak, a spike's return window, the recurring level's
cycle. `shift_times` moves that state onto the new base (Pipeline.rebase): each class that stores
such times names them in `TIME_FIELDS` (floats, arrays or lists of seconds; NaN and ±inf stay as
they are), or, where a time is kept in other units, has `shift_time(delta)`. It walks the agent's
own objects from one root and moves each once, so a new field is moved by naming it where it is
declared, not by a list kept here.
"""
from __future__ import annotations

import logging
import math
import time
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from .alerts import iso
from .checkpoint import array_of
from .live_pace import LivePace
from .records import Record, span

if TYPE_CHECKING:
    from .window import Row

log = logging.getLogger("stad.aligner")     # the rules speak as the aligner they are half of

DEFAULT_MAX_CLOCK_SKEW_S = 300.0
#: How the time base moved (Aligner.note_move), each counted from 0 on health and in Prometheus:
#: the data stepped back, the data jumped ahead, a restart on a checkpoint ahead of the host's clock.
TIME_BASE_MOVES = ("back", "forward", "restart")
CONFIRM_RECORDS = 3        # consistent records that confirm a jump; in-step records that refute one
MAX_CANDIDATES = 4         # jump candidates held at once; the oldest is rejected beyond this


class _Candidate:
    """Records held because they would move the time base: (tick, record) in arrival order."""
    __slots__ = ("records", "lo", "hi", "span", "refuted", "restored")

    def __init__(self, k: int, rec: Record, span: int):
        self.records = [(k, rec)]
        self.lo = self.hi = k
        self.span = span        # how far beyond it a record may come and still continue it
        self.refuted = 0
        self.restored = 0       # its first records held by the last run (a checkpoint), not this one

    def add(self, k: int, rec: Record) -> None:
        self.records.append((k, rec))
        self.lo, self.hi = min(self.lo, k), max(self.hi, k)


class TimeBaseRules(LivePace):
    """The aligner's clock rules: which records would move its time base, and when they do.

    Why: one bogus stamp must never close the ticks real data is still for, and a real move of the
    data's clock must cost no record. A half of `window.Aligner` (its base class): they read and
    move its grid — `next_k` (the oldest open tick), `newest_k` (the time base), `last_k`,
    `usual_step`, `lateness`, `carry_ticks`, `tick_s`, `sensors` — and hand the records they let
    through back to it (`_take`, `_place`, `_late`, `flush_through`, `_new_time_base`). The rules:

    - A live record (`Record.received` set: the receiving host's clock) more than
      `max_clock_skew_s` from that clock is rejected ('clock skew'; checked in `Aligner.push`).
    - The time base is the newest tick taken (before any, for a live record, the host clock's
      tick). A record at most the data's usual step beyond it (one tick for data as dense as
      the tick; the median of its last steps for sparser data) is in step and taken at once.
    - A record further ahead, or any record before a time base exists (replay start), is held
      as a jump candidate. Records that continue it (from `reach_ticks` before it to as far
      beyond it as it jumped; a day before any data) join it, and `CONFIRM_RECORDS` of them
      more than the records that contradicted it (below) confirm it: its earliest record moves the time base and the others are placed after it
      by these same rules, none lost. In-step records more than `reach_ticks` (lateness + 1 +
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
    - A restart (restore): the ticks between the checkpoint's last one and the first live data
      are the agent's own downtime, not the data's. The first candidate taken after it (confirmed,
      caught up with, or reached by the wall clock) skips them: no row for a tick the agent did not
      run (no sensor missing for it), the carry-forward goes on across them, and it is counted as a
      restart gap (`restart_gaps`), not a time-base move. Until then the wall-clock flush waits
      `max(reach_ticks, usual_step)` ticks for that data: when none comes, the ticks close as an
      outage (the sensors are silent since the restart) and the gap is not skipped any more.
    - Live data back after a silence, held when the checkpoint was written (a kill -9 before its
      confirmation), is the last run's data, not the first after the restart: it is taken at the
      restore (`_settle_restored`) — the silence before it closes as missing ticks, as it would
      have — and the restart gap, the agent's downtime, starts after it. Any other held record of
      the last run (a stray stamp, or a jump of the sender's clock not yet confirmed) is continued
      only by new data in its pace (stamp minus arrival within a short step of its own): new data
      that is not leaves it to be contradicted; new data that is confirms it as a move of the time
      base at its tick, and the restart gap is the downtime after it, not before.
    - A step of this host's clock while the agent runs (its owner tells it from time passing by the boot-time
      clock, `host_clock_stepped`): live data stamped with that clock — a relay on the gateway, records
      stamped on arrival — steps with it although no time passed and none was missed. Its first record
      received after the step and stamped with the stepped clock is taken at once and the grid moves with it
      (`_move_with_host_clock`): forward, the ticks the step skipped are not run — the flush waits for that
      record as after a restart — and back, no new time base starts; either way no sensor `missing`, the
      carried values, the window and an open alert kept, counted as a `forward` or `back` move, and the first
      row after it carries the seconds moved (`Row.clock_moved_s`) for its owner to move the times its state
      keeps. Before, forward, the flush closed the skipped ticks as an outage (every sensor `missing`, the
      open alert ended `cleared`: review22); back, three records confirmed a step back of the data (the
      window refilled, the alert ended `restart`). Data stamped by a clock of its own did not step: its first
      record after the step ends the wait and from then on the wall-clock flush (and every rule that reads a
      record's arrival) reads this host's clock less the step (`host_ahead_s`) — before, once the wait ran out
      the flush closed the skipped span as an outage and the data was late for as long as the step (clock22).
    - A restart during a silence of every sensor: the last run was alive (its sign of life,
      agent/alive.py) past ticks that ended with no data. They are the source's silence: closed
      at the restore as missing ticks (`silent_until`), and the restart gap is the downtime after
      them — before, the silence and the downtime together were skipped as the restart gap.
    """

    def _init_rules(self, max_clock_skew_s: float) -> None:
        """The rules' state, on an aligner whose grid is made (its lateness and carry-forward)."""
        self.reach_ticks = self.lateness + 1 + self.carry_ticks  # a short step of the data
        self.max_clock_skew_s = float(max_clock_skew_s)           # 0: live records are not checked
        self.held: list[_Candidate] = []      # jump candidates, oldest first
        self.day_ticks = max(1, int(86400 / self.tick_s))
        self.back: list[_Candidate] = []      # step-back candidates, oldest first
        self._rebased_from: float | None = None     # set on the next row closed (a new time base's first)
        self.moves: Counter = Counter()       # TIME_BASE_MOVES kind -> times, this life (health, Prometheus)
        self.last_move: dict | None = None    # the last one: kind, from, to, step_s, at (health)
        self._restart_pending = False         # restored, no record taken yet: its first jump is downtime
        self._restart_wait_k: int | None = None     # the wall-clock flush waits for that data until here
        self.restart_gaps = 0                 # restart gaps skipped, this life (health, Prometheus)
        self.last_restart_gap: dict | None = None   # the last one: from, to, skipped_s, down_s, last_alive, at (health)
        #: (the last run's last sign of life, this start) on this host's clock, set by the restore (agent/resume.py):
        #: the restart gap's line says the seconds the agent was down beside the ticks its checkpoint had not taken
        self.down_between: tuple[float, float] | None = None
        #: that sign of life is the checkpoint a clean stop wrote (agent/alive.py `_stopped_clean`): the ticks it
        #: had not taken were none, the rest of the gap is the stop's last moments and this start's wait (user15)
        self.stopped_clean = False
        self._init_pace()
        self._clock_step: float | None = None    # a step of this host's clock (s), the data's answer awaited
        self._stepped_at = 0.0                   # that clock's reading just after it (`received`'s terms)
        self._offset_before = 0.0                # the live data's stamp minus arrival before it
        #: How far this host's clock is ahead of the live data's after steps of it the data did not follow (a
        #: sender on a clock of its own): arrivals are read less this (`push`), the wall-clock flush too.
        self.host_ahead_s = 0.0
        self._clock_moved_s: float | None = None   # set on the next row closed (Row.clock_moved_s)

    def _settle_passed(self, last_k: int) -> list[Row]:
        """The wall clock (Aligner.flush_until) closes ticks through `last_k`: a held candidate whose
        tick that would close is settled first (taken unless contradicted): the wall clock has passed
        it, and it was within the host clock's skew when it came."""
        passed = [c for c in self.held if c.lo <= last_k]
        self.held = [c for c in self.held if c.lo > last_k]
        return self._take_or_reject(passed)

    def _settle_restored(self) -> list[Row]:
        """At a restore: held candidates that are live data back after a silence (in pace with the last
        run's clock, or past the ticks its wall clock closed; not contradicted) are taken now, as the
        last run's own data — no restart gap before them (that run lived through the silence), and
        the restart still pending after them: the downtime is what lies between them and the first
        new data. Any other the last run held counts one contradiction: it is taken only when new
        records in its pace confirm it, never merely for being uncontradicted (a stray stamp before
        the first new data would otherwise close the downtime before it as missing ticks). Before this a new record joined such a candidate and the restart gap was skipped up
        to it: the silence counted as the downtime, the downtime came out as missing ticks."""
        back = [c for c in self.held if not c.refuted and self._back_after_silence(c)] \
            if self.newest_k is not None else []
        self.held = [c for c in self.held if all(c is not b for b in back)]
        # Out of pace with the last run's clock: the restart counts against it.
        self._count_against(lambda c: c.restored > 0, "the last run stopped before records in its pace confirmed it")
        rows: list[Row] = []
        for cand in sorted(back, key=lambda c: c.lo):
            rows += self._take_all(cand)
        return rows

    def silent_until(self, alive_at: float) -> int:
        """At a restore: the last run was alive until `alive_at` (this host's clock) with every record
        it was sent taken (agent/alive.py's sign of life). The ticks that ended by then with no data
        are the source's silence, not the agent's downtime: they close now as missing (carried, then
        an outage), as the running agent closes a silence when the data comes back, and are handed
        out with the restore's rows; the restart gap is what lies between them and the first new data.
        Only for live data stamped near this host's clock (`live_offset`, within the skew bound: a
        recording piped in at its own pace has a time of its own) and only past a short step of the
        data; never over a record the last run held (it is judged as before). The number of ticks
        the silence held."""
        last_k = self._silent_through(alive_at)
        if last_k is None:
            return 0
        silent = last_k - max(self.newest_k, self.next_k - 1)
        self._restored += self.flush_through(last_k)
        return silent

    def reject_held(self, why: str) -> int:
        """At a restore from a checkpoint whose held records cannot be told from the restart's own first data (an
        earlier release's, written while its restart was pending: agent/alive.py CLAIMS_RULE): every record held
        for a move of the time base rejected ('timestamp jump', `why`), as if the checkpoint had not held them —
        taken as the last run's data back after a silence, the downtime before them closed as missing ticks (a
        false `source` fault); taken as the first data after this restart, the downtime after them did. How many."""
        held, self.held = self.held, []
        for cand in held:
            self._reject(cand, why)
        return sum(len(c.records) for c in held)

    def silence_claimed(self, alive_at: float) -> int:
        """The ticks `silent_until(alive_at)` would close as missing, closing none: what a sign of life the
        restore does not trust would have claimed (agent/resume.py, an earlier release's)."""
        last_k = self._silent_through(alive_at)
        return 0 if last_k is None else last_k - max(self.newest_k, self.next_k - 1)

    def _silent_through(self, alive_at: float) -> int | None:
        """The last tick a sign of life at `alive_at` says was silent (`silent_until`'s rules), or None."""
        if self.live_offset is None or self.next_k is None or self.newest_k is None or \
                abs(self.live_offset) > (self.max_clock_skew_s or DEFAULT_MAX_CLOCK_SKEW_S):
            return None
        last_k = self.tick_of(alive_at - self.host_ahead_s + self.live_offset) - 1
        if self.held:
            last_k = min(last_k, min(c.lo for c in self.held) - 1)
        return None if last_k <= self.newest_k + self.reach_ticks else last_k

    def host_clock_stepped(self, step_s: float, now: float) -> None:
        """This host's clock moved `step_s` seconds more than time passed and reads `now` (its owner tells by the
        boot-time clock: NTP stepped it, or a hand). Live data stamped with it comes a step away although no
        time passed; data stamped by a sender's own clock does not. Which one this is, its first record
        received after the step says (`_with_stepped_clock`): until then, forward, the wall-clock flush waits
        as after a restart — it would close the ticks the step skipped as an outage (review22); back, it
        closes nothing until the clock is back where the data is."""
        if self.next_k is None or self.newest_k is None:
            return
        self._clock_step, self._stepped_at = step_s, now - self.host_ahead_s
        self._offset_before = self.live_offset or 0.0
        if step_s > 0:
            self._restart_pending, self._restart_wait_k = True, None

    def _with_stepped_clock(self, rec: Record) -> bool | None:
        """After a step of this host's clock: True when `rec` was received after it and is stamped with that
        clock (its stamp moved with its arrival), False when received after it and stamped by a clock of its
        own (its stamp stayed where the data was), None when it cannot tell (not live, received before the
        step — still queued then —, or a stamp neither)."""
        step = self._clock_step
        if rec.received is None or abs(rec.received - self._stepped_at) >= abs(rec.received - self._stepped_at + step):
            return None         # (nearer the clock's reading before the step than after: received before it)
        off = rec.ts - rec.received - self._offset_before
        if abs(off) <= abs(step) / 2:
            return True
        return False if abs(off + step) <= abs(step) / 2 else None

    def _answer_to_step(self, rec: Record) -> None:
        """A record taken in step while a step of this host's clock awaits its answer (`_take`). Stamped by a
        clock of its own, received after the step: the data's time did not move, the host's did — the flush
        reads this host's clock less the step from now on (else, forward, it closed the span the step skipped
        as an outage once its wait ran out and the data was late for as long as the step: clock22) and the
        wait ends. Stamped with the stepped clock yet in step (a step within the data's usual step): the
        wait ends. Received before the step: still awaited."""
        answer = self._with_stepped_clock(rec)
        if answer is None:
            return
        if answer is False:
            self.host_ahead_s += self._clock_step
            log.info("live data stamped by its own clock did not step with this host's: its time goes on, not a gap "
                     "in the data; the wall-clock flush now reads this host's clock %s", span(-self.host_ahead_s, signed=True))
            rec.received -= self._clock_step       # (read as all arrivals after it are: `push`)
        self._clock_step, self._restart_pending = None, False

    def _move_with_host_clock(self, k: int, rec: Record) -> list[Row]:
        """The first record received after a step of this host's clock and stamped with it (tick `k`): the
        grid moves with the clock — the old base's open ticks close and `rec` is the tick after its last, as
        if no time had passed: forward, the ticks the step skipped are not run; back, no new time base, no
        window to refill, no alert to end. The carried values go on across it; counted as a move; the next
        row closed carries the seconds moved (`Row.clock_moved_s`), by which its owner moves the times its
        state keeps."""
        rows = self.flush_through(self.newest_k)
        moved = k - self.next_k
        kind = "forward" if moved > 0 else "back"
        last = (self.next_k - 1) * self.tick_s
        log.warning("time base moved with this host's clock: from %s to the first data stamped after its step, %s: "
                    + ("%d tick(s) the step skipped, not run (no sensor missing for them)" if moved > 0 else
                       "%d tick(s) back, the grid moved back with it (no new time base: the window, the carried "
                       "values and an open alert kept)"),
                    iso(last), iso(k * self.tick_s), abs(moved))
        self.note_move(kind, last, k * self.tick_s)
        self._clock_moved_s = moved * self.tick_s
        self._clock_step, self._restart_pending = None, False
        self.next_k = k
        self.newest_k = k - self.usual_step          # the first record is one usual step on
        seen = self.last_k > -(2**62)
        self.last_k[seen] += moved                   # carried across the step as if it were not there
        return rows + self._take(k, rec)

    def _waiting_after_restart(self, ts: float) -> bool:
        """The wall-clock flush at `ts` still waits for the first data after a restart (the class's
        doc): it does until `max(reach_ticks, usual_step)` ticks after the first flush since."""
        if not self._restart_pending:
            return False
        if self._restart_wait_k is None:
            self._restart_wait_k = self.tick_of(ts) + max(self.reach_ticks, self.usual_step)
        if self.tick_of(ts) <= self._restart_wait_k:
            return True
        self._restart_pending, self._clock_step = False, None
        return False

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
        live data's pace is measured afresh from the next record (its stamps moved: not its pace)."""
        self._pace_from = self._pace_next = None
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
        self.back.append(_Candidate(k, rec, span=reach))
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

    def _reject_late(self, cand: "_Candidate") -> None:
        for k, rec in cand.records:
            self._late(k, rec)

    def _step_back(self, cand: "_Candidate") -> list[Row]:
        """A confirmed step back: the old time base's open ticks close, a new one starts at the
        candidate's earliest record; candidates held for the old base are judged again on the new."""
        others = [c for c in self.back if c is not cand] + self.held
        self.back, self.held = [], []
        rows = self.flush_through(self.newest_k)
        old_k = self.next_k - 1
        log.warning("time base moved back: the data stepped %s, from %s to %s (%d records in step with it); "
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
                        self._reject(_Candidate(*other.records[0], span=0), "another time base was confirmed")
                        for k, rec in other.records[1:]:
                            rows += self._place(k, rec)
                    else:
                        self._reject(other, "another time base was confirmed")
                    others += self.held
                    self.held = []
                if self.newest_k is not None and cand.lo > self.newest_k + self.reach_ticks and \
                        not self._restart_gap_before(cand) and not self._back_after_silence(cand):
                    log.warning("time base moved: the data jumped %s, from %s to %s (%d records in step with it); "
                                "the ticks between are missing",
                                span((cand.lo - self.newest_k) * self.tick_s, signed=True),
                                iso(self.newest_k * self.tick_s), iso(cand.lo * self.tick_s), len(cand.records))
                    self.note_move("forward", self.newest_k * self.tick_s, cand.lo * self.tick_s)
                return rows + self._take_all(cand)
        # Before any data, a day; after, as far as it jumped: records that far beyond it continue it.
        jump = k - self.newest_k if self.newest_k is not None else self.day_ticks
        self.held.append(_Candidate(k, rec, span=max(self.reach_ticks, jump)))
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

    def _take_or_reject(self, cands: list["_Candidate"]) -> list[Row]:
        rows: list[Row] = []
        for cand in cands:
            if cand.refuted:
                self._reject(cand, "the records that followed did not continue it")
            else:
                rows += self._take_all(cand)
        return rows

    def _near_data(self, cand: "_Candidate") -> bool:
        """Uncontradicted and within reach of the data: a short step, not a jump."""
        return (self.newest_k is not None and not cand.refuted
                and cand.lo <= self.newest_k + max(self.reach_ticks, self.usual_step))

    def _reject(self, cand: "_Candidate", why: str) -> None:
        for k, rec in cand.records:
            where = "no data before it" if self.newest_k is None else \
                f"{span((k - self.newest_k) * self.tick_s, signed=True)} from the data"
            self.rejects.add("timestamp jump", rec.origin, f"ts {iso(rec.ts)} ({where}): {why}")

    def _take_all(self, cand: "_Candidate") -> list[Row]:
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

    def _take_restored(self, cand: "_Candidate") -> list[Row]:
        """A candidate the last run held and new records continued, taken: the last run's records first,
        as its data (no restart gap before them, the restart still pending after them), then the new
        ones placed as the first data after the restart (a restart gap skipped before them, if any)."""
        old = _Candidate(*cand.records[0], span=cand.span)
        for k, rec in cand.records[1:cand.restored]:
            old.add(k, rec)
        old.restored = cand.restored
        rows = self._take_all(old)
        for k, rec in cand.records[cand.restored:]:
            rows += self._place(k, rec)
        return rows

    def _restart_gap_before(self, cand: "_Candidate") -> bool:
        """The candidate is the first live data after a restart, beyond the restored ticks with at
        least one tick between (data at the next tick to close skips nothing: no gap to count) and
        stamped as the last run's live data was (`_stamped_as_before`): the ticks before it are the
        agent's downtime. Not one the last run held: the downtime lies after its records."""
        return not cand.restored and self._restart_gap_at(cand.lo) and \
            all(self._stamped_as_before(rec) for _, rec in cand.records)

    def _in_pace(self, held: Record, rec: Record) -> bool:
        """`rec` is as far from its arrival as `held` was, within the reach of a short step (or either
        has no arrival: a recording's records are not judged by it)."""
        return held.received is None or rec.received is None or \
            abs((rec.ts - rec.received) - (held.ts - held.received)) <= self.reach_ticks * self.tick_s

    @property
    def restart_pending(self) -> bool:
        """Restored (or after a step of this host's clock forward), no new record taken yet and the
        wall-clock flush's wait not run out: the ticks past the restored state's last one are not
        accounted for — downtime up to the first new data, which skips them. Until then no silence
        may be claimed for them (agent/alive.py `_caught_up`): the next start would close the
        downtime as missing ticks (user13: two kill -9s within a checkpoint interval; clock23)."""
        return self._restart_pending

    def restart_gap_ahead(self, rec: Record) -> bool:
        """This record, the first new one after a restart, has the agent's downtime before it skipped
        as `_restart_gap_before` says (no outage rows), unless later records refute it: its owner
        refills the window for a downtime longer than it (Pipeline.after_restart)."""
        return self._restart_gap_at(self.tick_of(rec.ts)) and self._stamped_as_before(rec)

    def _stamped_as_before(self, rec: Record) -> bool:
        """Live, and stamped near this host's clock or where the last live data's pace puts it
        (`_in_live_pace`): the sender's time went on with this host's while the agent was down, whatever
        clock it stamps with. Before, only stamps near this host's clock were: a sender on a clock of its
        own (years off, taken with `max_clock_skew_s: 0`) had a restart's downtime taken for a jump of the
        data — its ticks missing, a `source` fault for the feed, the open alert held for no data (user12,
        qa32). A sender whose clock jumped meanwhile is off its old pace: still a move."""
        return self._live(rec) or self._in_live_pace(rec)

    def _restart_gap_at(self, k: int) -> bool:
        return self._restart_pending and self.next_k is not None and self.newest_k is not None and \
            k > max(self.newest_k + 1, self.next_k)

    def _back_after_silence(self, cand: "_Candidate") -> bool:
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

    def _kept_pace(self, cand: "_Candidate") -> bool:
        """Every record of the candidate is live and in the last live data's pace (`_in_live_pace`)."""
        return all(self._in_live_pace(rec) for _, rec in cand.records)

    def _stamped_live(self, cand: "_Candidate") -> bool:
        """Every record of the candidate came from a live source stamped near this host's clock."""
        return all(self._live(rec) for _, rec in cand.records)

    def _live(self, rec: Record) -> bool:
        """From a live source, stamped near this host's clock (within the skew bound)."""
        return rec.received is not None and abs(rec.ts - rec.received) <= (self.max_clock_skew_s or DEFAULT_MAX_CLOCK_SKEW_S)

    def _skip_restart_gap(self, cand: "_Candidate") -> list[Row]:
        """Close the restored open ticks, then skip the downtime up to the candidate's first tick."""
        rows = self.flush_through(self.newest_k)
        skipped = cand.lo - self.next_k
        self._note_restart_gap(cand, skipped)
        self.next_k = cand.lo
        self.newest_k = cand.lo - self.usual_step          # the first record is one usual step on
        seen = self.last_k > -(2**62)
        self.last_k[seen] += skipped                         # carried over the downtime as if it were not there
        self._restart_pending = False
        return rows

    def _note_restart_gap(self, cand: "_Candidate", skipped: int) -> None:
        """Said once: the ticks skipped (from the checkpoint's last tick: the downtime and, after a kill -9,
        the ticks run since that checkpoint, lost with it) and, when the restore knew the last run's last
        sign of life (`down_between`), the seconds the agent was down — before, a 2-s kill -9 read as the
        checkpoint's 7 minutes (user13's defect 5). After a clean stop (`stopped_clean`) nothing was lost: said so
        (until user15 the line said the second between the stop and the first new data was "lost with the stop")."""
        what, down = "not run", ""
        if self.down_between is not None:
            last, start = self.down_between
            what = "the checkpoint had not taken"
            down = (f"; the agent was down {span(start - last)} of it (last alive {iso(last)}, started again "
                    f"{iso(start)}), the rest ran after its last checkpoint and was lost with the stop")
            if self.stopped_clean:      # a clean stop loses nothing (user14, user15): its checkpoint has every tick
                what = "not run"
                down = (f"; the agent was down {span(start - last)} of it (a clean stop at {iso(last)}, its "
                        f"checkpoint written then; started again {iso(start)}), the rest is the stop's last tick "
                        f"and this start's wait for its first new data: no tick it scored was lost")
        log.info("restart gap: %s from the last run's last tick %s to the first new data %s, the agent's own "
                 "downtime: %d tick(s) %s, skipped (not a time-base move, no sensor missing for them)%s",
                 span((cand.lo - self.next_k + 1) * self.tick_s, signed=True), iso((self.next_k - 1) * self.tick_s),
                 iso(cand.lo * self.tick_s), skipped, what, down)
        self.restart_gaps += 1
        # health's copy carries the line's second figure too (null: no sign of life known), so a fleet reads a
        # 2-s kill -9 beside a checkpoint 7 minutes old as what it was without the log (clock24)
        last_alive, down_s = (None, None) if self.down_between is None else \
            (iso(self.down_between[0]), round(max(0.0, self.down_between[1] - self.down_between[0]), 3))
        self.last_restart_gap = {"from": iso((self.next_k - 1) * self.tick_s), "to": iso(cand.lo * self.tick_s),
                                 "skipped_s": round(skipped * self.tick_s, 3), "down_s": down_s,
                                 "last_alive": last_alive, "at": iso(time.time())}

    def _candidates_state(self, cands: list[_Candidate]) -> dict:
        """Records held for a move of the time base, as arrays: a kill -9 while a step back (or a jump)
        is being confirmed keeps them, as it keeps the open ticks. Their sensors' values (NaN: none),
        label (-1: none), arrival on this host's clock (NaN: not live; the live rules read it: a
        silence, a restart gap); each candidate's span and contradictions."""
        recs = [(c, k, rec) for c, cand in enumerate(cands) for k, rec in cand.records]
        values = np.full((len(recs), self.n), np.nan)
        for row, (_, _, rec) in enumerate(recs):
            for sensor, value in rec.values.items():
                if sensor in self.index and value is not None:
                    values[row, self.index[sensor]] = value
        return {"cand": np.array([c for c, _, _ in recs], np.int64), "k": np.array([k for _, k, _ in recs], np.int64),
                "ts": np.array([rec.ts for _, _, rec in recs], np.float64), "values": values,
                "label": np.array([-1 if rec.label is None else rec.label for _, _, rec in recs], np.int64),
                "received": np.array([np.nan if rec.received is None else rec.received for _, _, rec in recs],
                                     np.float64),
                "span": np.array([c.span for c in cands], np.int64),
                "refuted": np.array([c.refuted for c in cands], np.int64)}

    def _candidates_restore(self, state: dict | None, key: str) -> list[_Candidate]:
        """`_candidates_state` read back; a checkpoint written before it held none, one written before
        it kept their arrival has them not live."""
        if state is None:
            return []
        name = f"aligner.{key}"
        cand, ks = (array_of(state[f], f"{name}.{f}", np.int64, 1) for f in ("cand", "k"))
        ts = array_of(state["ts"], f"{name}.ts", np.float64, 1)
        values = array_of(state["values"], f"{name}.values", np.float64, 2, self.n)
        labels = array_of(state["label"], f"{name}.label", np.int64, 1)
        received = array_of(state["received"], f"{name}.received", np.float64, 1) if "received" in state \
            else np.full(len(ts), np.nan)
        span, refuted = (array_of(state[f], f"{name}.{f}", np.int64, 1) for f in ("span", "refuted"))
        # the candidates' set checked as sorted Python ints, not np.unique: it imports numpy.ma (~1.3 MiB, perf62)
        if not (len(cand) == len(ks) == len(ts) == len(values) == len(labels) == len(received)) or len(span) != len(refuted) or \
                sorted(set(cand.tolist())) != list(range(len(span))) or np.any(np.diff(cand) < 0):
            raise ValueError(f"{name}: records and candidates do not match")
        out: list[_Candidate] = []
        for c, k, t, row, label, at in zip(cand, ks, ts, values, labels, received):
            rec = Record(ts=float(t), values={s: float(v) for s, v in zip(self.sensors, row) if not math.isnan(v)},
                         label=None if label < 0 else int(label), origin="checkpoint (held for a time-base move)",
                         received=None if math.isnan(at) else float(at))
            if c == len(out):
                out.append(_Candidate(int(k), rec, int(span[c])))
                out[-1].refuted = int(refuted[c])
            else:
                out[c].add(int(k), rec)
        return out


def shift_times(root, delta: float) -> int:
    """Add `delta` seconds to every stored time under `root`; the number of objects moved."""
    seen: set[int] = set()
    moved = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            stack.extend(o for o in obj if _ours(o) or isinstance(o, (list, tuple, dict)))
            continue
        if isinstance(obj, dict):
            stack.extend(o for o in obj.values() if _ours(o) or isinstance(o, (list, tuple, dict)))
            continue
        if not _ours(obj):
            continue
        if hasattr(obj, "shift_time"):
            obj.shift_time(delta)
            moved += 1
        for name in getattr(type(obj), "TIME_FIELDS", ()):
            if hasattr(obj, name):          # (a part a configuration leaves out is not made)
                setattr(obj, name, _shifted(getattr(obj, name), delta))
                moved += 1
        for value in _attrs(obj):
            if _ours(value) or isinstance(value, (list, tuple, dict)):
                stack.append(value)
    return moved


def _ours(obj) -> bool:
    return type(obj).__module__.startswith("agent.") and not isinstance(obj, type)


def _attrs(obj):
    d = getattr(obj, "__dict__", None)
    if d is not None:
        yield from d.values()
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(obj, name):
                yield getattr(obj, name)


def _shifted(value, delta: float):
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return value + delta                    # NaN and ±inf stay
    if isinstance(value, list):
        return [v + delta for v in value]
    return float(value) + delta
