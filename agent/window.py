"""From timestamped records to a normalised T × N window.

Three small parts, used in this order by the agent and, in batch form, by the converter's
trainer so that training sees exactly what the agent sees:

- Aligner: puts samples on the tick grid, carries the last value over short gaps, marks
  longer ones missing, and rejects late, duplicate and non-finite samples by rule; a record that
  would move the time base is judged by its clock rules (agent/timebase.py).
- Normaliser: per-sensor (x - mean) / std, missing values set to 0 (the mean).
- WindowBuffer: a ring of the last T normalised rows and their missing-mask, readable as
  one contiguous array without copying.
"""
from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
import warnings

import numpy as np

from . import fastnp as fnp
from .alerts import iso
from .checkpoint import array_like, array_of
from .json_read import finite_number
from .live_pace import DEFAULT_MAX_CLOCK_SKEW_S
from .manifest import Normalisation
from .records import Record, Rejects, more_said, sensors_said, short_repr, span
from .time_base_candidates import candidates_restore, candidates_state
from .timebase import TimeBaseRules
from .typed import did_you_mean

if TYPE_CHECKING:
    from .config import AgentConfig

MAX_TS = 4102444800.0      # 2100-01-01T00:00:00Z
NEAR_NAMES = 256            # unknown sensor names whose "did you mean" the aligner remembers
#: Readings of closed ticks kept to tell a repeat from a late reading (`Aligner._repeated`): the newest closed ticks'
#: used values and their stamps, as many ticks as hold about this many readings, 8 to 256 ticks. Measured (tracemalloc,
#: qa54): ~40 bytes a reading and ~150 a tick — 76 KiB at 18 sensors (113 ticks), 120 KiB at 8 (256), 80 KiB at
#: 256 (8); the floor of 8 ticks makes it grow past that only with the sensors (640 KiB at 2048).
USED_READINGS = 2048
USED_TICKS = (8, 256)


def unit_hint(ts: float) -> str:
    """What a stamp out of 1970–2100 probably is, when it is one in milliseconds, microseconds or
    nanoseconds since 1970 (a PLC's or a script's clock read in ms is the usual mistake): ' (…)'."""
    if not math.isfinite(ts) or ts < MAX_TS:
        return ""
    for scale, unit in ((1e3, "milliseconds"), (1e6, "microseconds"), (1e9, "nanoseconds")):
        if 0.0 <= ts / scale < MAX_TS:
            return f" ({unit} since 1970? the agent reads seconds: send {ts / scale:.3f})"
    return ""


def date_hint(ts: float) -> str:
    """What a stamp written as a date (ISO-8601, a time_format) out of 1970–2100 says: ' (…)'. It is no clock read
    in milliseconds (unit_hint's guess for a number: `9999-12-31T23:59:59Z` was told "milliseconds since 1970? send
    253402300.799", chaos5): its year is as the sender wrote it — a clock never set, or a fixed "no date" value
    such as 9999-12-31."""
    try:
        written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    except (OverflowError, OSError, ValueError):
        written = "before the year 1" if ts < 0 else "after the year 9999"
    return (f" ({written}: a date as the sender wrote it, read as such — a device clock never set, or a fixed "
            "\"no date\" value? set the sender's clock)")


#: The largest reading taken, either sign: past any physical quantity in any unit (a byte counter is
#: ~1e15), and far under where the fault tracker's pair statistics overflow — products of x² terms:
#: three readings of 1e100 made them NaN for good, that sensor's drift rule blind from then on.
MAX_READING = 1e30


@dataclass(slots=True)
class Row:
    """One closed tick: raw values (NaN where missing) and what was observed."""
    ts: float
    values: np.ndarray      # (N,) float64, NaN where missing
    missing: np.ndarray     # (N,) bool: no observation and nothing carried
    carried: np.ndarray     # (N,) bool: value carried forward from an earlier tick
    label: int | None = None
    event: str | None = None
    # The first tick of a time base the data stepped back to: the last tick of the old one. Its owner
    # (Pipeline.step) moves the state that holds times of the old base (Pipeline.rebase).
    rebased_from: float | None = None
    # The first tick after a step of this host's clock the data moved with (HostClockStepRules._move_with_host_clock):
    # the seconds the grid moved, by which its owner moves the times its state keeps (Pipeline.step).
    clock_moved_s: float | None = None

    def with_readings(self, values: np.ndarray, missing: np.ndarray, carried: np.ndarray) -> Row:
        """This tick with other readings (a fault tracker's mask, every tick a fault is open), every other field
        as it is: dataclasses.replace's walk over the fields cost ~2.6 µs a call, this ~0.4 (perf79). A new field
        goes here too (tests/test_perf79_mask.py checks that every field is carried)."""
        return Row(self.ts, values, missing, carried, self.label, self.event, self.rebased_from, self.clock_moved_s)


