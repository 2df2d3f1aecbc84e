"""A step of this host's clock while the agent runs: whether the live data stepped with it, and the grid's answer.

Why a part of its own: NTP (or a hand) can step the gateway's clock while the agent runs. Its owner tells it
from time passing by the boot-time clock (`host_clock_stepped`); what it means for the data depends on the
clock the data is stamped with, and only the data can say that. Live data stamped with this host's clock — a
relay on the gateway, records stamped on arrival — steps with it although no time passed and none was missed.
Its first record received after the step and stamped with the stepped clock is taken at once and the grid
moves with it (`_move_with_host_clock`): forward, the ticks the step skipped are not run — the flush waits for
that record as after a restart — and back, no new time base starts; either way no sensor `missing`, the
carried values, the window and an open alert kept, counted as a `forward` or `back` move, and the first row
after it carries the seconds moved (`Row.clock_moved_s`) for its owner to move the times its state keeps
(agent/time_shift.py). Before, forward, the flush closed the skipped ticks as an outage (every sensor
`missing`, the open alert ended `cleared`: review22); back, three records confirmed a step back of the data
(the window refilled, the alert ended `restart`). Data stamped by a clock of its own did not step: its first
record after the step ends the wait and from then on the wall-clock flush (and every rule that reads a
record's arrival) reads this host's clock less the step (`host_ahead_s`) — before, once the wait ran out the
flush closed the skipped span as an outage and the data was late for as long as the step (clock22).
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable

from .alerts import iso
from .records import Record, span

if TYPE_CHECKING:
    from .window import Row

log = logging.getLogger("stad.aligner")     # the rules speak as the aligner they are part of

#: A step of this host's clock: its reading moved this much more, or less, than the boot-time clock between two
#: looks (NTP slews offsets under 128 ms and steps larger ones).
HOST_CLOCK_STEP_S = 2.0


def since_boot() -> float:
    """Seconds on a clock no step moves that, unlike the monotonic one, goes on while the host is suspended
    (Linux CLOCK_BOOTTIME): a suspended gateway missed its data, it is no step of its clock."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


def boot_id() -> str | None:
    """This boot's id (Linux: /proc/sys/kernel/random/boot_id), None where there is none: whether `since_boot`
    readings taken in another life of the agent are on the same clock (the outbox's ages across a restart)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


class ClockStepWatch:
    """Tells a step of this host's wall clock from time passing by the boot-time clock, look by look: the
    Agent's loop (said, and handed to the aligner) and the outbox (its events' ages: review41) each keep one."""

    def __init__(self, least_s: float = HOST_CLOCK_STEP_S, boot_clock: Callable[[], float] = since_boot):
        self.least_s = least_s
        self.boot_clock = boot_clock
        self.seen: tuple[float, float] | None = None     # (wall clock, boot-time clock) at the last look

    def look(self, wall: float) -> float | None:
        """The step (s, signed) the wall clock, reading `wall` now, took since the last look; None under least_s."""
        boot, seen = self.boot_clock(), self.seen
        self.seen = (wall, boot)
        if seen is None:
            return None
        step = (wall - seen[0]) - (boot - seen[1])
        return step if abs(step) > self.least_s else None


class HostClockStepRules:
    """The aligner's answer to a step of this host's clock (see the module's docstring).

    A base of `timebase.TimeBaseRules` (and so of `window.Aligner`): `_init_host_step` sets up its state. It
    reads the aligner's grid (`next_k`, `newest_k`, `last_k`, `usual_step`, `tick_s`) and the live data's
    offset (`live_offset`, agent/live_pace.py), sets the restart rules' wait (`_restart_pending`,
    `_restart_wait_k`: agent/restart_gap.py) and hands the record it moves the grid to back to the aligner
    (`flush_through`, `_take`) and the move to the rules' count (`note_move`). The aligner asks
    `_with_stepped_clock` of a record that would step back, and `_answer_to_step` of one taken in step.
    """

    def _init_host_step(self) -> None:
        """No step of this host's clock awaits its answer; none the data did not follow."""
        self._clock_step: float | None = None    # a step of this host's clock (s), the data's answer awaited
        self._stepped_at = 0.0                   # that clock's reading just after it (`received`'s terms)
        self._offset_before = 0.0                # the live data's stamp minus arrival before it
        #: How far this host's clock is ahead of the live data's after steps of it the data did not follow (a
        #: sender on a clock of its own): arrivals are read less this (`push`), the wall-clock flush too.
        self.host_ahead_s = 0.0
        self._clock_moved_s: float | None = None   # set on the next row closed (Row.clock_moved_s)

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
