"""The warm-up's rows, held as four arrays instead of a list of Row objects.

The pipeline keeps every warm-up tick until the fallback is fitted (a day of ticks on the demo:
2880 × 18 sensors). As Row objects — a dataclass and three small numpy arrays each — that took
~2.6 MiB; as preallocated arrays, 0.5 MiB, and the fit reads them as they are, without stacking
2880 rows into new arrays first. The arrays are released (`clear`) when the warm-up is done.

A recording given as `warmup.replay` (`read_replay`) is kept to its newest `replay_max_ticks`: given
whole, a week of an 8-sensor skid at 1 s peaked at 550 MB and 4 weeks at 2.1 GB, past the unit's
MemoryMax=512M, and READY=1 came after TimeoutStartSec=120: such a gateway never started. One file
longer than that bound is read from its tail (`_read_tail`): 4 weeks in one file were read whole and
let go but for their last 2 days, READY=1 after 52 s of CPU; sought into, after 6 s.

A stop asked while a recording is read (SIGTERM: `systemctl stop`, a restart) is looked at every
STOP_CHECK_RECORDS records (`ReplayStopped`): before, it took effect only after the whole read and
the fit, minutes on a long recording — past systemd's TimeoutStopSec, so a SIGKILL. Nothing half-read
is fitted or checkpointed: the next start reads the recording again (a checkpoint of a warm-up cut
short would say the replay was done, and the next start would warm up on live data instead).
"""
from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Callable

import numpy as np

from .quantile import quantile
from .window import Normaliser, Row, carry_ticks

from .records import Rejects

if TYPE_CHECKING:
    from .config import AgentConfig, WarmupConfig

#: A sensor's warm-up readings whose median lies this many of the bundle's std from its mean, or
#: whose median and spread are both under 1/this of the bundle's mean and std, are not in the units
#: the bundle was trained on. A plant's real change after training is not that (the demo's quiet
#: night hour as warm-up: its flows 1/5 of the day's mean, their spread 1/50 of its std).
UNIT_RATIO = 30.0


#: `warmup.replay_max_ticks` when it is not set: the warm-up keeps this many readings (ticks × sensors)
#: of a recording, the newest: two days of an 8-sensor skid at 1 s (172,800 ticks: the agent's peak
#: RSS 72.6 MB), enough for the threshold clock's 2 daily periods. A week given whole peaked at 550 MB,
#: over the unit's MemoryMax=512M, and grew with every day more (bench/warmup.py; README "Warming up on
#: a long recording").
REPLAY_READINGS = 2 * 86_400 * 8
#: While a recording is read, this often (s): EXTEND_TIMEOUT_USEC and a watchdog ping (`alive`).
READ_PING_S = 5.0
#: What each EXTEND_TIMEOUT_USEC asks systemd for (s): while reading, 12 pings' worth (a loaded
#: gateway's slow read is not a hung start; a hung one is stopped a minute after its last ping); before
#: the fit, which pings nothing, 300 s (the fit of the default bound takes ~5 s CPU on x86-64).
WARMUP_READ_EXTEND_S = 60.0
WARMUP_FIT_EXTEND_S = 300.0
#: While a recording is read, a stop is looked for this often (records): ~2 ms of reading on x86-64.
STOP_CHECK_RECORDS = 1024
#: A file read from its tail (`_read_tail`): its line length is guessed from this many bytes at its
#: end, the first guess of how far back to start is this much more than that makes it, and at least
#: this many ticks read before the first kept (`tail_lead`).
TAIL_SAMPLE_BYTES = 65_536
TAIL_MARGIN = 1.25
TAIL_LEAD_TICKS = 1024

log = logging.getLogger("stad.agent")


class ReplayStopped(Exception):
    """A stop was asked while `warmup.replay` was read; `read`: the ticks read until then."""

    def __init__(self, read: int):
        super().__init__(f"a stop was asked after {read:,} recorded ticks read")
        self.read = read