class Aligner(TimeBaseRules):
    """Buckets samples by tick and closes ticks in order.

    A tick k covers [k·P, (k+1)·P). It stays open until a sample `lateness_ticks + 1`
    ticks newer arrives (or flush_until is called); a sample for an already-closed tick is
    rejected as 'late' (a 'repeated reading' when it is one that tick used, `_repeated`); a second value for one
    sensor in one tick as 'duplicate'. Each reason is counted once a record (qa54).

    Its clock rules — which records would move the time base (a stamp far ahead, a step back, live
    data back after a silence, the first data after a restart) and when they do — are its base
    class, `TimeBaseRules` (agent/timebase.py; a restart's rules in agent/restart_gap.py, a step of
    this host's clock's in agent/host_clock_step.py); the aligner asks them of every record not in step.
    """

    def __init__(self, sensors: list[str], tick_s: float, carry_forward_s: float,
                 lateness_ticks: int, rejects: Rejects, max_gap_ticks: int | None = None,
                 max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S, jump_log_level: int = logging.WARNING):
        self.sensors = list(sensors)
        self.index = {s: i for i, s in enumerate(self.sensors)}
        self.n = len(self.sensors)
        self.tick_s = float(tick_s)
        self.carry_ticks = carry_ticks(carry_forward_s, tick_s)
        self.lateness = int(lateness_ticks)
        self.rejects = rejects
        self.used_ticks = min(max(USED_TICKS[0], USED_READINGS // max(1, self.n)), USED_TICKS[1])    # `used` keeps
        self.max_gap = max_gap_ticks          # longer gaps are skipped, not emitted tick by tick
        # How a confirmed jump of the data is logged: WARNING where the agent runs (a clock to look into); the
        # trainer's batch form passes DEBUG and says a recording's gaps itself, once, as the pieces it trains (qa38).
        self.jump_log_level = jump_log_level
        self._restored: list[Row] = []        # rows `restore` closed, not handed out yet
        self._near_names: dict[object, str] = {}    # unknown sensor -> its "did you mean" (bounded)
        # What a `duplicate` most often means (user24: 20-s loop-detector reports at roadside.yaml's 30-s tick lost a
        # third of the readings under a WARNING that did not say why): said in its first lines' detail.
        self._duplicate_hint = (f"a sender reporting more often than tick_s ({self.tick_s:g} s)? set tick_s to its "
                                f"reporting period")
        self._new_time_base()
        self.reordered = 0
        # The data's usual step between newest ticks (median of the last 15): 1 for dense data, the
        # period for data sparser than the tick, so that its ordinary step is not taken for a jump.
        self.steps_seen: deque[int] = deque(maxlen=15)
        self.usual_step = 1
        self._init_rules(max_clock_skew_s)

    def _new_time_base(self) -> None:
        """No tick open, none closed, nothing to carry: the start, and a confirmed step back."""
        # k -> [values, seen, label, event, held sensor indices or None, each value's record stamp (None: restored)]
        self.open: dict[int, list] = {}
        # The newest closed ticks' used readings, (k, values, stamps) at k % used_ticks (the bucket's lists, kept as
        # they were; a ring: a tick's close stores one tuple, nothing to evict): a record stamped in one of them with
        # the same values is a repeat, not late (`_repeated`, qa54)
        self.used: list[tuple | None] = [None] * self.used_ticks
        self.next_k: int | None = None        # oldest tick not yet closed
        self.newest_k: int | None = None
        self.last_value = np.full(self.n, np.nan)
        self.last_k = np.full(self.n, -(2**62), dtype=np.int64)

    def align_all(self, records) -> list[Row]:
        """Every tick of a finite record stream, the last ones flushed: the batch form."""
        rows: list[Row] = []
        for rec in records:
            rows.extend(self.push(rec))
        rows.extend(self.flush_all())
        return rows

    @classmethod
    def for_agent(cls, cfg: AgentConfig, rejects: Rejects) -> "Aligner":
        """The aligner the daemon (and the evaluator, replaying through it) runs with."""
        return cls(cfg.sensor_names(), cfg.tick_s, cfg.window.carry_forward_s, cfg.window.lateness_ticks,
                   rejects, max_gap_ticks=cfg.window.steps + 1, max_clock_skew_s=cfg.window.max_clock_skew_s)

    def tick_of(self, ts: float) -> int:
        q = ts / self.tick_s
        r = round(q)
        # Epoch stamps on a sub-second grid divide to a hair below their tick: snap within 1e-4 tick,
        # or within the float's own resolution (a few ulps) where that is coarser (millisecond ticks).
        return int(r) if abs(q - r) < max(1e-4, 8 * math.ulp(q)) else int(math.floor(q))

    def push(self, rec: Record) -> list[Row]:
        """Add one record; return the ticks it closed, oldest first (after any a restore closed)."""
        if self._restored:
            return self.restored_rows() + self.push(rec)
        if not (math.isfinite(rec.ts) and 0.0 <= rec.ts < MAX_TS):
            self.rejects.add("bad timestamp", rec.origin,
                             lambda: f"ts={rec.ts!r} of {sensors_said(rec.values)} is not a time between 1970 and 2100"
                             + (date_hint(rec.ts) if rec.ts_text else unit_hint(rec.ts)))
            return []
        now_k = None
        if rec.received is not None and self.host_ahead_s:
            rec.received -= self.host_ahead_s       # the host's clock less its steps the data did not follow
        if rec.received is not None and self.max_clock_skew_s > 0:
            skew = rec.ts - rec.received
            # (not the queue of its source's outage, rec.backlog: stamped inside it, as old as it was long — mqttsrc6)
            if abs(skew) > self.max_clock_skew_s and not (rec.backlog and skew < 0):
                self.rejects.add("clock skew", rec.origin, lambda: f"ts {iso(rec.ts)} of {sensors_said(rec.values)} is "
                                 f"{span(skew, signed=True)} from this host's clock (window.max_clock_skew_s: "
                                 f"{self.max_clock_skew_s:g})")
                return []
            now_k = self.tick_of(rec.received)
        return self._place(self.tick_of(rec.ts), rec, now_k)

    def _place(self, k: int, rec: Record, now_k: int | None = None) -> list[Row]:
        """Take a record that is in step with the time base, hold one that would move it — unless it has no usable
        value (`_says_no_time`)."""
        if self.next_k is not None and k < self.next_k:
            used = self.used[k % self.used_ticks]
            if used is not None and used[0] == k and self._repeated(used, rec):
                return []       # (a reading already used: never a step back, never late)
            if self._clock_step is not None and self._clock_step < 0 and self._with_stepped_clock(rec):
                if self._says_no_time(rec):
                    return []
                return self._move_with_host_clock(k, rec)       # stamped with this host's clock, stepped back
            # (a broker's late delivery, or a publisher's queue of the source's outage: late, never a step back)
            if k < self.next_k - self.reach_ticks and not (rec.resent or rec.backlog):
                return [] if self._says_no_time(rec) or self._arrival_stamp_refused(k, rec) else self._hold_back(k, rec)
            self._late(k, rec)
            return []
        base = self.newest_k if self.newest_k is not None else now_k
        if base is None or k > base + self.usual_step:
            return [] if self._says_no_time(rec) or self._arrival_stamp_refused(k, rec) else self._hold(k, rec)
        rows = self._take(k, rec)
        if not (self.back or self.held) or self._says_no_time(rec, count=False):
            return rows     # (nothing held to count against, take or reject; or no evidence against it)
        if self.back:
            self._contradict_back()
        if not self.held:
            return rows
        return rows + self._settle(in_step_k=k)

    def _says_no_time(self, rec: Record, count: bool = True) -> bool:
        """A record with values none of which is usable (each an unknown sensor, not finite, or past ±MAX_READING)
        is no evidence of the data's clock: it never starts, joins, confirms or contradicts a move of the time base
        (a jump ahead, a step back, one with this host's clock); where it would, it is counted under what is wrong
        with each value (`count`) and goes. In step, it is taken as before (an empty reading of its tick). mqttsrc4:
        the chaos soak's bare NaN payloads, stamped on arrival 9 s ahead of the data the source read behind a
        flood's backlog, confirmed a jump of +9 s, and its 1e31 readings, stamped when sent, a step back of -9 s."""
        if not rec.values or any(self._usable(s, v) for s, v in rec.values.items()):
            return False
        if count:
            self.refused_whole(rec)
        return True

    def _near(self, sensor: object) -> str:
        """' (did you mean 'S02_speed'?)' for a sensor name a configured one almost is (a wrong case, a
        typo), as the config loader says it; looked up once per name (a feed may repeat an unknown
        sensor in every record), remembered for up to NEAR_NAMES names."""
        hint = self._near_names.get(sensor)
        if hint is None:
            hint = did_you_mean(sensor, self.sensors) if isinstance(sensor, str) and len(sensor) <= 200 else ""
            if isinstance(sensor, str) and not hint:
                folded = [s for s in self.sensors if s.casefold() == sensor.casefold()]
                hint = f" (did you mean {folded[0]!r}?)" if folded else ""
            if len(self._near_names) < NEAR_NAMES:
                self._near_names[sensor] = hint
        return hint

    def _late(self, k: int, rec: Record) -> None:
        """A record for a closed tick: `late` — or, stamped inside its source's outage and delivered after it (a
        publisher's queue of a broker outage, rec.backlog), `outage backlog`: not scored either, but no lag or clock of
        the feed's to fix, so not counted where an operator watches for those (user34)."""
        if not self.refused_whole(rec):
            return
        if rec.backlog:
            self.rejects.add("outage backlog", rec.origin, lambda: f"{self._reading_said(rec)}: its tick "
                             f"{iso(k * self.tick_s)} closed while the broker was away: kept by the publisher through "
                             "the outage and sent once it was back, not scored (the source's fault covers those "
                             "ticks); no lag or clock to fix")
        else:
            newest = self.next_k - 1
            self.rejects.add("late", rec.origin, lambda: f"{self._reading_said(rec)}: its tick {iso(k * self.tick_s)} "
                             f"already closed (the data is at {iso(newest * self.tick_s)})"
                             + self._other_value_said(k, rec))

    def _reading_said(self, rec: Record) -> str:
        """"sensor 'a' value 0.3 and 2 more ('b', 'c')": what a refused record read, its other sensors named (by
        station when many: `more_said`)."""
        kept = [(s, v) for s, v in rec.values.items() if self._usable(s, v)] or list(rec.values.items())
        if not kept:
            return f"a record at {iso(rec.ts)} with no values"
        sensor, value = kept[0]
        return f"sensor {short_repr(sensor)} value {short_repr(value)}" + more_said([s for s, _ in kept])

    def _other_value_said(self, k: int, rec: Record) -> str:
        """"; 'b' was 10 at that stamp, this one 11: not a repeat" where a kept closed tick (`used`) has a reading of
        one of the record's sensors stamped the same, of another value (qa54)."""
        used = self.used[k % self.used_ticks]
        if used is None or used[0] != k:
            return ""
        _, values, stamps = used
        for sensor, value in rec.values.items():
            i = self.index.get(sensor)
            if i is not None and stamps[i] == rec.ts and values[i] != value:
                return f"; {short_repr(sensor)} was {values[i]!r} at that stamp, this one {value!r}: not a repeat"
        return ""

    def _repeated(self, used: tuple, rec: Record) -> bool:
        """A record for closed tick k whose every usable value is a reading that tick used — same sensor, same stamp,
        same value (a file or a queue replayed after its ticks closed, an MQTT QoS 1 redelivery after a reconnect):
        counted `repeated reading` once (its bad values under their own reasons) and gone — not `late`, and never a
        step back of the time base (qa54: a replay's repeats 10 ticks back moved the data's time base back). One
        value that differs, or a sensor the tick did not use: not a repeat (`_late`, or a step back, as before)."""
        k, values, stamps = used
        index, ts, matched = self.index, rec.ts, 0
        for sensor, value in rec.values.items():
            i = index.get(sensor)
            if i is None or value is None or not -MAX_READING <= value <= MAX_READING:
                continue
            if stamps[i] != ts or values[i] != value:
                return False
            matched += 1
        if not matched:
            return False
        self.refused_whole(rec)
        self.rejects.add("repeated reading", rec.origin, lambda: f"{self._reading_said(rec)} at {iso(rec.ts)}: the "
                         "same reading again after its tick closed (same stamp, same value), used once — a sender or "
                         "a replay repeating itself (MQTT QoS 1 redelivery, a file read again); not late")
        return True

    def _usable(self, sensor, value) -> bool:
        """A configured sensor's finite value within ±MAX_READING: what a tick can take."""
        return sensor in self.index and value is not None and -MAX_READING <= value <= MAX_READING

    def refused_whole(self, rec: Record) -> bool:
        """A record refused whole (`late`, a `timestamp jump`; one with no usable value where it would move the time
        base, `_says_no_time`): its bad values counted under their own reasons, as `_take` counts them; whether the
        refusal is to be counted too — it had a usable value, or none at all. Each fault once: a NaN reading a
        broker held past its tick was counted `late` (mqttsrc2's chaos s36)."""
        usable = not rec.values
        bad = None
        for sensor, value in rec.values.items():
            if self._usable(sensor, value):
                usable = True
            elif bad is None:
                bad = [(sensor, value)]
            else:
                bad.append((sensor, value))
        if bad is not None:
            self._count_bad_values(rec, bad)
        return usable

    def _count_bad_values(self, rec: Record, bad: list[tuple]) -> None:
        """A record's values a tick cannot take, (sensor, value) each — an unknown sensor, a value past ±MAX_READING,
        one not finite —, each reason counted once for the record (qa54: a record of 18 NaN readings was 18 rejects
        beside `records in`), said with its first three values."""
        index = self.index
        unknown, beyond, odd = [], [], []
        for item in bad:
            if item[0] not in index:
                unknown.append(item)
            elif item[1] is not None and math.isfinite(item[1]):
                beyond.append(item)
            else:
                odd.append(item)
        if unknown:
            self.rejects.add("unknown sensor", rec.origin, lambda: self._bad_said(unknown, near=True))
        if beyond:
            self.rejects.add("value out of range", rec.origin,
                             lambda: f"{self._bad_said(beyond)} (beyond ±{MAX_READING:g})")
        if odd:
            self.rejects.add("non-finite value", rec.origin, lambda: self._bad_said(odd))

    def _bad_said(self, items: list[tuple], near: bool = False) -> str:
        """A record's bad values of one reason in words: each sensor (`near`: and the name it almost is) with its
        value, the first three, and how many in all."""
        said = "; ".join(f"sensor {short_repr(sensor)}{self._near(sensor) if near else ''} value {short_repr(value)}"
                         for sensor, value in items[:3])
        return said + (f"; … ({len(items)} of the record's values)" if len(items) > 3 else "")

    def _take(self, k: int, rec: Record) -> list[Row]:
        """Put an accepted record in its tick's bucket; return the ticks that closes."""
        if self._clock_step is None:
            self._restart_pending = False
        else:                               # a step of this host's clock: does this record answer it?
            self._answer_to_step(rec)
        if self.next_k is None:
            self.next_k = k
        if rec.received is not None:
            self.note_live(rec)
        if self.newest_k is not None and k < self.newest_k:
            self.reordered += 1
        bucket = self.open.get(k)
        if bucket is None:
            # Python lists while the tick is open (a list item is read and written in a third of a
            # numpy scalar's time, 18 sensors a record); close() makes the row's arrays of them.
            bucket = self.open[k] = [[math.nan] * self.n, [False] * self.n, None, None, None, [None] * self.n]
        values, seen, stamps = bucket[0], bucket[1], bucket[5]
        index = self.index
        held = rec.held
        bad = again = None      # values not taken, each reason counted once for the record below (qa54)
        for sensor, value in rec.values.items():
            i = index.get(sensor)
            if i is None or value is None or not -MAX_READING <= value <= MAX_READING:     # (False for NaN too)
                if bad is None:
                    bad = []
                bad.append((sensor, value))
                continue
            if seen[i]:
                if not held and bucket[4] is not None and i in bucket[4]:
                    # the value a source re-sent because it holds gives way to a reading of its tick: the change
                    # came after the hold (an OPC UA publish a second late; user23: the stale value was scored)
                    bucket[4].discard(i)
                    values[i] = value
                    stamps[i] = rec.ts
                    continue
                if again is None:
                    again = []
                again.append((sensor, value, values[i], stamps[i]))
                continue
            values[i] = value
            seen[i] = True
            stamps[i] = rec.ts
            if held:
                if bucket[4] is None:
                    bucket[4] = set()
                bucket[4].add(i)
        if bad is not None:
            self._count_bad_values(rec, bad)
        if again is not None:
            self._second_values(k, rec, again)
        if rec.label is not None:
            bucket[2] = max(bucket[2] or 0, int(rec.label))
        if rec.event is not None and bucket[3] is None:
            bucket[3] = rec.event
        if self.newest_k is None or k > self.newest_k:
            if self.newest_k is not None:
                self.steps_seen.append(k - self.newest_k)
                self.usual_step = sorted(self.steps_seen)[len(self.steps_seen) // 2]
            self.newest_k = k
        return self.flush_through(self.newest_k - self.lateness - 1)

    def _second_values(self, k: int, rec: Record, again: list[tuple]) -> None:
        """Second values in tick k of sensors it has one of, (sensor, value, the first value, its stamp) each (the
        first is kept). The same reading again — same stamp, same value: a sender repeating itself (an MQTT QoS 1
        redelivery, a forwarder that sends each message twice, a line written twice) — is a `repeated reading`,
        nothing lost and nothing to set; another reading in the tick is a `duplicate`: a sender reporting more often
        than tick_s (said with that advice), or, stamped the same as the first with another value, two senders of one
        sensor (qa53: qa52 found every repeat told to change tick_s). Each reason counted once for the record (qa54)."""
        repeats = [a for a in again if a[3] == rec.ts and a[2] == a[1]]
        others = [a for a in again if not (a[3] == rec.ts and a[2] == a[1])] if len(repeats) < len(again) else ()
        if repeats:
            self.rejects.add("repeated reading", rec.origin, lambda: f"{sensors_said(a[0] for a in repeats)} at "
                             f"{iso(rec.ts)}: the same reading again (same stamp, "
                             "same value), used once — a sender repeating itself (MQTT QoS 1 redelivery, a message "
                             "forwarded twice, a line written twice)")
        if others:
            self.rejects.add("duplicate", rec.origin, lambda: self._duplicate_said(k, rec, others))

    def _duplicate_said(self, k: int, rec: Record, others: list[tuple]) -> str:
        """A record's `duplicate` in words: its first second value, how many more, and what it most likely means."""
        sensor, value, first, first_ts = others[0]
        said = (f"{sensors_said(a[0] for a in others)} already ha" + ("ve" if len(others) > 1 else "s")
                + f" a value at tick {iso(k * self.tick_s)}")
        if first_ts == rec.ts:
            return (f"{said} stamped the same, {first!r}; this one, {value!r}, is not used (two senders of one sensor? "
                    "check the sensor mapping)")
        return f"{said} (the first is kept; {self._duplicate_hint})"

    def flush_until(self, ts: float) -> list[Row]:
        """Close every tick that ended before `ts` (wall clock, for live sources; less `host_ahead_s`, the steps
        of that clock the data did not follow); held candidates it passes are settled first, and after a
        restart (or a step of this host's clock forward) it waits a while for the first data."""
        if self._restored:
            return self.restored_rows() + self.flush_until(ts)
        ts -= self.host_ahead_s
        last_k = self.tick_of(ts) - self.lateness - 1
        rows = self._settle_passed(last_k)
        if self.next_k is None or self._waiting_after_restart(ts):
            return rows
        return rows + self.flush_through(last_k)

    def flush_all(self) -> list[Row]:
        """The end of the input: settle held candidates, close every open tick."""
        if self._restored:
            return self.restored_rows() + self.flush_all()
        rows = self._settle_at_end()
        if self.newest_k is None:
            return rows
        return rows + self.flush_through(self.newest_k)

    def flush_through(self, last_k: int) -> list[Row]:
        rows: list[Row] = []
        if self.next_k is None or last_k < self.next_k:
            return rows
        k = self.next_k
        while k <= last_k:
            if self.max_gap is not None and k not in self.open:
                nxt = min((j for j in self.open if j > k), default=last_k + 1)
                if nxt - k > self.max_gap:
                    # A long outage: emit enough empty ticks to flush the window, skip the rest.
                    for j in range(k, k + self.max_gap):
                        rows.append(self.close(j))
                    k = min(nxt, last_k + 1)
                    continue
            rows.append(self.close(k))
            k += 1
        self.next_k = k
        return rows

    def close(self, k: int) -> Row:
        bucket = self.open.pop(k, None)
        if bucket is not None:
            values, seen, label, event = bucket[:4]     # lists (a restored bucket: arrays, copied alike)
            values, seen = np.array(values, np.float64), np.array(seen, bool)
            fnp.copyto(self.last_value, values, where=seen)
            fnp.copyto(self.last_k, k, where=seen)
            self.used[k % self.used_ticks] = (k, bucket[0], bucket[5])     # (a restored tick's stamps are None)
        else:
            values, seen, label, event = np.full(self.n, np.nan), np.zeros(self.n, bool), None, None
        # ~seen & (k - last_k <= carry_ticks), and ~seen & ~carry: the same integers compared, the same bools
        carry = np.greater_equal(self.last_k, k - self.carry_ticks)
        carry &= ~seen
        values = fnp.where(carry, self.last_value, values)
        missing = np.logical_or(seen, carry)
        missing = np.logical_not(missing, out=missing)
        row = Row(ts=k * self.tick_s, values=values, missing=missing, carried=carry, label=label, event=event)
        if self._rebased_from is not None:
            row.rebased_from, self._rebased_from = self._rebased_from, None
        if self._clock_moved_s is not None:
            row.clock_moved_s, self._clock_moved_s = self._clock_moved_s, None
        return row

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    @property
    def last_closed_k(self) -> int | None:
        return None if self.next_k is None else self.next_k - 1

    def state_dict(self) -> dict:
        ks = sorted(self.open)
        return {"next_k": self.next_k, "newest_k": self.newest_k,
                "last_value": self.last_value, "last_k": self.last_k,
                "open_k": np.array(ks, np.int64).reshape(-1),
                "open_values": np.array([self.open[k][0] for k in ks], np.float64).reshape(-1, self.n),
                "open_seen": np.array([self.open[k][1] for k in ks], bool).reshape(-1, self.n),
                # which of those values a source re-sent because it holds (`Record.held`): a reading of the tick
                # that comes after the restart replaces it, as before it (qa41: before, `duplicate`, the stale
                # value scored)
                "open_held": np.array([[i in (self.open[k][4] or ()) for i in range(self.n)] for k in ks],
                                      bool).reshape(-1, self.n),
                "held": candidates_state(self.held, self.sensors), "back": candidates_state(self.back, self.sensors),
                "live_offset": self.live_offset, "steps_seen": np.array(self.steps_seen, np.int64),
                "host_ahead_s": self.host_ahead_s, **self.pace_state(), **self._used_state()}

    def _used_state(self) -> dict:
        """The used readings' ring (`used`) as the checkpoint keeps it, oldest tick first: each tick's number, its
        values (NaN where it had none) and their stamps (NaN where unknown). Bounded as the ring is (USED_READINGS:
        +21–23 KiB a checkpoint, measured). Why (qa55): without it, the last run's final readings sent again after a
        restart (a forwarder re-sending its buffer, a file read again, an MQTT QoS 1 redelivery) were `late`, or taken
        for the data's clock stepping back (`time base moved back: -19 s`, the window refilled)."""
        used = sorted((u for u in self.used if u is not None), key=lambda u: u[0])
        return {"used_k": np.array([u[0] for u in used], np.int64).reshape(-1),
                "used_values": np.array([u[1] for u in used], np.float64).reshape(-1, self.n),
                "used_stamps": np.array([[math.nan if t is None else t for t in u[2]] for u in used],
                                        np.float64).reshape(-1, self.n)}

    def _used_restored(self, state: dict, next_k: int | None) -> list[tuple | None]:
        """The used readings' ring of a checkpoint (`_used_state`): its ticks before `next_k` at their places (the
        newest of any two at one place); an empty ring from a checkpoint written before it was kept (a repeat of
        the last run's readings then meets the rules as before qa55). ValueError naming the key when it is no
        ring of this agent's sensors."""
        used: list[tuple | None] = [None] * self.used_ticks
        if "used_k" not in state:
            return used
        ks = array_of(state["used_k"], "aligner.used_k", np.int64, 1)
        values = array_of(state["used_values"], "aligner.used_values", np.float64, 2, self.n)
        stamps = array_of(state["used_stamps"], "aligner.used_stamps", np.float64, 2, self.n)
        if not len(ks) == len(values) == len(stamps):
            raise ValueError("aligner.used_k: ticks, values and stamps differ in length")
        for k, v, t in sorted(zip(ks.tolist(), values.tolist(), stamps.tolist())):
            if next_k is not None and k < next_k:
                used[k % self.used_ticks] = (k, v, [None if math.isnan(x) else x for x in t])
        return used

    @staticmethod
    def host_ahead_in(state: dict) -> float:
        """A checkpoint's `host_ahead_s` (0 in one written before it was kept): how far this host's clock was
        ahead of the live data's after steps of it the data did not follow (agent/host_clock_step.py)."""
        ahead = state.get("host_ahead_s", 0.0)
        if not finite_number(ahead):
            raise ValueError("aligner.host_ahead_s: expected seconds")
        return float(ahead)

    def restore(self, state: dict, trusted: bool = True) -> None:
        """Resume where a checkpoint left off: ticks up to its last closed one are 'late', and the
        ticks between it and the first new sample close as in an outage (carried, then missing), or
        are skipped as the agent's downtime (agent/restart_gap.py). Live data back after a silence that was
        held in it is taken now (`_settle_restored`): its rows, the silence's and its own, are handed
        out first — `restored_rows()`, or with the next push or flush. Not `trusted` (a checkpoint an
        earlier release wrote, which it did also while its own restart was pending: agent/resume.py
        CLAIMS_RULE), none of the records it held is taken as the last run's: its owner rejects them
        (`reject_held`) once the restore is in."""
        last_value = array_like(state["last_value"], self.last_value, "aligner.last_value")
        last_k = array_like(state["last_k"], self.last_k, "aligner.last_k")
        ks = array_of(state["open_k"], "aligner.open_k", np.int64, 1)
        values = array_of(state["open_values"], "aligner.open_values", np.float64, 2, self.n)
        seen = array_of(state["open_seen"], "aligner.open_seen", bool, 2, self.n)
        # (a checkpoint from before the held values were kept: none held)
        held_values = array_of(state["open_held"], "aligner.open_held", bool, 2, self.n) if "open_held" in state \
            else np.zeros_like(seen)
        if not (len(ks) == len(values) == len(seen) == len(held_values)):
            raise ValueError("aligner.open_k: buckets and values differ in length")
        ints = {}
        for key in ("next_k", "newest_k"):
            v = state[key]
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise ValueError(f"aligner.{key}: expected a tick number")
            ints[key] = v
        held, back = (candidates_restore(state.get(key), key, self.sensors) for key in ("held", "back"))
        host_ahead = self.host_ahead_in(state)
        pace = self.pace_in(state)
        # (a checkpoint from before these were kept: no offset, no steps — the usual step is 1 until seen)
        offset = state.get("live_offset")
        steps = array_of(state.get("steps_seen", np.zeros(0, np.int64)), "aligner.steps_seen", np.int64, 1)
        if len(steps) > (self.steps_seen.maxlen or 0) or np.any(steps < 1):
            raise ValueError("aligner.steps_seen: expected at most 15 steps of one tick or more")
        if offset is not None and not finite_number(offset):
            raise ValueError("aligner.live_offset: expected seconds")
        used = self._used_restored(state, ints["next_k"])
        self.next_k, self.newest_k = ints["next_k"], ints["newest_k"]
        self.used = used
        self.held, self.back = held, back
        self.last_value, self.last_k = last_value, last_k
        # (its values' stamps are not kept: a reading of a restored tick again is a `duplicate`, as before qa53)
        self.open = {int(k): [v, m, None, None, set(np.flatnonzero(h & m).tolist()) or None, [None] * self.n]
                     for k, v, m, h in zip(ks, values, seen, held_values)}
        self.live_offset = None if offset is None else float(offset)
        self.host_ahead_s = host_ahead
        self.restore_pace(pace)
        for cand in held:       # the last run's (judged as such when its clock's offset was kept; else as before)
            cand.restored = len(cand.records) if offset is not None else 0
        self.steps_seen.clear()
        self.steps_seen.extend(int(k) for k in steps)
        self.usual_step = sorted(self.steps_seen)[len(self.steps_seen) // 2] if self.steps_seen else 1
        self._restart_pending, self._restart_wait_k = self.next_k is not None, None
        self._restored = self._settle_restored() if trusted else []

    def restored_rows(self) -> list[Row]:
        """The rows `restore` closed (the last run's data held back after a silence, and the silence),
        once: its owner steps them before it judges the restart's gap, which starts after them."""
        rows, self._restored = self._restored, []
        return rows


def std_floor(mean: np.ndarray) -> np.ndarray:
    """The smallest std a sensor is normalised by: a flat sensor stays finite (1e-6, or a thousandth of
    its mean's size)."""
    return np.maximum(1e-6, 1e-3 * np.abs(mean))


#: Warm-up rows normalised at a time by `apply`: its float64, float32 and bool temporaries for a whole
#: day of ticks (~0.65 MiB on the demo) set the tflite agent's peak resident size (perf44).
APPLY_ROWS = 256


@dataclass
class Normaliser:
    mean: np.ndarray
    std: np.ndarray
    # `into`'s row in float64 and its kept flags, made once: the tick's row allocates nothing
    _z: np.ndarray = field(init=False, repr=False, compare=False)
    _kept: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._z = np.empty(np.shape(self.mean), np.float64)
        self._kept = np.empty(np.shape(self.mean), bool)

    @classmethod
    def fit(cls, raw: np.ndarray) -> "Normaliser":
        """Per-sensor mean and std of raw rows (NaN = missing); a floor keeps flat sensors finite."""
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # a never-observed sensor: the floor below
            mean = np.nanmean(raw, axis=0)
            std = np.nanstd(raw, axis=0)
        mean = fnp.where(np.isfinite(mean), mean, 0.0)
        floor = std_floor(mean)
        std = fnp.where(np.isfinite(std) & (std > floor), std, floor)
        return cls(mean=mean.astype(np.float64), std=std.astype(np.float64))

    def floored(self) -> np.ndarray:
        """Where a sensor's std is `fit`'s floor: it did not move (or was never read) in the rows the
        normalisation was fitted on, so its normal spread is unknown and any change of it scores in
        units of the floor — far over any threshold, for as long as it differs."""
        return self.std <= std_floor(self.mean)

    @classmethod
    def from_manifest(cls, norm: Normalisation, sensors: list[str]) -> "Normaliser":
        return cls(mean=np.array([norm.mean[s] for s in sensors], float),
                   std=np.array([norm.std[s] for s in sensors], float))

    def to_manifest(self, sensors: list[str]) -> Normalisation:
        return Normalisation(mean={s: float(m) for s, m in zip(sensors, self.mean)},
                             std={s: float(d) for s, d in zip(sensors, self.std)})

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Normalise rows of raw values; NaN (missing), and a value whose z is past float32's range
        (±3.4e38: not a number the window can hold), become 0. Works on (N,) or (n, N)."""
        shape = np.broadcast_shapes(np.shape(raw), np.shape(self.mean))
        out = np.empty(shape, np.float32)
        if len(shape) != 2 or np.shape(raw) != shape:
            self._normalise(raw, np.empty(shape, np.float64), np.empty(shape, bool), out)
            return out
        block = (min(APPLY_ROWS, shape[0]), shape[1])
        z, kept = np.empty(block, np.float64), np.empty(block, bool)
        for i in range(0, shape[0], APPLY_ROWS):    # element by element: the same bits in blocks
            k = min(APPLY_ROWS, shape[0] - i)
            self._normalise(raw[i:i + k], z[:k], kept[:k], out[i:i + k])
        return out

    def into(self, raw: np.ndarray, out: np.ndarray) -> np.ndarray | None:
        """`apply` of one row (N,) written into `out` (float32; (N,), or rows of N that each get it),
        through the buffers made with the normaliser: the tick's row makes no new arrays. None when
        every value was kept, else the kept flags (a buffer: valid until the next call)."""
        return None if self._normalise(raw, self._z, self._kept, out) else self._kept

    def _normalise(self, raw: np.ndarray, z: np.ndarray, kept: np.ndarray, out: np.ndarray) -> bool:
        """(raw - mean) / std in float64, rounded into out (float32; astype's rounding: past float32's range,
        inf), then 0 where that is not finite; True when every value was kept. `kept` is the shape of one
        of out's rows when out is rows that each get it (into's two ring rows): they hold the same values.
        (Rounded straight into out: perf45 — through a float32 buffer it was one copy more a tick.)"""
        np.subtract(raw, self.mean, z)           # (out by position: no keyword to parse, perf45)
        np.divide(z, self.std, z)
        fnp.copyto(out, z)      # (casting "same_kind", copyto's default; divide's out= casts too, but ~0.35 µs dearer)
        np.isfinite(out if out.ndim == kept.ndim else out[0], kept)
        if fnp.count_nonzero(kept) == kept.size:
            return True
        fnp.copyto(out, 0.0, where=~kept)
        return False

    def state_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def restored(cls, state: dict, n: int) -> "Normaliser":
        mean = array_like(state["mean"], np.zeros(n), "normaliser.mean")
        std = array_like(state["std"], np.zeros(n), "normaliser.std")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError("normaliser: mean/std not finite, or std not positive")
        return cls(mean=mean, std=std)


class WindowBuffer:
    """The last T ticks × N sensors, oldest first, as contiguous views (a doubled ring)."""

    def __init__(self, steps: int, n: int):
        self.steps = steps
        self.n = n
        self._values = np.zeros((2 * steps, n), np.float32)
        self._missing = np.ones((2 * steps, n), bool)
        self._ts = np.full(2 * steps, np.nan)
        self._head = 0          # where the next row goes (in [0, T))
        self.newest_ts = math.nan       # float(ts[-1]), kept by each push (read a few times a tick; perf65)
        self.filled = 0
        # Each head's views, made the first time the ring is there (the arrays are only ever written in
        # place): a move then makes no view — five slices a tick were ~0.7 µs of the tick's (perf54).
        self._at: list[tuple | None] = [None] * steps
        self._point()

    def _point(self) -> None:
        """The window's views for the current head (a tick reads them a dozen times): `values` (T, N)
        float32 normalised, oldest first (missing rows are 0), `missing`, `ts`, the newest row of the first two
        (`newest_values`, `newest_missing`: values[-1] and missing[-1], which the model tier and the fallback's
        kept tick read every tick: no index a tick; perf65) and the two ring rows the next push writes
        (`_next_values`, `_next_missing`: rows h and h + T); the newest row's `newest_seen` and `newest64` are
        made when first read."""
        h = self._head
        views = self._at[h]
        if views is None:
            t = self.steps
            views = self._at[h] = (self._values[h:h + t], self._missing[h:h + t], self._ts[h:h + t],
                                   self._values[h + t - 1], self._missing[h + t - 1],
                                   self._values[h::t], self._missing[h::t])
        (self.values, self.missing, self.ts, self.newest_values, self.newest_missing,
         self._next_values, self._next_missing) = views
        self._newest_seen = None
        self._newest64 = None

    @property
    def newest_seen(self) -> np.ndarray:
        """~missing[-1], made once a push when first read (do not write to it): only the fallback reads
        it, so a tick the model tier scores alone makes none (perf45)."""
        v = self._newest_seen
        if v is None:
            v = self._newest_seen = ~self.newest_missing
        return v

    @property
    def newest64(self) -> np.ndarray:
        """The newest row as float64, made once a push when first read (do not write to it). The
        fallback's arithmetic on the float32 row is float64 arithmetic on it converted, exactly:
        on this row it is the same bits, without a conversion in every call that reads it."""
        v = self._newest64
        if v is None:
            v = self._newest64 = self.newest_values.astype(np.float64)
        return v

    def push(self, z: np.ndarray, missing: np.ndarray, ts: float) -> None:
        self._next_values[...] = z      # rows h and h + T (the ring is 2T rows): one write each
        self._advance(missing, ts)

    def push_raw(self, raw: np.ndarray, missing: np.ndarray, ts: float, normaliser: Normaliser) -> None:
        """push(normaliser.apply(raw), missing, ts), normalised straight into the ring's two rows; a
        value the normaliser could not keep (past float32's range) is missing, as it reads 0 there."""
        kept = normaliser.into(raw, self._next_values)
        # A missing value is NaN (Row), never kept: a value neither kept nor missing is one past the range
        if kept is not None and fnp.count_nonzero(kept) + fnp.count_nonzero(missing) < kept.size:
            missing = missing | ~kept
        self._advance(missing, ts)

    def _advance(self, missing: np.ndarray, ts: float) -> None:
        h, t = self._head, self.steps
        self._next_missing[...] = missing
        self._ts[h] = self._ts[h + t] = ts      # (two scalars: a strided slice's write costs ~0.5 µs more)
        self.newest_ts = float(ts)              # (what ts[-1] holds: the same float64)
        self._head = h + 1 if h + 1 < t else 0
        if self.filled < t:
            self.filled += 1
        self._point()

    @property
    def ready(self) -> bool:
        return self.filled == self.steps

    def row(self, back: int) -> np.ndarray:
        """The row `back` ticks before the newest (0 = newest)."""
        return self._values[self._head + self.steps - 1 - back]

    def state_dict(self) -> dict:
        return {"values": self.values, "missing": self.missing, "ts": self.ts, "filled": self.filled}

    def restore(self, state: dict) -> None:
        """Validates everything before changing anything; the rows land oldest first."""
        values = array_like(state["values"], self.values, "window.values")
        missing = array_like(state["missing"], self.missing, "window.missing")
        ts = array_like(state["ts"], self.ts, "window.ts")
        filled = int(state["filled"])
        if not 0 <= filled <= self.steps:
            raise ValueError(f"window.filled: {filled} not in 0..{self.steps}")
        t = self.steps
        self._values[:t] = self._values[t:] = values
        self._missing[:t] = self._missing[t:] = missing
        self._ts[:t] = self._ts[t:] = ts
        self._head = 0
        self.filled = filled
        self._point()
        self.newest_ts = float(self.ts[-1])


def carry_ticks(carry_forward_s: float, tick_s: float) -> int:
    """How many ticks a reading is carried forward over (the Aligner's; convert/data.py sizes the empty stretch it
    keeps of a long gap by it): whole ticks of `carry_forward_s`, a hair under a whole one counted whole."""
    return int(math.floor(carry_forward_s / tick_s + 1e-9))


def align_records(records, sensors: list[str], tick_s: float, carry_forward_s: float,
                  lateness_ticks: int = 0, rejects: Rejects | None = None,
                  max_gap_ticks: int | None = None, jump_log_level: int = logging.WARNING) -> list[Row]:
    """Batch form of the Aligner, for training (`max_gap_ticks`, `jump_log_level`: the Aligner's)."""
    return Aligner(sensors, tick_s, carry_forward_s, lateness_ticks, rejects or Rejects(),
                   max_gap_ticks=max_gap_ticks, jump_log_level=jump_log_level).align_all(records)


def stack_rows(rows: list[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ts (n,), raw values (n, N), missing (n, N))."""
    if not rows:
        return np.zeros(0), np.zeros((0, 0)), np.zeros((0, 0), bool)
    return (np.array([r.ts for r in rows]), np.stack([r.values for r in rows]),
            np.stack([r.missing for r in rows]))


def sliding_windows(z: np.ndarray, missing: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """All windows of `steps` consecutive rows: (n - T + 1, T, N) views, as WindowBuffer holds them."""
    from numpy.lib.stride_tricks import sliding_window_view
    vw = sliding_window_view(z, steps, axis=0).transpose(0, 2, 1)
    mw = sliding_window_view(missing, steps, axis=0).transpose(0, 2, 1)
    return vw, mw
