"""What every fault rule gets each tick, and how long a condition has held.

A rule is a small class with `KIND`, `observe(tick) -> (condition, decided)` (per-sensor bool
arrays: the fault condition holds now / has held long enough to judge the sensor faulty) and
`evidence(i, tick) -> dict` (what an operator is told). Rules that keep state beyond `Held`
also have `state()` / `restore()`. A rule that judges something slow may name a config key in
`EVERY_KEY` (seconds): the tracker then runs it (observe and learn) only every that many seconds'
worth of ticks, and builds it with `every` (that many ticks) beside the data's tick_s, so that it keeps
its durations, half-lives and counts in seconds (drift.py); in between, its last condition stands and it
decides nothing. A rule whose calm tick the tracker
can tell from the Tick alone names it in `quiet_on` (rule_quiet): the tracker then does not call it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fastnp as fnp
from .context import Normal, SensorContext


@dataclass(slots=True)
class Tick:
    """One tick as the rules see it. The tracker keeps one and sets its fields each tick: a rule
    reads it during its observe (and evidence) and keeps no reference to it."""
    ts: float
    x: np.ndarray           # raw values, NaN where missing
    observed: np.ndarray    # a fresh reading this tick (not carried forward, not missing)
    missing: np.ndarray     # no reading past the carry-forward bound
    prev: np.ndarray        # the last observed value before this tick (NaN: none yet)
    step: np.ndarray        # |x − prev| (NaN where either is)
    unchanged: np.ndarray   # step == 0: the previous value exactly (computed once a tick: stuck and learning read it)
    healthy: np.ndarray     # not judged faulty (as of the previous tick): usable as a neighbour
    kinds: list[str]        # the active fault's kind per sensor ("" when healthy)
    drifting: np.ndarray    # the active fault is a drift
    ctx: SensorContext
    normal: Normal
    above: np.ndarray       # x − the sensor's floor (computed once a tick for every rule)
    level: np.ndarray       # its normal level above the floor, max(normal.mean − floor, 0)
    low: np.ndarray         # above <= AT_FLOOR × level: at its floor (dead.py's AT_FLOOR; NaN: False)
    at_floor: np.ndarray    # observed & low
    all_healthy: bool = False   # no sensor faulty: healthy is all True, drifting all False
    all_observed: bool = False  # every sensor observed: `observed` is the tracker's shared all-True mask

    def keep_judged(self, cond: np.ndarray, kind: str, where: np.ndarray) -> None:
        """`cond` set where a sensor already judged `kind` still shows `where` (its own sign: at its floor): a rule
        that needs its context to judge a sensor does not need it to keep it judged (faults14: dead and implausible
        ended while the sensor was still broken, once its mates stopped, and were paged again when they ran)."""
        if not self.all_healthy:
            for i in np.flatnonzero(where):
                if self.kinds[i] == kind:
                    cond[i] = True


_NOTHING: dict[int, np.ndarray] = {}


def nothing(n: int) -> np.ndarray:
    """A read-only all-False (n,) mask, one object per n: what a calm rule returns, so that the
    tracker can tell a calm rule's result by identity, without looking at it."""
    out = _NOTHING.get(n)
    if out is None:
        out = _NOTHING[n] = np.zeros(n, bool)
        out.flags.writeable = False
    return out


def rule_quiet(rule) -> int:
    """How the tracker tells that `rule` would return (nothing, nothing) and change nothing, without
    calling it: 0 it cannot; else while the rule's Held is idle and — 1 always, 2 the Tick's
    `missing` is the shared all-False mask (nothing(n), by identity), 3 its `at_floor` is. From the
    rule's `quiet_on`: None (the default), "always", "missing" or "at_floor"."""
    return {None: 0, "always": 1, "missing": 2, "at_floor": 3}[getattr(rule, "quiet_on", None)]


