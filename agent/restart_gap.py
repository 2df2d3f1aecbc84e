"""The restart rules: which ticks after a restore were the agent's own downtime, and which the data's silence.

Why a part of its own: a restart leaves a gap between the checkpoint's last tick and the first live data. That
gap is not the data's — no sensor was missing for it, the data's clock did not jump — and the aligner's clock
rules (agent/timebase.py) would otherwise take it for a jump, or close it as an outage. These rules tell the
downtime from the data's own silence and from records the last run held, and count what they skip:

- A restart (restore): the ticks between the checkpoint's last one and the first live data are the agent's
  own downtime, not the data's. The first candidate taken after it (confirmed, caught up with, or reached by
  the wall clock) skips them: no row for a tick the agent did not run (no sensor missing for it), the
  carry-forward goes on across them, and it is counted as a restart gap (`restart_gaps`), not a time-base
  move. Until then the wall-clock flush waits `max(reach_ticks, usual_step)` ticks for that data: when none
  comes, the ticks close as an outage (the sensors are silent since the restart) and the gap is not skipped
  any more.
- Live data back after a silence, held when the checkpoint was written (a kill -9 before its confirmation),
  is the last run's data, not the first after the restart: it is taken at the restore (`_settle_restored`) —
  the silence before it closes as missing ticks, as it would have — and the restart gap, the agent's
  downtime, starts after it. Any other held record of the last run (a stray stamp, or a jump of the sender's
  clock not yet confirmed) is continued only by new data in its pace (stamp minus arrival within a short
  step of its own): new data that is not leaves it to be contradicted; new data that is confirms it as a
  move of the time base at its tick, and the restart gap is the downtime after it, not before.
- A restart during a silence of every sensor: the last run was alive (its sign of life, agent/alive.py) past
  ticks that ended with no data. They are the source's silence: closed at the restore as missing ticks
  (`silent_until`), and the restart gap is the downtime after them — before, the silence and the downtime
  together were skipped as the restart gap.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from .alerts import iso
from .alive import ALIVE_S
from .live_pace import near_host_clock_s
from .records import Record, span
from .time_base_candidates import Candidate

if TYPE_CHECKING:
    from .window import Row

log = logging.getLogger("stad.aligner")     # the rules speak as the aligner they are part of


class RestartGapRules:
    """The aligner's rules for the ticks after a restore (see the module's docstring).

    A base of `timebase.TimeBaseRules` (and so of `window.Aligner`): `_init_restart` sets up its state, the
    restore (`Aligner.restore`) sets `_restart_pending`, and agent/resume.py (and agent/alive.py) read
    `restart_pending`, `restart_gap_ahead`, `silent_until`, `silence_claimed` and `reject_held`. It reads the aligner's grid
    (`next_k`, `newest_k`, `last_k`, `usual_step`, `reach_ticks`, `tick_s`), the held candidates (`held`) and the
    live data's pace (agent/live_pace.py) and this host's clock's steps the data did not follow (`host_ahead_s`:
    agent/host_clock_step.py, whose wait for its first data it shares and ends with its own: `_clock_step`), and
    hands what it takes back to the rules and the aligner (`_take_all`, `_place`, `_reject`, `_count_against`,
    `_back_after_silence`, `_live`, `flush_through`).
    """

    def _init_restart(self) -> None:
        """The restart rules' state: no restart pending until a restore says so."""
        self._restart_pending = False         # restored, no record taken yet: its first jump is downtime
        self._restart_wait_k: int | None = None     # the wall-clock flush waits for that data until here
        self.restart_gaps = 0                 # restart gaps skipped, this life (health, Prometheus)
        self.last_restart_gap: dict | None = None   # the last one: from, to, skipped_s, down_s, last_alive, at (health)
        #: (the last run's last sign of life, this start) on this host's clock, set by the restore (agent/resume.py):
        #: the restart gap's line says the seconds the agent was down beside the ticks its checkpoint had not taken
        self.down_between: tuple[float, float] | None = None
        #: set when that sign of life is a clean stop's (agent/alive.py `_stopped_clean`): the ticks its checkpoint
        #: had not taken were none, the rest of the gap is the stop's last moments and this start's wait (user15).
        #: Where the stop is said: "checkpoint" (written at the stop) or "alive.json" (the stop wrote none: nothing
        #: new since the checkpoint restored; user16, user17); None: not a clean stop
        self.stopped_clean: str | None = None
        #: (seconds up, starts, the last sign of life before them) of earlier lives on the restored checkpoint that
        #: waited for their first data and never got it (agent/alive.py `_mark_waiting`: a device away across
        #: restarts): the restart gap's line words that part as the sources' silence, not the agent's downtime
        self.waited_before: tuple[float, int, float] | None = None

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
        restore does not trust would have claimed (agent/resume.py, an earlier release's). Asked once the records
        that release's checkpoint held are rejected (`reject_held`), which then bound nothing (clock28)."""
        last_k = self._silent_through(alive_at)
        return 0 if last_k is None else last_k - max(self.newest_k, self.next_k - 1)

    def _silent_through(self, alive_at: float) -> int | None:
        """The last tick a sign of life at `alive_at` says was silent (`silent_until`'s rules), or None."""
        if self.live_offset is None or self.next_k is None or self.newest_k is None or \
                abs(self.live_offset) > near_host_clock_s(self.max_clock_skew_s):
            return None
        last_k = self.tick_of(alive_at - self.host_ahead_s + self.live_offset) - 1
        if self.held:
            last_k = min(last_k, min(c.lo for c in self.held) - 1)
        return None if last_k <= self.newest_k + self.reach_ticks else last_k

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

    def _restart_gap_before(self, cand: Candidate) -> bool:
        """The candidate is the first live data after a restart, beyond the restored ticks with at
        least one tick between (data at the next tick to close skips nothing: no gap to count) and
        stamped as the last run's live data was (`_stamped_as_before`): the ticks before it are the
        agent's downtime. Not one the last run held: the downtime lies after its records."""
        return not cand.restored and self._restart_gap_at(cand.lo) and \
            all(self._stamped_as_before(rec) for _, rec in cand.records)

    def _restart_gap_at(self, k: int) -> bool:
        return self._restart_pending and self.next_k is not None and self.newest_k is not None and \
            k > max(self.newest_k + 1, self.next_k)

    def _stamped_as_before(self, rec: Record) -> bool:
        """Live, and stamped near this host's clock or where the last live data's pace puts it
        (`_in_live_pace`): the sender's time went on with this host's while the agent was down, whatever
        clock it stamps with. Before, only stamps near this host's clock were: a sender on a clock of its
        own (years off, taken with `max_clock_skew_s: 0`) had a restart's downtime taken for a jump of the
        data — its ticks missing, a `source` fault for the feed, the open alert held for no data (user12,
        qa32). A sender whose clock jumped meanwhile is off its old pace: still a move."""
        return self._live(rec) or self._in_live_pace(rec)

    def _in_pace(self, held: Record, rec: Record) -> bool:
        """`rec` is as far from its arrival as `held` was, within the reach of a short step (or either
        has no arrival: a recording's records are not judged by it)."""
        return held.received is None or rec.received is None or \
            abs((rec.ts - rec.received) - (held.ts - held.received)) <= self.reach_ticks * self.tick_s

    def _take_restored(self, cand: Candidate) -> list[Row]:
        """A candidate the last run held and new records continued, taken: the last run's records first,
        as its data (no restart gap before them, the restart still pending after them), then the new
        ones placed as the first data after the restart (a restart gap skipped before them, if any)."""
        old = Candidate(*cand.records[0], span=cand.span)
        for k, rec in cand.records[1:cand.restored]:
            old.add(k, rec)
        old.restored = cand.restored
        rows = self._take_all(old)
        for k, rec in cand.records[cand.restored:]:
            rows += self._place(k, rec)
        return rows

    def _skip_restart_gap(self, cand: Candidate) -> list[Row]:
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

    def _note_restart_gap(self, cand: Candidate, skipped: int) -> None:
        """Said once: the ticks skipped (from the checkpoint's last tick: the downtime and, after a kill -9,
        the ticks run since that checkpoint, lost with it) and, when the restore knew the last run's last
        sign of life (`down_between`), the seconds the agent was down — before, a 2-s kill -9 read as the
        checkpoint's 7 minutes (user13's defect 5) — and the rest, the seconds the killed run scored after its
        checkpoint (`lost_s`: their alerts and faults were sent then, what was learned in them is lost; qa41: the
        line called the whole gap "the agent's own downtime" and the checkpoint's last tick "the last run's").
        After a clean stop (`stopped_clean`) nothing was lost: said so (until user15 the line said the second
        between the stop and the first new data was "lost with the stop"), and whether the stop wrote its
        checkpoint then or had nothing new to write (user17). A wait for the first data across starts is said as
        the sources' silence (`_waited`, qa41)."""
        skipped_s = round(skipped * self.tick_s, 3)
        what, down, whose = "not run", "", "the agent's own downtime"
        last_alive = down_s = lost_s = waiting_s = None
        waiting_starts = 0
        if self.down_between is not None:
            last, start = self.down_between
            last_alive, down_s = iso(last), round(max(0.0, start - last), 3)
            waited = self._waited(cand)
            if waited is not None:
                waiting_s, waiting_starts, down_s, last_alive, down = waited
                whose = "the agent's downtime and its sources' silence while it waited"
            else:
                down = f"; the agent was down {span(down_s)} of it (last alive {iso(last)}, started again {iso(start)})"
            if self.stopped_clean:      # a clean stop loses nothing (user14, user15): its checkpoint has every tick
                lost_s = 0.0
                # a stop that wrote no checkpoint had nothing new since the one restored (user16's alive.json mark):
                # "its checkpoint written then" would not be true of it (user17)
                how = ("its checkpoint written then" if self.stopped_clean == "checkpoint" else
                       "nothing new to checkpoint since the one restored, said in alive.json")
                if waited is None:
                    down = (f"; the agent was down {span(down_s)} of it (a clean stop at {iso(last)}, {how}; "
                            f"started again {iso(start)}), the rest is the stop's last tick "
                            f"and this start's wait for its first new data: no tick it scored was lost")
                else:
                    down += ", the rest is the stop's last tick: no tick it scored was lost"
            else:
                what = "the checkpoint had not taken"
                lost_s = round(max(0.0, skipped_s - down_s - (waiting_s or 0.0)), 3)
                if waited is None:
                    whose = "the agent's downtime and the ticks the last run scored after its checkpoint"
                down += (f", the rest (about {span(lost_s)}) ran after its last checkpoint and was lost with the stop: "
                         f"scored then (their alerts and faults sent), what was learned in them is not in the state "
                         f"resumed")
        log.info("restart gap: %s from the checkpoint's last tick %s to the first new data %s, %s: %d tick(s) %s, "
                 "skipped (not a time-base move, no sensor missing for them)%s",
                 span((cand.lo - self.next_k + 1) * self.tick_s, signed=True), iso((self.next_k - 1) * self.tick_s),
                 iso(cand.lo * self.tick_s), whose, skipped, what, down)
        self.restart_gaps += 1
        # health's copy carries the line's other figures too (null: no sign of life known; no wait said), so a
        # fleet reads a 2-s kill -9 beside a checkpoint 7 minutes old (clock24), the ticks a kill lost, or a device
        # away across a restart (qa41), as what it was without the log
        self.last_restart_gap = {"from": iso((self.next_k - 1) * self.tick_s), "to": iso(cand.lo * self.tick_s),
                                 "skipped_s": skipped_s, "down_s": down_s, "last_alive": last_alive,
                                 "lost_s": lost_s, "waiting_s": waiting_s, "waiting_starts": waiting_starts,
                                 "at": iso(time.time())}

    def _waited(self, cand: Candidate) -> tuple[float, int, float, str, str] | None:
        """When the agent was up waiting for its sources' first data for part of the restart gap, longer than ALIVE_S
        (the sign of life's own precision) — this life before its first data, and earlier lives on the same
        checkpoint that never got theirs (`waited_before`, agent/alive.py `_mark_waiting`): (the seconds up
        waiting, the starts that waited, this one included, the seconds down — from the last sign of life before
        them to this start, less their wait —, that sign of life, the line's words). None otherwise. Before
        (chaos2), a device away across 8 quick restarts, or a restart in a device's outage with no wall-clock flush
        (`idle_flush_s` 0, the default), was worded as the agent's own downtime, "the rest … lost with the stop"."""
        last, start = self.down_between
        up_s, starts, since = self.waited_before if self.waited_before is not None else (0.0, 0, last)
        first = cand.records[0][1].received
        own = 0.0 if first is None else max(0.0, first - start)    # this life's wait, up to its first data
        waiting_s = round(up_s + own, 3)
        if waiting_s <= ALIVE_S:        # within the sign of life's own precision: said as before
            return None
        down_s = round(max(0.0, start - since - up_s), 3)
        down = (f"; the agent was down {span(down_s)} of it (last alive {iso(since)}, started again {iso(start)}), "
                f"up {span(waiting_s)} of it across {starts + 1} start(s) waiting for its sources' first data — their "
                f"silence (a device or feed away), not the agent's downtime —")
        return waiting_s, starts + 1, down_s, iso(since), down

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
