"""Who a sensor should agree with (from the topology) and what it normally looks like.

`SensorContext` is fixed by the config: neighbours (the topology's rule), station / machine
mates (the same group), the physical range and floor. `Normal` is learned online from ticks on
which a sensor is judged healthy and not suspect, with a forgetting horizon of `learn_s`, so a
fault is never learned as normal and the rules need no training run of their own.
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from ..topology import group_of, neighbours, quantity_of

SIZE_SHARE = 0.01               # relative_step's size floor: this share of the sensor's normal |level|
_ZERO, _PERCENT, _TINY = fnp.const(0.0), fnp.const(SIZE_SHARE), fnp.const(1e-9)     # (per-tick operands: fastnp.const)
MIN_LEARNED_TICKS = 30          # rules that compare with normal behaviour wait for this much of it
# What a checkpoint keeps of Normal. (Older checkpoints also hold "var", a variance of the
# level that nothing had read since the rules stopped using `sd`: no longer learned, ignored.)
STATE = ("count", "mean", "abs_step", "rel_step", "repeat", "at_floor")


def _index_lists(names: list[str], lists: dict[str, list[str]]) -> list[np.ndarray]:
    index = {n: i for i, n in enumerate(names)}
    return [np.array([index[o] for o in lists[n] if o in index and o != n], int) for n in names]


class SensorContext:
    """Built once per tracker (and a restore builds a tracker): in time linear in the sensors beyond
    what the topology's neighbour lists cost, since a gateway may carry hundreds of sensors and the
    group members are found through one dict of groups, not by comparing every pair (clock21: the
    pairwise build was two-thirds of a 256-sensor restore)."""

    def __init__(self, specs, topology: str):
        self.names = [s.name for s in specs]
        self.n = len(specs)
        self.topology = topology
        self.groups = [group_of(s) for s in specs]
        self.quantities = [quantity_of(s) for s in specs]
        self.neighbours = _index_lists(self.names, neighbours(specs, topology))
        members: dict[str, list[int]] = {}         # group -> its sensors' indices, in the specs' order
        for j, g in enumerate(self.groups):
            members.setdefault(g, []).append(j)
        mates = {name: [self.names[j] for j in members[g]] for name, g in zip(self.names, self.groups)}
        self.mates = _index_lists(self.names, mates)
        # station(i)'s map for each group (a later sensor of the same quantity wins, as before)
        self._stations = {g: {self.quantities[j]: j for j in js} for g, js in members.items()}
        # Everything that should move with a sensor when the process (not the sensor) changes.
        # (sorted sets, not np.union1d: np.unique imports numpy.ma, ~0.9 MiB the agent never uses)
        self.context = [np.array(sorted({*a.tolist(), *b.tolist()}), int) for a, b in zip(self.neighbours, self.mates)]
        self.lo = np.array([-np.inf if s.min is None else s.min for s in specs], float)
        self.hi = np.array([np.inf if s.max is None else s.max for s in specs], float)
        self.floor = np.array([s.floor if s.floor is not None else (s.min if s.min is not None else 0.0)
                               for s in specs], float)
        self.configured_range = np.isfinite(self.lo) | np.isfinite(self.hi)
        # A range a Modbus register implies (agent/register_ranges.py) says so in an out_of_range fault's summary.
        self.range_notes = [getattr(s, "note_for", None) for s in specs]

    def station(self, i: int) -> dict[str, int]:
        """quantity -> sensor index for sensor i's group (e.g. {'flow': 3, 'occ': 4, 'speed': 5}); a copy."""
        return dict(self._stations[self.groups[i]])


class WholeCounts:
    """A float64 array of per-sensor (or per-row) counts of whole ticks whose usual tick adds 1 to
    every entry: such ticks are kept as one number and added when the array is read (`array`), so
    the usual tick makes no numpy call. Whole numbers below 2**53 are exact, so adding 1.0 k times
    and adding k once are the same bits. Read `array` for any other update (it is the array itself)."""

    __slots__ = ("_a", "_k")

    def __init__(self, n: int):
        self._a = np.zeros(n)
        self._k = 0                 # ticks that added 1 everywhere, not yet in _a

    def add_one(self) -> None:
        self._k += 1

    @property
    def array(self) -> np.ndarray:
        if self._k:
            self._a += float(self._k)
            self._k = 0
        return self._a