class Held:
    """How long a per-sensor condition has held: counted on ticks where the sensor was seen,
    kept as it was on ticks where it was not (a carried value neither confirms nor clears)."""
    TIME_FIELDS = ("since",)   # seconds on the time base (agent/timebase.py)

    def __init__(self, n: int, tick_s: float):
        self.tick_s = tick_s
        self.ticks = np.zeros(n, np.int64)
        self.since = np.full(n, np.nan)
        self.none_lasted = np.zeros(n)  # what update returns while nothing holds (read-only)
        self.none_lasted.flags.writeable = False
        self.nothing = nothing(n)       # no sensor: a rule's condition and decision on a calm tick
        self.idle = True                # nothing holds anywhere: ticks all 0, since all NaN

    def calm(self, cond: np.ndarray) -> bool:
        """No condition now and nothing held: update() would change nothing and every decision
        is False, so a rule may return (nothing, nothing) at once (the calm fast path)."""
        return self.idle and not fnp.count_nonzero(cond)

    def update(self, cond: np.ndarray, seen: np.ndarray, ts: float) -> np.ndarray:
        """Seconds the condition has held, including this tick (do not write to it)."""
        on = None if cond is self.nothing else seen & cond      # (nothing: no sensor on)
        if on is not None and fnp.count_nonzero(on):        # (not on.any(): a third of the cost on a few sensors)
            self.since = fnp.where(on & (self.ticks == 0), ts, fnp.where(seen & ~cond, np.nan, self.since))
            self.ticks = fnp.where(on, self.ticks + 1, fnp.where(seen, 0, self.ticks))
            self.idle = False
            return self.ticks * self.tick_s
        if self.idle:           # the common tick: nothing held before, nothing holds now
            return self.none_lasted
        # nothing holds now, so every seen sensor starts over (fewer numpy calls)
        fnp.copyto(self.since, np.nan, where=seen)
        fnp.copyto(self.ticks, 0, where=seen)
        self.idle = not fnp.count_nonzero(self.ticks) and not fnp.count_nonzero(self.since == self.since)
        return self.ticks * self.tick_s

    def started(self, k: int, since: float) -> None:
        """Sensor k's condition, decided outside update (a drift's jump back), started at `since`.
        Not idle now: the next update clears that start where the condition does not hold (an idle
        Held has no since)."""
        self.since[k] = since
        self.idle = False

    def state(self) -> dict:
        return {"ticks": self.ticks.tolist(), "since": [None if np.isnan(v) else v for v in self.since]}

    def restore(self, state: dict) -> None:
        self.ticks[:] = state["ticks"]
        self.since[:] = [np.nan if v is None else v for v in state["since"]]
        self.idle = False       # judged again on the next tick without a holding condition


