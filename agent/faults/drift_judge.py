"""drift's decision (drift.py's rule): its constants, and what a tick's rows decide.

_judge takes the rows observe (drift.py) or _steady_tick (drift_steady.py) computed — the departure, which rows
were seen and judged, the jumps, the station relations' rows — and decides which row is past half the limit,
quiet, stepped, a candidate or decided, and what learn is to learn from (its _pending). It is apart from the
rows' arithmetic because both paths to the rows end in it: one definition of the decision, read by both. The
calm tick's marks (every row quiet, none stepped, every context calm) are _mark_calm, which _steady_tick's own
calm tick calls too rather than repeating them.

The constants are the rule's (drift.py's docstring says what each is for); drift.py imports them from here
and callers may import them from drift.py."""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .rule import Tick

LAG_HALF_LIVES_S = (600.0, 1800.0)   # lagged predictors: running means of the neighbour's reading
DRIFT_HORIZON = 4.0      # the pair models forget over this many × learn_s
# Counts tuned in the data's ticks, each taken as that many ticks' seconds (× tick_s) and counted in drift's runs (_runs)
REFIT_TICKS = 10         # the pair models are solved again (and their moments updated) this often
CLIP = 3.0               # a departure beyond this many spreads is learned as this many
SETTLE_WINDOWS = 3.0
ABRUPT, ABRUPT_TICKS = 6.0, 3   # the median residual moving more than this within this many ticks is not a drift
MIN_COUNT_TICKS = 30     # the departure's spread is learned this long at least (and learn_s) before a row is judged
BASE_HALF_LIFE_S = 3600.0   # the residual's own slow level (a regime the pair models fit less well)
DOMINANT = 2.0           # a candidate with its context not calm: its departure this many × every context sensor's
_CLIP2 = fnp.const(CLIP ** 2)       # (per-tick operands: fastnp.const)
_ZERO, _NAN, _ZERO_I = fnp.const(0.0), fnp.const(np.nan), fnp.const(0, np.int64)