class WarmupRows:
    """Rows appended one at a time: `ts` (n,), `values` (n, N) raw, NaN where missing, `missing`
    and `carried` (n, N) bool — views of the rows so far. Room for `capacity` rows at first,
    grown by half when a warm-up counting only rows with data needs more ticks than that.

    With a `limit` only the newest `limit` rows are kept (a long recording read into it): room
    for at most 2 × limit, and when that is full the newest limit - 1 are moved to the front, so
    memory stays bounded whatever the number of rows appended; `dropped` counts the rows let go."""

    @staticmethod
    def row_bytes(sensors: int) -> int:
        """The bytes one row takes: its time, its raw values, its missing and carried flags."""
        return 8 + 8 * sensors + 2 * sensors

    def __init__(self, sensors: int, capacity: int, limit: int | None = None):
        self.sensors = sensors
        self.limit = limit
        self.dropped = 0
        self._len = 0
        self._alloc(max(1, capacity if limit is None else min(capacity, 2 * limit)))

    def _alloc(self, capacity: int) -> None:
        n, keep = self.sensors, self._len
        old = (self._ts, self._values, self._missing, self._carried) if keep else None
        self._ts = np.empty(capacity)
        self._values = np.empty((capacity, n))
        self._missing = np.empty((capacity, n), bool)
        self._carried = np.empty((capacity, n), bool)
        if old is not None:
            for new, prev in zip((self._ts, self._values, self._missing, self._carried), old):
                new[:keep] = prev[:keep]

    def __len__(self) -> int:
        return self._len

    def append(self, row: Row) -> None:
        i = self._len
        if i == len(self._ts):
            if self.limit is None:
                self._alloc(i + i // 2 + 1)
            elif i < 2 * self.limit:
                self._alloc(min(i + i // 2 + 1, 2 * self.limit))
            else:
                i = self._keep_newest(self.limit - 1)
        self._ts[i] = row.ts
        self._values[i] = row.values
        self._missing[i] = row.missing
        self._carried[i] = row.carried
        self._len = i + 1

    def _keep_newest(self, keep: int) -> int:
        drop = self._len - keep
        for a in (self._ts, self._values, self._missing, self._carried):
            a[:keep] = a[drop:self._len]      # numpy copes with the overlap (trim): as if copied first
        self._len = keep
        self.dropped += drop
        return keep

    def trim(self) -> None:
        """Keep the newest `limit` rows only (appending keeps up to 2 × limit - 1)."""
        if self.limit is not None and self._len > self.limit:
            self._keep_newest(self.limit)

    @classmethod
    def joined(cls, parts: list["WarmupRows"]) -> "WarmupRows":
        """One WarmupRows of `parts`' rows in order (each part given back as it is copied)."""
        out = cls(parts[0].sensors, sum(len(p) for p in parts))
        for p in parts:
            k, n = out._len, len(p)
            for new, arr in zip((out._ts, out._values, out._missing, out._carried), (p.ts, p.values, p.missing, p.carried)):
                new[k:k + n] = arr
            out._len = k + n
            p.clear()
        return out

    def forget_values(self) -> None:
        """Give back the raw values' memory once they are normalised (the other columns are kept):
        the warm-up's fit, which sets the run's peak resident size, then runs without them
        (~0.4 MiB on the demo). `values` is empty afterwards; appending is for `clear` to allow."""
        self._values = np.empty((0, self.sensors))

    def clear(self) -> None:
        """Forget the rows and give their memory back (the warm-up is over)."""
        self._len = 0
        self._alloc(1)

    @property
    def ts(self) -> np.ndarray:
        return self._ts[:self._len]

    @property
    def values(self) -> np.ndarray:
        return self._values[:self._len]

    @property
    def missing(self) -> np.ndarray:
        return self._missing[:self._len]

    @property
    def carried(self) -> np.ndarray:
        return self._carried[:self._len]


def unit_mismatches(sensors: list[str], raw: np.ndarray, missing: np.ndarray, bundle: Normaliser,
                    readings: str = "warm-up readings") -> list[str]:
    """One line per sensor whose warm-up readings (raw (n, N), NaN where missing) are not on the
    scale of the bundle's normalisation: another unit, a missing or doubled scaling factor.
    `readings` names them (a hot swap's are the window's at the end of its shadow)."""
    out = []
    for j, name in enumerate(sensors):
        seen = raw[~missing[:, j], j]
        seen = seen[np.isfinite(seen)]
        if len(seen) < 2:
            continue
        mean, std = float(bundle.mean[j]), float(bundle.std[j])
        level, spread = float(quantile(seen, 0.5)), float(np.std(seen))   # np.median imports numpy.ma
        shift = abs(level - mean) / std
        small = abs(mean) >= std and abs(level) < abs(mean) / UNIT_RATIO and spread < std / UNIT_RATIO
        if shift <= UNIT_RATIO and not small:
            continue
        where = f"{abs(level / mean):.3g}× the bundle's mean" if mean != 0 else f"{shift:.3g} std from its mean"
        out.append(f"{name}: {readings} median {level:.4g}, spread {spread:.4g}, against the bundle's "
                   f"mean {mean:.4g}, std {std:.4g} (median {where}): " + NOT_ITS_SCALE)
    return out


#: how unit_mismatches ends a line: what it means and what to do
NOT_ITS_SCALE = ("not the bundle's scale — another unit, or a scaling factor missing? The model tier's score of it "
                 "is off by as much; fix the source's scaling or train a bundle on this data")



class PlantOff(str):
    """A scale_mismatches line of a sensor whose readings are as far off the running normalisation: the plant is
    away from its normal in the window (user21: a valve shut, flow 0, an alert open as the shadow ended), not the
    candidate in other units; said so, and never counted towards `scoring.shadow_refuse_off_scale`."""


PLANT_OFF = ("off the running model's scale as much: the plant is away from its normal in these ticks (an "
             "anomaly, a valve shut, a pump stopped?), not the bundle in other units")


def flat_sensors(sensors: list[str], raw: np.ndarray, missing: np.ndarray, norm: Normaliser, source: str,
                 skip: np.ndarray | None = None) -> list[str]:
    """One line per sensor whose std in `norm` is the floor (Normaliser.floored): flat through the rows
    it was fitted on (a pump off, a valve shut, a flag at 0) or never read. Its first change then scores
    as many floors as it moves and holds an alert open for as long as it differs; said once, at the end
    of warm-up, so that alert is not a mystery. `raw`/`missing`: the warm-up's rows, for the figures;
    `source`: where the normalisation comes from ("this warm-up", "the bundle's training data"); `skip`: sensors said
    otherwise (learnt live: agent/learning_sensors.py)."""
    out = []
    for j in np.flatnonzero(norm.floored() if skip is None else norm.floored() & ~skip):
        name, seen = sensors[j], raw[~missing[:, j], j]
        seen = seen[np.isfinite(seen)]
        now = ("no reading in this warm-up" if not len(seen) else
               f"this warm-up read {float(seen.min()):.4g}" + ("" if seen.min() == seen.max()
                                                              else f" to {float(seen.max()):.4g}"))
        out.append(f"{name}: did not move in {source} (std {float(norm.std[j]):.3g}, the floor; {now}): its "
                   "normal spread is unknown, so any change of it scores in units of that floor and holds an "
                   "alert open for as long as it differs. Warm up over data in which it moves (warmup.replay), "
                   "or leave it out of `sensors`")
    return out


def replay_limit(warmup: WarmupConfig, sensors: int) -> tuple[int, str]:
    """The most ticks of `warmup.replay` the warm-up keeps (the newest), and where that figure comes from."""
    if warmup.replay_max_ticks is not None:
        return warmup.replay_max_ticks, "warmup.replay_max_ticks"
    auto = REPLAY_READINGS // max(1, sensors)
    if warmup.ticks > auto:
        return warmup.ticks, "warmup.ticks"
    return auto, f"unset warmup.replay_max_ticks: {REPLAY_READINGS:,} readings / {sensors} sensors"


def read_replay(cfg: AgentConfig, rejects: Rejects, alive: Callable[[int], None] | None = None,
                stopping: Callable[[], bool] | None = None) -> tuple[WarmupRows, str]:
    """`warmup.replay`'s newest ticks, at most `replay_limit`, and the line that says what was used.

    Each file is aligned by an aligner of its own with the same rules as live data's: the days
    between two recordings are not a move of the time base (nor are live stamps that come days
    later). The files are read newest first (replay order is name order: date-named files): once
    the limit is reached the earlier files are not read at all, so neither memory nor the time to
    READY=1 grows with the length of the recording; a file longer than the limit is read from
    its tail (`_read_tail`: the same ticks kept as a whole read), its earlier bytes never read. `alive(ticks read)` is called every READ_PING_S while reading;
    `stopping()` every STOP_CHECK_RECORDS records and once after the read: when true, `ReplayStopped` is
    raised (the file closed), so a stop asked at any time before the fit skips it."""
    from .alerts import iso
    from .sources.replay import warmup_source
    from .window import Aligner

    sensors = cfg.sensor_names()
    limit, why = replay_limit(cfg.warmup, len(sensors))
    source = warmup_source(cfg.resolve(cfg.warmup.replay), cfg.warmup_reader()[0], sensors, rejects,
                           base_dir=cfg.base_dir, tick_s=cfg.tick_s)
    parts: list[WarmupRows] = []
    kept = read = 0
    cut: list[str] = []                 # 'name: the first B bytes' of each file read from its tail
    next_ping = time.monotonic()         # the first record read says so at once

    def align(records, part: WarmupRows, rejected: Rejects, in_order: bool = False) -> bool:
        """`records` through an aligner of their own into `part`; False (and stopped there) when
        `in_order` and a record's time is before the one before it."""
        nonlocal next_ping
        aligner, last = Aligner.for_agent(cfg, rejected), -math.inf
        for i, rec in enumerate(records):
            if in_order:
                if rec.ts < last:
                    return False
                last = rec.ts
            for row in aligner.push(rec):
                part.append(row)
            if i % STOP_CHECK_RECORDS:
                continue
            if stopping is not None and stopping():
                raise ReplayStopped(read + len(part) + part.dropped)
            if alive is not None and time.monotonic() >= next_ping:
                alive(read + len(part) + part.dropped)
                next_ping = time.monotonic() + READ_PING_S
        for row in aligner.flush_all():
            part.append(row)
        part.trim()
        return True

    try:
        for path in reversed(source.files):
            if kept >= limit:
                break
            need = limit - kept
            part, start = _read_tail(source, path, need, tail_lead(cfg), rejects, align)
            if part is None:            # the whole file: short enough, or not in time order
                part = WarmupRows(len(sensors), min(need, 4096), limit=need)
                align(source.tail_records(path, 0), part, rejects)
            else:
                cut.append(f"{source.name_of(path)}: its first {start:,} bytes")
            parts.append(part)
            kept, read = kept + len(part), read + len(part) + part.dropped
    finally:
        source.close()
    if stopping is not None and stopping():     # asked after the last record: no fit of it either
        raise ReplayStopped(read)
    rows = WarmupRows.joined(parts[::-1]) if parts else WarmupRows(len(sensors), 1)
    unread = len(source.files) - len(parts)
    used = (f"the last {len(rows):,} ticks ({iso(float(rows.ts[0]))} to {iso(float(rows.ts[-1]))})"
            if len(rows) else "no tick")
    line = (f"warm-up: {read:,} ticks in {len(parts)} of {len(source.files)} file(s), read newest first; fitted "
            f"on {used}, at most {limit:,} ({why}); {read - len(rows):,} ticks skipped"
            + (f"; not read, sought past to the file's tail ({'; '.join(cut)}): their ticks and rejects are "
               "not counted" if cut else "")
            + (f"; the {unread} earlier file(s) not read" if unread else ""))
    return rows, line


def tail_lead(cfg: AgentConfig) -> int:
    """Ticks read before the first one kept when a file is read from its tail and let go: by then the
    aligner's state is what a whole read's would be there — the carried values (carry_forward_s), the
    usual step (the median of 15), the window's gap rule (steps + 1), lateness — with room to spare."""
    carry = carry_ticks(cfg.window.carry_forward_s, cfg.tick_s)
    return max(TAIL_LEAD_TICKS, 4 * (cfg.window.steps + 1 + carry + cfg.window.lateness_ticks + 15))


def _read_tail(source, path, need: int, lead: int, rejects: Rejects, align) -> tuple[WarmupRows | None, int]:
    """The newest `need` ticks of `path` read from its tail, and the byte read from; (None, 0) when
    the whole file must be read instead.

    A first guess of where to start: the bytes a line of its last TAIL_SAMPLE_BYTES take × the
    `need` + `lead` ticks × TAIL_MARGIN (a line a tick; a file with a line per sensor, or longer lines
    before, gives fewer ticks). When that gives fewer than `need` + `lead` ticks, twice as far back,
    until it does or the start would be in the file's first half (then the whole file). Each try
    counts its rejects apart, and only the last one's are added: the lines a try read again are
    counted once. A record out of time order means the aligner's state can depend on the part not
    read (a step back, a late record): the whole file is read."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - TAIL_SAMPLE_BYTES))
        sample = f.read(TAIL_SAMPLE_BYTES)
    lines = max(1, sample.count(b"\n") + sample.count(b"\r") - sample.count(b"\r\n"))
    back = int(len(sample) / lines * (need + lead) * TAIL_MARGIN)
    while (start := source.tail_start(path, back)) is not None:
        tried, part = Rejects(), WarmupRows(len(source.sensors), min(need, 4096), limit=need)
        swapped, source.rejects = source.rejects, tried
        records = source.tail_records(path, start)
        try:
            in_order = align(records, part, tried, in_order=True)
        finally:
            records.close()             # (the file too, when a record out of order ended the try)
            source.rejects = swapped
        if not in_order:
            log.info("warm-up: %s is not in time order from byte %s on: read whole", source.name_of(path), f"{start:,}")
            return None, 0
        if len(part) + part.dropped >= need + lead:
            for reason, n in tried.counts.items():
                where, detail = tried.first[reason]
                rejects.add_many(reason, where, n, detail)
            return part, start
        part.clear()
        back *= 2
    return None, 0