class RecentMean:
    """Each sensor's mean over the last `size` ticks of the values pushed where `kept` (a ring of
    rows): the sum of the finite kept values over their count, ±inf where the ring holds one (NaN
    where both). Kept values are ≥ 0 or +inf (the rules push sizes of steps) and never NaN. The head
    moves by a push or set_rows (or by a whole batch of pushes skipped before `size` pushes,
    spike.py's _flush: the last `size` pushes then still fill the ring). The count of finite entries
    is kept running (whole numbers: exact), so reading it costs nothing a tick.

    The sum, two ways by the ring's length. Up to SMALL rows (spike's 10, stuck's at ticks of 10 s
    and more) the ring is summed whole when read: as cheap as the running sum's upkeep, and the same
    bits as before, whatever was skipped. Longer (stuck's ring is flatline_s / tick_s rows: 600 at
    1-s ticks, 600,000 at 1-ms ticks, which cost ~50 ms a tick summed whole) the sum is kept running,
    each push taking the overwritten row out and the new one in, so a tick's cost does not grow with
    `size`. A running sum of values ≥ 0 is within 2.5·m·u·peak of the real one (m pushes since it was
    summed exactly, u = 2⁻⁵³, peak its largest value since); every CHECK pushes it is summed again
    exactly wherever that bound is over TOL of it — when the values collapse (a flatline: the old
    large steps leave, the sum cancels), and every ~1 / (RESUM × CHECK) pushes otherwise: O(n) a push
    amortised. Its bits are a function of the pushes alone (a read between two checks that finds the
    bound over TOL sums the ring for itself), and are checkpointed (sums()), so a tracker restored
    reads what one that ran on reads. The mean is within TOL of the whole ring's
    (tests/test_recent_mean.py)."""

    SMALL = 64                      # rows up to which the ring is summed whole when read
    TOL = 1e-10                     # the running sum's largest relative error when read
    RESUM = 2.5 * 2.0 ** -53 / TOL  # × m × peak: the running sum's error bound over TOL
    CHECK = 16                      # pushes between two checks of that bound

    def __init__(self, size: int, n: int):
        self.size, self.head, self.n = size, 0, n
        self.running = size > self.SMALL
        self.zeroed = np.zeros((size, n))           # the kept values, 0 elsewhere
        self.kept = np.zeros((size, n), bool)
        self.finite = np.zeros((size, n), bool)     # kept and finite: what the mean is over
        self._sum = np.zeros(n)                     # running: the finite entries' sum
        self._peak = np.zeros(n)                    # its largest value since it was summed exactly
        self._since = 0                             # pushes since then (m)
        self._short = np.full(n, size, np.int64)    # entries not finite (size − the count)
        self._count: np.ndarray | None = None       # size − _short, once read
        self._infs = 0                              # rows holding a kept ±inf
        self._pinf = np.zeros(n, np.int64)          # +inf entries per sensor (while _infs)
        self._ninf = np.zeros(n, np.int64)          # …and -inf
        # Per row: every entry kept and finite; some kept entry ±inf. Bytes (0 / 1), not lists of bools: a
        # list is 8 bytes a row, and stuck's ring is 600,000 rows at 1-ms ticks (9.6 MB of the agent's RSS
        # for the two; clock21); an item of either is read and set as fast (a few ns more).
        self._row_full = bytearray(size)
        self._row_inf = bytearray(size)
        self._row_kept = bytearray(size)            # every entry of the row kept (`kept` all True there; 0: not known)
        self._short_rows = size                     # rows not full
        self._taken = False                         # next_row() took the head row out of the sums
        self._used = 0                              # slots [0, _used) pushed since made or restored (ring())
        self._size_count = np.full(n, size, np.int64)     # `size` everywhere (read-only)
        self._size_count.flags.writeable = False
        # (as float64: the same quotient as by the whole number, without an int → float cast a call)
        self._size_denom = np.full(n, float(max(size, 1)))
        # Not running: over_for's weight rows (_screen_weights), made on its first call.
        self._weights: np.ndarray | None = None
        self._row_views()

    def _row_views(self) -> None:
        """A ring summed whole (≤ SMALL rows) keeps its rows of `zeroed` and `finite` as views, made with the
        arrays: a push writes one of each without an index (~0.1 µs each, perf65); a longer ring (up to 600,000
        rows) keeps none: its views would be ~0.1 KB a row."""
        small = not self.running
        self._zeroed_rows = list(self.zeroed) if small else None
        self._finite_rows = list(self.finite) if small else None

    def next_row(self) -> np.ndarray:
        """The ring row the next push writes, taken out of the running sums: the caller computes
        every sensor's value into it and pushes them next as `push(kept, None)` (no copy)."""
        h = self.head
        self._take(h)
        self._taken = True
        rows = self._zeroed_rows
        return rows[h] if rows is not None else self.zeroed[h]

    def _take(self, h: int) -> None:
        """Row h's entries out of the running sum and the counts (before it is written)."""
        if self._row_inf[h]:
            row = self.zeroed[h]
            if self.running:
                self._sum -= fnp.where(self.finite[h], row, 0.0)
            self._pinf -= row == np.inf
            self._ninf -= row == -np.inf
            self._infs -= 1
            self._row_inf[h] = False
        elif self.running:
            self._sum -= self.zeroed[h]
        if not self._row_full[h]:       # its entries not finite out of _short: − (1 − finite)
            self._short += self.finite[h]
            self._short -= 1
            self._row_full[h] = True    # (until the push: a row not full marks itself again)
            self._short_rows -= 1

    def push(self, kept: np.ndarray, value: np.ndarray | None) -> None:
        """`value` None: next_row() already holds the values (every sensor kept: `kept` not read)."""
        h, n = self.head, self.n
        if self._taken:
            self._taken = False
        else:
            self._take(h)
        rows = self._zeroed_rows
        row = rows[h] if rows is not None else self.zeroed[h]
        if value is None or fnp.count_nonzero(kept) == n:      # (every sensor kept: the where and & pick every entry)
            if value is not None:
                row[...] = value
            finite = self._finite_rows[h] if rows is not None else self.finite[h]
            np.isfinite(row, finite)
            if not self._row_kept[h]:       # (a row kept whole before: all True already)
                self.kept[h] = True
                self._row_kept[h] = True
        else:
            self.zeroed[h] = row = fnp.where(kept, value, 0.0)
            self.finite[h] = finite = kept & np.isfinite(value)
            self.kept[h] = kept
            self._row_kept[h] = False
        if fnp.count_nonzero(finite) == n:      # (the usual row: every entry finite)
            if self.running:
                self._sum += row
        else:                                   # its entries not finite into _short: + (1 − finite)
            self._short -= finite
            self._short += 1
            self._short_rows += 1
            self._row_full[h] = False
            if fnp.count_nonzero(kept & ~finite):     # (kept, not finite: ±inf)
                self._pinf += row == np.inf
                self._ninf += row == -np.inf
                self._infs += 1
                self._row_inf[h] = True
                if self.running:
                    self._sum += fnp.where(finite, row, 0.0)
            elif self.running:
                self._sum += row
        self._count = None
        if h >= self._used:
            self._used = h + 1
        self.head = (h + 1) % self.size
        if self.running:
            np.maximum(self._peak, self._sum, out=self._peak)
            self._since += 1
            if not self._since % self.CHECK and not self._within():
                self._sum = self._whole()
                self._peak = self._sum.copy()
                self._since = 0

    def _within(self) -> bool:
        """The running sum is within TOL of the real one for every sensor (a sum or bound that is not
        a number compares False)."""
        return not self._since or fnp.count_nonzero(self._sum - self._peak * (self._since * self.RESUM) >= 0) == self.n

    def _whole(self) -> np.ndarray:
        """The finite entries' sum: the whole ring's reduce (the non-finite entries as 0)."""
        return np.add.reduce(self.zeroed if not self._infs else fnp.where(self.finite, self.zeroed, 0.0), axis=0)

    def seen(self) -> np.ndarray:
        """Finite entries per sensor (do not write to it)."""
        if self._count is None:
            self._count = self._size_count if not self._short_rows else self.size - self._short
        return self._count

    @property
    def all_seen(self) -> bool:
        """Every entry of the ring kept and finite: seen() is `size` for every sensor."""
        return not self._short_rows

    def mean(self) -> np.ndarray:
        denom = self._size_denom if not self._short_rows else np.maximum(self.seen(), 1)
        if not self.running:        # (±inf summed in: inf, or NaN with both)
            return np.add.reduce(self.zeroed, axis=0) / denom
        out = (self._sum if self._within() else self._whole()) / denom
        if self._infs:
            with np.errstate(invalid="ignore"):
                pos, neg = self._pinf > 0, self._ninf > 0
                out = fnp.where(pos & neg, np.nan, fnp.where(pos, np.inf, fnp.where(neg, -np.inf, out)))
        return out

    def over_for(self, total: np.ndarray, pushes: int) -> bool:
        """Whether every sensor's real sum of kept values is certain to stay over `total` (a sensor
        whose total is NaN: never) for `pushes` (< size) further pushes, whatever they push: after
        them the ring still holds its size − pushes newest rows, and a sum of terms ≥ 0 is never below
        the sum of some of them. Summed whole (not running): those rows' sum itself, at its lowest (one
        weighted product, _screen_weights). Running: the ring's sum less the `pushes` oldest rows', each
        taken at its lowest — the running sum less its error bound, the oldest rows' float sum plus
        theirs; a +inf among the oldest rows: not certain. Reads `pushes` rows, once in `pushes` ticks
        (stuck's screen), O(n) a tick."""
        if not self.running:
            size, h = self.size, self.head
            w = (self._weights if self._weights is not None else self._screen_weights())[pushes, size - h:2 * size - h]
            return fnp.count_nonzero(fnp.dot(w, self.zeroed) >= total) == total.size
        h, end, u = self.head, self.head + pushes, 2.0 ** -53
        # (one row, the screen's usual look ahead after a tick it failed: the row itself, what a reduce
        # over it gives, without the reduce's ~1.3 µs; perf45)
        oldest = self.zeroed[h] if pushes == 1 else np.add.reduce(self.zeroed[h:end], axis=0)
        if end > self.size:
            oldest = oldest + np.add.reduce(self.zeroed[:end - self.size], axis=0)
        ring = self._sum - self._peak * (u * (2.5 * self._since + 4.0))
        if self._infs:          # (an inf among the oldest rows less an inf in the ring: NaN, not certain)
            with np.errstate(invalid="ignore"):
                low = ring - oldest * (1.0 + u * (pushes + 4.0))
        else:
            low = ring - oldest * (1.0 + u * (pushes + 4.0))
        return fnp.count_nonzero(low >= total) == total.size

    def over_now(self, total: np.ndarray) -> bool:
        """Whether every sensor's real sum of kept values is certain to be over `total` now (over_for with no
        push), on a ring summed whole: its weighted product with every row's weight c (_screen_weights' row 0).
        Running: False without a look (its mean costs no reduce: read it)."""
        if self.running:
            return False
        size = self.size
        w = (self._weights if self._weights is not None else self._screen_weights())[0, :size]
        return fnp.count_nonzero(fnp.dot(w, self.zeroed) >= total) == total.size

    def _screen_weights(self) -> np.ndarray:
        """over_for's (and over_now's) weights of a ring summed whole (perf60): row k, at columns [size − h, 2·size − h),
        is c where ring row j is among the size − k newest (head h: rows h … h + k − 1, mod size, are the k
        oldest) and 0 elsewhere; so weights · zeroed is those rows' sum times c, in one product (~18k
        instructions a screen against ~45k for the ring's and the oldest rows' two reduces and the bound's
        arithmetic). c = 1 − (2·size + 8)·u puts it under their real sum whatever the product's order of
        additions: each product c·x ≥ 0 is rounded at most once (not at all in a fused multiply-add) and a
        sum of size terms ≥ 0 in any order is within (size − 1)·u of theirs, so the product is at most
        c·(1 + size·u) < 1 times the real sum, and, in the tests' terms, under the ring's own float sum of those rows. A +inf
        among the newest: +inf (the real sum); among the oldest: 0 × inf, NaN, never over (not certain).
        Product and float sum underflow by at most 2⁻¹⁰⁷⁵ a term: stuck's total has 1e-300 of margin.
        (size, 2·size) floats: made on the first call, at most 64 KB (SMALL rows)."""
        size = self.size
        c = 1.0 - (2 * size + 8) * 2.0 ** -53
        newest = np.arange(2 * size) % size >= np.arange(size)[:, None]     # row k: [False] * k + [True] * (size − k), twice
        self._weights = fnp.where(newest, c, 0.0)
        return self._weights

    def sums(self) -> dict:
        """The running sum as it stands (checkpoint form, beside rows()): restored with it, the ring
        reads the same means, to the bit, as the one that ran on."""
        return {"sum": self._sum.tolist(), "peak": self._peak.tolist(), "since": self._since}

    def rows(self) -> np.ndarray:
        """The ring as (size, n) with NaN where not kept (checkpoint form, oldest slot first as stored)."""
        return fnp.where(self.kept, self.zeroed, np.nan)

    def ring(self) -> dict:
        """rows() in checkpoint form (ring_state's, NaN its fill), its trailing rows with nothing kept
        found from `kept` alone and not built: a ring still filling costs what it holds. Only the slots
        pushed since the ring was made or restored are read (the rest keep nothing): stuck's 600,000-row
        `kept` at 1-ms ticks was ~15 ms of the stop's write (clock21)."""
        used = np.flatnonzero(self.kept[:self._used].any(axis=1))
        k = used[-1] + 1 if used.size else 0
        return {"size": self.size, "rows": fnp.where(self.kept[:k], self.zeroed[:k], np.nan)}

    def set_rows(self, rows: np.ndarray, head: int, sums: dict | None = None) -> None:
        """The ring restored: `rows` its first len(rows) slots (NaN: not kept), every slot after them
        never written (ring_held's), `sums` sums()'s form. Into fresh arrays, the rows alone written: a
        restore costs the rows the ring holds, not its size (stuck's 600,000 rows at 1-ms ticks, 3,000 of
        them held, were 0.6 s and 100 MB of pages written; clock20), and the pages of the slots not yet
        written stay the kernel's untouched zeros, as in a ring that ran. `sums` None, of another length,
        or not finite (a checkpoint from before running sums, or a sum past the float range): the
        whole ring's exact sum, as _whole() makes it."""
        size, n, k = self.size, self.n, len(rows)
        self.zeroed, self.kept, self.finite = np.zeros((size, n)), np.zeros((size, n), bool), np.zeros((size, n), bool)
        self._row_views()
        kept, finite = ~np.isnan(rows), np.isfinite(rows)
        self.kept[:k], self.finite[:k] = kept, finite
        self.zeroed[:k] = fnp.where(kept, rows, 0.0)
        # (a row at a time: seconds at 600,000; a slot never written holds no finite entry, no inf)
        full, inf = np.logical_and.reduce(finite, axis=1), np.logical_or.reduce(kept & ~finite, axis=1)
        self._row_full = bytearray(full.tobytes()) + bytes([n == 0]) * (size - k)
        self._row_inf = bytearray(inf.tobytes()) + bytes(size - k)
        self._row_kept = bytearray(size)
        self._short_rows = k - int(np.count_nonzero(full)) + (size - k if n else 0)
        self._short = self.size - np.add.reduce(finite, axis=0).astype(np.int64)
        self._infs = int(np.count_nonzero(inf))
        zeroed = self.zeroed[:k]
        self._pinf = np.add.reduce(zeroed == np.inf, axis=0).astype(np.int64)
        self._ninf = np.add.reduce(zeroed == -np.inf, axis=0).astype(np.int64)
        self._sum, self._peak, self._since = np.zeros(n), np.zeros(n), 0
        if self.running:
            saved = self._saved_sums(sums)
            self._sum, self._peak, self._since = saved if saved else (total := self._whole(), total.copy(), 0)
        self._count = None
        self._taken = False
        self._used = k
        self.head = head

    def _saved_sums(self, state: dict | None) -> tuple | None:
        """sums()'s (sum, peak, since) as set_rows keeps them; None when they cannot stand."""
        if not state or len(state.get("sum", ())) != self.n or len(state.get("peak", ())) != self.n:
            return None
        total, peak = np.array(state["sum"], float), np.array(state["peak"], float)
        if fnp.count_nonzero(np.isfinite(total) & np.isfinite(peak)) != self.n:
            return None
        return total, peak, int(state["since"])