class DriftJudge:
    """A mixin of Drift: its decision from a tick's rows."""

    def _judge(self, t: Tick, fresh: np.ndarray, all_fresh: bool, ok_i: np.ndarray, ok_j: np.ndarray,
               pairs: np.ndarray, med: np.ndarray, rel: tuple | None, vouched: np.ndarray | None, abrupt: np.ndarray,
               seen: np.ndarray, all_seen: bool, judged: np.ndarray, dev: np.ndarray, size: np.ndarray,
               any_low: int) -> tuple[np.ndarray, np.ndarray]:
        """observe's decisions, from this tick's rows as observe (or _steady_tick) computed them: which row is
        past half the limit, quiet, stepped, a candidate or decided."""
        n = self.n
        drifting = t.drifting
        all_healthy = t.all_healthy
        over = size > self._c_half_z if any_low else self._no_rows
        any_over = any_low and fnp.count_nonzero(over)
        if not any_over:
            over = self._no_rows
        self.over = over
        # No row past half the limit (the usual tick): none is past the limit, none is a candidate, and
        # no relation is past its early share or half its limit (both at least half drift_z): decide,
        # pending and the relation's blame are all False, and are not computed.
        self._any_over = bool(any_over)
        if any_over:
            self._not_over = np.invert(over)
            past = size > self._past_at         # (3, m): each row past each of _past_at's thresholds
        else:
            self._not_over = self._all_quiet    # (all True: the read-only one)
        if not any_over and all_seen and self._all_judged and all_fresh:
            # The calm tick: every row judged and none over half the limit, so every row is quiet, none
            # stays stepped, and every sensor's context is calm where it has one (ctx_calm is _ctx_any).
            self._mark_calm()
            quiet, ctx_calm = self._all_quiet, self._ctx_calm_n
        else:
            self._ctx_calm_any = False
            quiet = judged & self._not_over                 # not judged: not known calm
            self.quiet = quiet[:n]
            self.stepped = (self.stepped | abrupt) & ~quiet
            self._any_stepped = bool(fnp.count_nonzero(self.stepped))
            # Every observed, healthy sensor of its context calm (and at least one seen).
            if all_fresh:         # (every sensor fresh: ctx_seen is every context slot)
                ctx_calm = self._ctx_calm_n
                key = quiet.tobytes()
                if key != self._ctx_calm_of:    # (the same quiet: the same and, as written)
                    np.logical_and(self._ctx_all(quiet), self._ctx_any, ctx_calm)
                    self._ctx_calm_of = key
            else:
                self._ctx_calm_of = None
                ctx_seen = self._ctx_on_t & fresh[self._ctx_idx_t]
                ctx_calm = np.logical_and(np.logical_and.reduce(~ctx_seen | quiet[self._ctx_idx_t], axis=0),
                                          np.logical_or.reduce(ctx_seen, axis=0), out=self._ctx_calm_n)
        far = None
        decide = self.held.nothing              # (read-only: only ever read, or or-ed into a new array)
        if any_over:
            unstepped = judged & ~self.stepped
            far = (unstepped & past[0])[:n]
            if fnp.count_nonzero(far):          # (none past the limit, the usual busy tick: decide stays nothing)
                decide = far & ctx_calm if all_healthy else far & (ctx_calm | drifting)     # once judged, it lasts while the departure does
                if not fnp.count_nonzero(decide):   # (none: as nothing — the held update and decided alike)
                    decide = self.held.nothing
        held_seen = None                        # (seen[:n], made only when the held decision reads it)
        rel_half = self._no_rel
        if rel is not None and any_over:
            if decide is not self.held.nothing:
                # A mate's drift breaks its station's relation too: a relation that is judged and calm
                # (or moved the other way) says the misfit is its neighbours' models, not the sensor.
                d = self.departure[n:] @ self.trio_in.T             # each sensor's station relation
                # (a relation vouching, a mate's reading missing: judged calm before it went)
                known = (judged[n:] if vouched is None else judged[n:] | vouched) @ self.trio_in.T > 0
                decide &= ~known | self._agrees(d, decide) | drifting
            rel_cand = None
            if self.station_early:
                # (half the limit only where a quarter is: a calm tick pays one count more)
                # (half its limit is past its early share: rel_half implies early)
                early = past[1, n:]
                any_early = fnp.count_nonzero(early)
                rel_half = past[2, n:]
            else:
                any_early, rel_half = 0, past[2, n:]
            if fnp.count_nonzero(rel_half):
                blamed, rel_cand = self._blamed(judged, size, rel_half)
                decide = decide | blamed
                held_seen = seen[:n] | blamed       # the relation judged it: seen, its own row settling or not
            if any_early:
                mates = self._early_mates(judged, early)
                rel_cand = mates if rel_cand is None else rel_cand | mates
        else:
            rel_cand = None
        if rel is not None:
            ctx_calm = self._ctx_calm           # (its first n: ctx_calm as written above)
        # (with no sensor faulty, learn's ok_i is this one: its pairs are those above)
        self._pending = (ok_i if all_healthy else ok_i & ~drifting, ok_j, seen, ctx_calm, rel,
                         pairs if all_healthy else None, dev)
        # (nothing decided and nothing held, the usual tick: update would return its all-0 array)
        lasted = self.held.none_lasted if decide is self.held.nothing and self.held.idle else \
            self.held.update(decide, seen[:n] if held_seen is None else held_seen, t.ts)
        # A candidate from half the limit on (its context calm, not a step): an alert it drives alone
        # waits for the decision (holdback.py, `drift_holdback_s`), and it teaches nothing meanwhile.
        # …or its departure at least DOMINANT × every context sensor's (rush hour: no context is calm,
        # but a drifting sensor departs much further than the traffic moves its neighbours).
        if any_over:
            pending = (unstepped & over)[:n]
            if not all_healthy:
                pending &= ~drifting
            # (none pending: all False, the and below leaves it so; every pending sensor's context calm — on
            # the demo ~1 busy tick in 12 — `dominant` changes nothing, computed anyway: no test first)
            if fnp.count_nonzero(pending):
                if self._every_ctx and self._ctx_words is not None:
                    # over DOMINANT × the largest context departure: over DOMINANT × each of them (a NaN
                    # among them: not over, as beside their NaN max; 2 × a size is exact, or inf for both)
                    rep, word, ones = self._ctx_words
                    dominant = (np.greater(size[:n, None], self._c_dominant * size[rep]).view(word) == ones).reshape(-1)
                else:
                    ctx_size = np.maximum.reduce(size[self._ctx_rep_t], axis=0)     # (a row without a context: 0)
                    if not self._every_ctx:
                        ctx_size = fnp.where(self._ctx_any, ctx_size, 0.0)
                    dominant = size[:n] > self._c_dominant * ctx_size
                pending &= ctx_calm[:n] | dominant
        else:
            pending = self.held.nothing         # (read-only, as decide)
        if rel is not None:
            if rel_cand is not None:
                pending |= rel_cand & ~drifting
            self._push_history()
        self._own = pending
        decided = self.held.nothing if decide is self.held.nothing else decide & (lasted >= self._required)
        if self.jump_back:
            back = self._jump_back(rel, judged[n:] & rel_half if any_over else self._no_rel, drifting, t.ts, judged)
            if back is not None:
                decide, decided = decide | back, decided | back
        rising = None
        if self.ramp.back_on and (any_low or self.ramp.rising_any):     # a steady rise under half the limit (ramp.py)
            # (by index: the few sensors past RISE_Z; none when only a rise's record is left to clear)
            stepped, judges = self.stepped, self.ramp.judges
            low = [k for k in (size[:n] > self._c_rise_z).nonzero()[0].tolist() if judges[k] and not over[k] and judged[k]
                   and not stepped[k] and ctx_calm[k] and (all_healthy or not drifting[k])] if any_low else []
            rising = self.ramp.rise(low, size, t.ts, self.departure)
            if rising is not None:
                self._own = self._own | rising
        if self.ramp.back_on:       # a sensor without a station relation: its own jump back (ramp.py, claim)
            if far is not None or self.ramp.tracking:       # (else track would change nothing)
                self.ramp.track(far, over[:n], judged[:n], self.departure[:n], t.ts, self.partial)
            self._med = med
            if self.ramp.far_any and fnp.count_nonzero(abrupt[:n]):
                # A noisy sensor's jump back is no spike (its usual change is as large): its residual
                # jumping back while its decision is under way (held past the limit, its context calm),
                # no context sensor's residual jumping and its context calm, ends the drift alike.
                ctx_jumped = np.logical_or.reduce(abrupt[self._ctx_rep_t] & self._ctx_on_t, axis=0)
                back = self.claim(abrupt[:n] & ~ctx_jumped & ctx_calm[:n] & (self.held.ticks > 0), t.healthy, t.ts)
                if back is not None:
                    decide, decided = decide | back, decided | back
        if not self.ramp.enabled:
            ramp = None
        elif self.ramp.resting and (pending is self.held.nothing or not fnp.count_nonzero(pending & self.ramp.on)):
            self.ramp.rest(judged[:n])      # (no candidate it judges: update would count the run and return None)
            ramp = None
        else:
            calm_pending = self.held.nothing if pending is self.held.nothing else pending & ctx_calm[:n]
            ramp = self.ramp.update(calm_pending, judged[:n], size[:n], drifting, t.ts, self.held.since,
                                    self.over[:n], self.stepped[:n])
        if rising is not None:
            pending = pending | rising
        if ramp is not None:
            hold, ramped = ramp
            return decide | pending | hold, decided | ramped
        if decide is pending is self.held.nothing or (not fnp.count_nonzero(decide) and not fnp.count_nonzero(pending)):
            return self.held.nothing, self.held.nothing     # (the calm tick: both masks all False)
        return decide | pending, decided

    def _mark_calm(self) -> None:
        """The calm tick's marks (every row judged, none over half the limit): every sensor quiet, no row stepped,
        every sensor's context calm where it has one (_ctx_calm_n is _ctx_any) — _judge's and _steady_tick's."""
        self.quiet = self._all_quiet_n
        if self._any_stepped:
            self.stepped = np.zeros(self.stepped.size, bool)
            self._any_stepped = False
        if not self._ctx_calm_any:          # (written by the last calm tick and not since: as it is)
            self._ctx_calm_n[...] = self._ctx_any
            self._ctx_calm_any = True
            self._ctx_calm_of = None

    def _ctx_all(self, mask: np.ndarray) -> np.ndarray:
        """Per sensor, `mask` (a row's bool, sensors first) True at every sensor of its context (a row without a
        context: at sensor 0): the and over its context slots, as one compare of each row's slots read as one
        machine word (_row_words) where the padded width allows, else a reduce (~2 µs on the demo's (4, 18))."""
        if self._ctx_words is None:
            return np.logical_and.reduce(mask[self._ctx_rep_t], axis=0)
        rep, word, ones = self._ctx_words
        return (mask[rep].view(word) == ones).reshape(-1)


def _row_words(rep: np.ndarray) -> tuple | None:
    """(rep padded, word dtype, all-ones word) for the and over each row of a gathered (n, width) bool block
    in one compare: the rows' slots padded to 1, 2, 4 or 8 by repeating each row's first slot (an and, a max
    over a row: the same with a repeat), so that a C-contiguous row of bools is one unsigned word, all True
    exactly when every byte is 1 (numpy's True). None past 8 slots (the caller reduces instead)."""
    width = rep.shape[1]
    size = next((w for w in (1, 2, 4, 8) if w >= width), None)
    if size is None:
        return None
    padded = np.ascontiguousarray(np.concatenate([rep] + [rep[:, :1]] * (size - width), axis=1))
    word = np.dtype(f"u{size}")
    return padded, word, fnp.const(int.from_bytes(b"\x01" * size, "little"), word)




def _runs(seconds: float, run_s: float) -> int:
    """Drift's runs (of run_s) covering `seconds`, at least one: a count tuned in the data's ticks, at
    a cadence. (The tolerance: the seconds are whole multiples of the tick, k × tick_s / tick_s may round.)"""
    return max(1, int(np.ceil(seconds / run_s - 1e-9)))