class Normal:
    """Per-sensor running statistics of healthy readings, exponentially forgotten."""

    def __init__(self, n: int, horizon_ticks: float):
        self.alpha_min = 1.0 / max(horizon_ticks, 2.0)
        self._alpha = fnp.const(self.alpha_min)  # (a per-tick operand: fastnp.const)
        self._count = WholeCounts(n)             # healthy observed ticks learned (`count`; saturates in effect)
        # Five statistics learned at one rate, rows of one array (views), so that a tick on which
        # every sensor is learned updates them in one pass (learn); their new values go in _new.
        self._rows = np.zeros((5, n))
        self._new = np.zeros((5, n))
        self._new_rows = tuple(self._new)         # its rows as views, made once: written without an index (perf65)
        self._mask = np.ones((5, n), bool)       # _learned_rows' (its first two rows stay True)
        self.repeat = self._rows[0]              # share of ticks with exactly the previous value
        self.at_floor = self._rows[1]            # share of ticks at the floor
        self.abs_step = self._rows[2]            # mean |x_t − x_{t−1}| between observed ticks
        self.rel_step = self._rows[3]            # the same relative to the reading's size (see relative_step)
        self.mean = self._rows[4]                # the level
        # The tick's relative step (relative_step), kept for learn: (step, x) it was made of, and it.
        self._rel_of: tuple | None = None
        self._rel: np.ndarray | None = None
        self.learned = np.zeros(n, bool)         # enough of it learned for rules that compare with it
        # Counts only grow (until a restore), so once every sensor's rate is the floor alpha_min, or
        # every sensor is learned, it stays so: then neither is computed again.
        self._rate_floor = False
        self._all_learned = False
        # Ticks learned since this object's statistics were last set whole (a restore starts a new
        # `era`): how far a cached bound on them (spike.py's screen) may have moved.
        self.learns, self.era = 0, object()
        # relative_step's size floor for the mean as it stands, and the divisor, in kept rows (no temporaries; perf76)
        self._size = np.zeros(n)
        self._size_now = False                   # _size holds the floor for the mean as it stands
        self._divisor = np.zeros(n)
        self._over_x = None                      # the readings above_size found over the floor this tick (None: none)

    def learn(self, x: np.ndarray, learn: np.ndarray, step: np.ndarray, step_ok: np.ndarray,
              at_floor: np.ndarray, counted: np.ndarray, unchanged: np.ndarray | None = None,
              all_known: bool = False) -> None:
        """`learn`: sensors observed, healthy and unsuspected this tick: their level and steps are
        learned; `counted`: observed and not faulty: their repeat and at-floor rates are learned;
        `step`: |Δx| from the previous reading (NaN without one), learned where `step_ok` (from a
        learnable reading); `at_floor`: bool, the reading is at the sensor's floor; `unchanged`:
        step == 0 (the tracker passes its own, computed once a tick; None: computed here); `all_known`:
        the caller knows no step is NaN (every sensor observed now and before: `known` is all True)."""
        n = self.mean.size
        self.learns += 1
        if unchanged is None:
            unchanged = step == _ZERO
        if self._rate_floor:
            rate = self._alpha                   # the same value for every sensor as the array below
        else:
            rate = np.maximum(1.0 / (self.count + 1.0), self.alpha_min)      # the learning rate where learned
            self._rate_floor = fnp.count_nonzero(rate == self.alpha_min) == n
        if not all_known:
            known = step == step                # a previous reading (not NaN): whether the value repeated is known
            all_known = fnp.count_nonzero(known) == n
        every = fnp.count_nonzero(learn) == n
        if all_known and (every or fnp.count_nonzero(counted) == n):
            # The common tick, every sensor counted and learned with its step: each mask below is all
            # 1, and a rate × 1 is the rate, so these are the same sums as the general case in fewer
            # calls (repeat, at_floor, abs_step and rel_step as rows of one array, s += rate × (new − s)).
            # Some sensor not learned (a rule's candidate), or its step not learnable: its mean, or its
            # abs_step and rel_step, are kept as they are (the general case adds 0 × (0 − s) to them,
            # which leaves a finite s as it is).
            new = self._new
            # (into its rows' kept views: the same assignment, casts and all, as new[k] = …)
            repeats, floors, steps, rel_steps, levels = self._new_rows
            repeats[...] = unchanged
            floors[...] = at_floor
            steps[...] = step
            rel_steps[...] = self._relative(step, x)     # (with the mean as the tick found it)
            self._rel_of = None
            levels[...] = x
            rows = self._rows
            all_steps = fnp.count_nonzero(step_ok) == n
            # (s + rate × (new − s) in place in _new: the same products and sums, no temporaries)
            new -= rows
            new *= rate
            if every and all_steps:
                rows += new
            else:
                has_step = step_ok if every else learn if all_steps else learn & step_ok
                new += rows
                fnp.copyto(rows, new, where=self._learned_rows(has_step, learn))
            self._size_now, self._over_x = False, None
            if every and self._rate_floor and self._all_learned:     # (nothing reads the count until state())
                self._count.add_one()
            else:
                count = self.count
                count += 1.0 if every else learn
                self._learned()
            return
        # rate × mask is fnp.where(mask, rate, 0) (rate is finite), in fewer µs; a mask that is all
        # True is left out (rate × 1 is the rate: the same products)
        c = rate if fnp.count_nonzero(counted) == n else rate * counted
        self.repeat += (c if all_known else c * known) * (unchanged - self.repeat)
        self.at_floor += c * (at_floor - self.at_floor)
        a = rate * learn
        rel = self._relative(step, x)           # (with the mean as the tick found it)
        self._rel_of = None
        x0 = fnp.where(learn, x, 0.0)
        self.mean += a * (x0 - self.mean)
        self._size_now, self._over_x = False, None
        has_step = learn & step_ok if all_known else learn & step_ok & known
        b = a * has_step
        self.abs_step += b * (fnp.where(has_step, step, 0.0) - self.abs_step)
        self.rel_step += b * (fnp.where(has_step, rel, 0.0) - self.rel_step)
        count = self.count
        count += learn
        self._learned()

    def _learned_rows(self, has_step: np.ndarray, learn: np.ndarray) -> np.ndarray:
        """The mask of _rows a tick learns: repeat and at_floor for every counted sensor, abs_step
        and rel_step for those learned with their step, the mean for those learned (written into a
        kept (5, n) array)."""
        mask = self._mask
        mask[2:4] = has_step        # (both rows in one broadcast write)
        mask[4] = learn
        return mask

    @property
    def count(self) -> np.ndarray:
        return self._count.array

    @property
    def rate_floor(self) -> bool:
        """Every sensor learns at alpha_min (counts only grow: it stays so until a restore), so
        no statistic of the rows moves by more than alpha_min of its distance to a tick's value."""
        return self._rate_floor

    @property
    def all_learned(self) -> bool:
        """Every sensor learned (`learned` all True): rules may leave it out of their masks."""
        return self._all_learned

    def _learned(self) -> None:
        if not self._all_learned:
            self.learned = self.count >= MIN_LEARNED_TICKS
            self._all_learned = fnp.count_nonzero(self.learned) == self.learned.size

    def relative_step(self, step: np.ndarray, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """|Δx| over the reading's size (at least 1 % of its normal size, the mean as it stands): steady
        for a sensor whose noise grows with its level, so a quiet night is not mistaken for a flatline.
        Into `out` if given. Kept for this tick's learn (stuck's call: one division a tick, not two)."""
        size = self.size()
        self._rel_of = (step, x)
        if x is self._over_x:      # (every reading over the floor: |x| is x, and the larger; above_size)
            self._rel = np.divide(step, x, out)
            return self._rel
        divisor = np.absolute(x, self._divisor)
        np.maximum(divisor, size, out=divisor)
        self._rel = np.divide(step, divisor, out)
        return self._rel

    def size(self) -> np.ndarray:
        """relative_step's size floor, max(SIZE_SHARE × |mean|, tiny), for the mean as it stands: computed once a
        tick (the first call after learn), into a kept row (read it, never keep it)."""
        size = self._size
        if not self._size_now:
            # (the same ufuncs in its kept row, by their names, not the operators; perf76)
            np.multiply(_PERCENT, np.absolute(self.mean, size), size)
            np.maximum(size, _TINY, out=size)
            self._size_now = True
        return size

    def above_size(self, x: np.ndarray) -> bool:
        """Every reading of `x` over its size floor (size(): a NaN is not). Then relative_step of this tick's
        `x` divides by x itself — |x| is x, and the larger of it and the floor: the same bits — and the tracker
        knows no sensor at its floor (tracker.py: dead.AT_FLOOR × the level is at most the floor)."""
        over = fnp.count_nonzero(np.greater(x, self.size())) == x.size
        self._over_x = x if over else None
        return over

    def _relative(self, step: np.ndarray, x: np.ndarray) -> np.ndarray:
        """relative_step(step, x) as this tick's first call made it (the same arrays: the tick's), or
        made now; never after the mean has learned this tick (learn calls it first)."""
        made = self._rel_of
        if made is not None and made[0] is step and made[1] is x:
            return self._rel
        return self.relative_step(step, x)

    def state(self) -> dict:
        return {k: getattr(self, k).tolist() for k in STATE}

    def restore(self, state: dict) -> None:
        for k, v in state.items():
            if k in STATE:
                getattr(self, k)[:] = np.asarray(v, float)
        self._rate_floor = self._all_learned = False
        self.learns, self.era = 0, object()
        self._size_now, self._over_x = False, None
        self._rel_of = self._rel = None
        self._learned()
