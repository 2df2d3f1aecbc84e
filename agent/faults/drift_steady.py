"""drift's steady tick: observe's and learn's paths for it, as straight-line code (perf56).

The steady tick — every sensor observed and healthy, every lag started, every pair fitted, every row judged,
none over half the limit the tick before — is most ticks. drift.py's observe and learn test, on every tick,
what that tick fixes; here they are not tested. _steady_tick computes the rows as observe does (the same calls
on the same arrays) and hands anything unusual to _judge (drift_judge.py): the one decision. Its own calm tick
(none over half the limit, nothing held or tracked) decides nothing and marks the rows as _judge's calm tick
does (_mark_calm: one definition). Learning after it is _learn_calm. The steps observe and _steady_tick share
word for word — the relation's rows joined to the sensors' (_with_relation), the settling rows (_seen), the rows'
running mean (_running_mean) — are defined here once and called by both. tests/test_perf56_steady.py holds the
rest to observe's: a tracker whose drift never takes this path decides and checkpoints alike, every tick, on
varied streams."""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .pairs import _full_median, _row_median
from .drift_judge import _ZERO, _ZERO_I
from .rule import Tick


class DriftSteady:
    """A mixin of Drift: the steady tick, and the steps it shares with observe."""

    def _steady_tick(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        """observe on the steady tick (its test there): the same calls on the same arrays as observe's paths for
        it, without the tests whose answer that tick fixes (perf56: ~100 of observe's lines are such tests and
        their bookkeeping; with the few calls it also saves, ~4 µs of drift's calm tick). Its rows are computed as
        observe computes them; if none is over half the limit, every row is seen, nothing held and no jump back,
        ramp or rise has a record to keep (the calm tick, ~2 in 3 on the demo), its decisions are nothing and it
        returns; else _judge decides."""
        n, x = self.n, t.x
        lags = self.lags
        lags *= self._keep_full         # (every lag started, every sensor fresh: in place, as observe)
        lags += self._times_take(x)
        xl2 = self._xl_x2                   # (xl[0] and xl[1]: kept views, as observe)
        self._xl_x[...] = x
        np.multiply(x, x, xl2)
        self._xr_rows[self._filled][...] = self._xl_flat
        # (every sensor observed and healthy, none over: ok_i is observed, ok_j all True, every pair usable)
        ok_i, ok_j, pairs = t.observed, self._all_n, self._all_pairs
        if self._residuals_block():
            med, has = _full_median(self._block, self._mid_flat, self._med_n), self._has_full
        else:                           # (observe's pair-by-pair path; no pair to set NaN: every one usable)
            self._busy_key = None
            np.add(fnp.einsum("pk,pk->p", self._coef_g, self._xl_flat.take(self.g_index)), self._coef_1,
                   self._e_pairs)
            med, has = _row_median(self._e[self.slot], self._row_k, self._mid_at, self._med_n, self._has_n)
        self._normal = t.normal
        if self.trio.size:
            rel = self._relation(x, xl2, ok_i, True)
            vouched = self._vouched(ok_i, True, t.drifting, t.ts) if self._vouch_any or self._lost_any else None
            med, has = self._med_all, self._with_relation(rel, has)
        else:
            rel = vouched = None
        last = self._recent_rows[self.head]         # (recent[head]: its kept view, as observe)
        gap = np.subtract(med, last, self._tmp_a)       # (|med − last| in a scratch row: no temporaries)
        abrupt = np.greater(np.absolute(gap, gap), self._abrupt)    # (the ufuncs by name, not the operators; perf76)
        last[...] = med
        self.head = (self.head + 1) % self.abrupt_runs
        seen = self._seen(has, abrupt)      # (no sensor faulty: restart is abrupt)
        all_seen = self._running_mean(seen, med)
        dev = np.subtract(self.mean_e, self.base_e, self._level_step)
        departure = np.divide(dev, np.sqrt(self.d2, self._tmp_a))     # (the root in a scratch row)
        self.departure = departure if all_seen else fnp.where(seen, departure, _ZERO)     # (every row judged)
        size = np.absolute(self.departure)
        # Any row past the rise's share, past half the limit: the largest |departure| past either (argmax:
        # ~0.5 µs against ~1.4 for two comparisons and counts); a NaN among them (argmax picks it), by the counts.
        top = float(size[size.argmax()])
        if top == top:
            any_low, busy = top > self._rise_z_f, top > self._half_z_f
        else:
            any_low = fnp.count_nonzero(size > self._c_rise_z)
            busy = any_low and fnp.count_nonzero(size > self._c_half_z)
        ramp = self.ramp
        if busy or not all_seen or not self.held.idle \
                or (self.jump_back and (self._back_any or self._open_any)) \
                or (ramp.back_on and (any_low or ramp.rising_any or ramp.tracking)) \
                or (ramp.enabled and not ramp.resting):
            return self._judge(t, ok_i, True, ok_i, ok_j, pairs, med, rel, vouched, abrupt, seen, all_seen, seen,
                               dev, size, any_low)
        # The calm tick (_judge's, none over half the limit): every row quiet, none stepped, every sensor's context
        # calm where it has one; nothing decided, held or pending, and no ramp, rise or jump back to keep.
        self.over, self._any_over, self._not_over = self._no_rows, False, self._all_quiet
        self._mark_calm()
        nothing = self.held.nothing
        self._pending = (ok_i, ok_j, seen, self._ctx_calm if rel is not None else self._ctx_calm_n, rel, pairs, dev)
        if rel is not None:
            self._push_history()
        self._own = nothing
        if ramp.back_on:
            self._med = med
        if ramp.enabled:
            ramp.rest(seen[:n])
        # (learn's own calm tick, if it learns every sensor: every row seen, every rate at the floor, every
        # relation usable — _learn_calm)
        self._calm_learn = self._rate_floor and self._every_ctx \
            and (seen is self._has_all or seen is self._has_full) and (rel is None or rel[2] is self._every_rel)
        return nothing, nothing

    def _times_take(self, x: np.ndarray) -> np.ndarray:
        """take × x at the lags' shape, into a kept array (read within the tick)."""
        out = self._take_x
        out[...] = x
        out *= self._take_full
        return out

    def _with_relation(self, rel: tuple, has: np.ndarray) -> np.ndarray:
        """The station relations' rows of this tick (rel, _relation's) beside the sensors': the relation's
        log and fit into the moved-alone history, its clipped z into _med_all's relation part (the rows' median:
        _med_all), and the rows that have a residual (`has`, the sensors') extended by the relations' —
        observe's and _steady_tick's alike."""
        if self.moved_alone:
            self.log_history[self.history_head], self.fit_history[self.history_head] = rel[5], rel[6]
        if rel[0] is not self._med_rel:     # (not the usual tick's z: a where of it)
            self._med_rel[...] = rel[0]
        # (every pair usable and every relation usable: the constant of the two)
        if rel[1] is not self._every_rel:
            return fnp.concatenate((has, rel[1]))
        return self._has_all if has is self._has_full else self._has_buf if has is self._has_n \
            else fnp.concatenate((has, rel[1]))

    def _seen(self, has: np.ndarray, restart: np.ndarray) -> np.ndarray:
        """The rows seen this tick: those with a residual (`has`) not settling. A row restarting (`restart`: a
        jump, another fault) settles for settle_ticks runs of its own residual — observe's and _steady_tick's
        alike."""
        if self._settled and not fnp.count_nonzero(restart):
            return has                         # (no row settling, none starts: settle stays all 0)
        # (in place: whole numbers, the same as the where of the maximum it was)
        settle = self.settle
        np.subtract(settle, has, settle)
        np.maximum(settle, _ZERO_I, out=settle)
        fnp.copyto(settle, self._c_settle, where=restart)
        seen = has & (settle == _ZERO_I)        # has: observed, and i fit to follow
        self._settled = not fnp.count_nonzero(settle)
        return seen

    def _running_mean(self, seen: np.ndarray, med: np.ndarray) -> bool:
        """The rows' running mean moved on by this tick's residuals (`med`) where they are `seen`; whether every
        row was seen (the usual tick: the running mean and, every row judged, the departure without the where
        that would pick every entry of them) — observe's and _steady_tick's alike."""
        # (has as every row's constant, every sensor with a context: every row seen, not counted)
        all_seen = ((seen is self._has_all or seen is self._has_full) and self._every_ctx) \
            or fnp.count_nonzero(seen) == seen.size
        # (the two products into scratch rows, their sum a new array: mean_e is kept)
        mean_e = np.add(np.multiply(self._c_lam_keep, self.mean_e, self._tmp_a),
                        np.multiply(self._c_lam, med, self._tmp_b))
        self.mean_e = mean_e if all_seen else fnp.where(seen, mean_e, self.mean_e)
        return all_seen

    def _learn_calm(self) -> None:
        """learn on the steady calm tick (_steady_tick's) with every sensor learned: learn's paths for it
        (every pair and relation kept, every row learned at the floor rates, none over), without their tests."""
        rel, dev = self._pending[4], self._pending[6]
        k = self._filled
        if not self._pl_all[k]:
            self._pl[k] = self._all_pairs
            self._pl_all[k] = True
        if rel is not None:
            self._r_rows[k][...] = rel[3]      # (_r[k]: its kept view)
            if not self._rc_all[k]:
                self._rc[k] = True
                self._rc_all[k] = True
        self._filled = k + 1
        self._learn_rows(dev, None, None)
        self._count.add_one()           # (every row judged, every rate at the floor: nothing reads it until state())
        self.ticks += 1
        if self.ticks % self.refit_runs == 0:
            self._refit()