def ring_state(ring: np.ndarray, fill, used: int | None = None) -> dict:
    """A ring's rows in checkpoint form: an array (checkpoint.py writes its raw bytes, not JSON numbers:
    600,000 rows × n of stuck's at 1-ms ticks were 10 MB of text and seconds to write; perf40) without
    its trailing rows that hold only `fill` (never written yet, or NaN: nothing kept), and the ring's
    length. ring_held gives the rows back, to the bit. `used`: the caller knows every slot from it on
    holds `fill` (+0.0 / False: never written), so only the slots before it are read (clock21)."""
    rows = ring if used is None else ring[:used]
    blank = (rows != rows) if fill != fill else (rows == fill)
    if fill == 0 and rows.dtype.kind == "f":        # (−0.0 is written, not the fill: kept to the bit)
        blank &= ~np.signbit(rows)
    written = np.flatnonzero(~blank.reshape(len(rows), -1).all(axis=1))
    return {"size": len(ring), "rows": np.array(rows[:written[-1] + 1 if written.size else 0])}


def ring_held(saved, shape: tuple) -> np.ndarray | None:
    """ring_state's rows, those the ring holds from its first slot (every slot after them holds the
    ring's fill); from a checkpoint before it, a list of every row (JSON numbers, None for NaN). None
    when they do not fit: a ring of another length (another tick_s or window) or width, which the
    caller starts over. Not the whole ring: its caller writes these rows into fresh zeros, and a ring
    of millions of rows holding a few thousand costs those (clock20)."""
    if isinstance(saved, dict):
        size, rows = saved.get("size"), saved.get("rows")
        if not isinstance(rows, np.ndarray):
            raise ValueError("ring: expected an array of rows")
    else:
        size, rows = len(saved), np.array([[np.nan if v is None else v for v in r] for r in saved], float)
    if size != shape[0] or (rows.size and rows.shape[1:] != tuple(shape[1:])) or len(rows) > shape[0]:
        return None
    return rows.reshape((len(rows),) + tuple(shape[1:]))


def ring_zeros(rows: np.ndarray, shape: tuple, dtype) -> np.ndarray:
    """A ring of fill 0 (False) restored from ring_held's rows: fresh zeros, the rows written into its
    first slots, the pages of the rest left to the kernel until a tick writes them."""
    out = np.zeros(shape, dtype)
    out[:len(rows)] = rows
    return out


def names_values(tick: Tick, idx) -> dict[str, float | None]:
    """{sensor: value} for evidence, None where missing."""
    return {tick.ctx.names[j]: (None if np.isnan(tick.x[j]) else round(float(tick.x[j]), 4)) for j in idx}
