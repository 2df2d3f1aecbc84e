"""drift: a slow departure from what the sensor's neighbours predict, that the neighbours do not share.

The fusion model is a set of pairwise predictions. For each sensor i and each sensor j it should
move with (topology neighbours and station / machine mates: its context), a linear model
predicts x_i from j's reading now and two lagged versions of it (running means with half-lives
LAG_HALF_LIVES_S): a motor temperature follows the current with a lag, a fluid temperature
follows the motor with a longer one, so raw levels would disagree whenever the load changes
while the predicted value does not. The models are fitted online (ridge regression on
exponentially forgotten moments over DRIFT_HORIZON × `learn_s`) from ticks on which both
sensors are healthy and unsuspected, and refitted every REFIT_TICKS ticks' seconds. The moments are
brought up to date at the refit, from the ticks kept since (_fold: the same sums as a
tick-by-tick update, in a few calls instead of a dozen a tick).

Each tick, sensor i's residual against each predictor, over that pair's residual spread, is
combined by the median: one broken predictor moves it little, so a drifting sensor does not
drag its neighbours along, while the drifting sensor disagrees with all of them at once. That
median is averaged with a half-life of `drift_window_s` and divided by its own normal spread:
the departure D. A sensor drifts when |D| > `drift_z` for `drift_s` while every observed,
healthy sensor of its context stays under drift_z / 2: the model attributes the change to the
sensor, not the process. An incident (a queue, cavitation) moves several sensors of a station
or skid against their predictions at once, and then spreads to the neighbours: never a drift.
Predictors that look suspect (|D| over drift_z / 2) are left out of the others' medians.
A drift is slow: when the median residual jumps (by ABRUPT pair spreads within ABRUPT_TICKS ticks' seconds:
congestion setting in, a valve moved, a lasting shift of the process) the sensor is not judged
a drift until its departure is back under drift_z / 2; that step is the scorers' to judge.
The departure is measured from the residual's own slow level (half-life BASE_HALF_LIFE_S,
learned while calm), so a regime the pair models fit less well is not a drift either.

A drift that is short or small reaches the limit late, or not at all: ramp.py decides a candidate
whose context stays calm while its departure keeps growing (sensors without a station relation),
and makes one that rises steadily under half the limit a candidate too (its rise).

Past half the limit (its context calm, or its departure DOMINANT × every context sensor's; not a
step) a sensor is a drift *candidate*: an alert it drives alone waits up to `drift_holdback_s` for
the decision (holdback.py). A sensor judged and within half the limit fits its neighbours
(`quiet`): the hold-back does not count it as corroborating an alert. Its candidate ticks
still teach this rule (the departure's spread widening with them keeps false drifts rare), not
the other rules.

At rush hour no neighbour is calm: a loop station's own physics (flow, occupancy and speed) judges
its mates too (relation.py, a mixin of this rule's rows: the relation's rows come after the sensors').

After a fault of another kind the sensor's lags and departure are stale: drift is judged again
after SETTLE_WINDOWS × drift_window_s of readings. Everything is vectorised over sensors,
stations and pairs; a tick costs a few dozen numpy operations whatever the number of sensors.

Drift may be judged every k-th tick (`faults.drift_every_s`: the tracker runs it on one tick in k and
builds it with `every` = k). Everything it decides is then stated in seconds: its half-lives and
durations were already, and its counts tuned in the data's ticks (ABRUPT_TICKS, REFIT_TICKS,
MIN_COUNT_TICKS, pairs.py's MIN_PAIR_TICKS, relation.py's MIN_REL_TICKS) are taken as that many
ticks' seconds (× tick_s) and counted in its own runs of run_s = k × tick_s (`_runs`: at least the
seconds, at least one run). At k = 1 every count is the constant itself: the same decisions.

Check on site: calibration (zero / span) of the transmitter, a loop whose sensitivity changed
(pavement damage, a loose connection), fouling or ageing of the sensing element.

Where it is (review27): this module holds `Drift`'s state (__init__), the general path to a tick's rows
(observe) and what a decision says (evidence); beside it, mixins of `Drift`: drift_judge.py (the constants
above and the decision from a tick's rows, _judge), drift_steady.py (the steady tick, perf56, and the steps it
shares with observe), drift_learned.py (learn, the runs kept for the next fold, the checkpoint) and
drift_layout.py (the pairs laid out for one product a tick, and the busy tick's median).
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .config import FaultConfig
from .ramp import RISE_Z, Ramp
from .pairs import MIN_PAIR_TICKS, PairModels, _full_median, _row_median
from .relation import EARLY, MIN_REL_TICKS, RELATION_Z, StationRelation
from .context import WholeCounts
from .rule import Held, Tick
# The rule's constants live with its decision (drift_judge.py); callers import them from here too.
from .drift_judge import (ABRUPT, ABRUPT_TICKS, BASE_HALF_LIFE_S, CLIP, DOMINANT, DRIFT_HORIZON,  # noqa: F401
                          LAG_HALF_LIVES_S, MIN_COUNT_TICKS, REFIT_TICKS, SETTLE_WINDOWS, _NAN, _ZERO,
                          DriftJudge, _runs)
from .drift_layout import DriftLayout
from .drift_learned import DriftLearned
from .drift_steady import DriftSteady


class Drift(DriftSteady, DriftJudge, DriftLearned, DriftLayout, PairModels, StationRelation):
    """The rule (this module's docstring): its state made in __init__, a tick's rows in observe (or
    _steady_tick, drift_steady.py), its decisions in _judge (drift_judge.py), learning and the checkpoint in
    drift_learned.py, the pairs' residual block in drift_layout.py."""
    KIND = "drift"
    EVERY_KEY = "drift_every_s"     # judged every that many seconds: the tracker passes that in ticks as `every`

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float, every: int = 1):
        """`tick_s`: the data's tick; `every`: drift is run on one tick in that many (its run, run_s)."""
        n = ctx.n
        self.n = n
        self.run_s = run_s = tick_s * every
        # A run's row is the mean of its block's k readings (tracker._drift_block), whose spread is 1/√k of
        # one reading's: the tests stated in one reading's spreads (the jump test, the relation's clip and
        # its jump back) take × √k of the block's, so a step means the same at every cadence (× 1 at k = 1).
        self.unit = float(np.sqrt(every))
        self.partial = False            # this run's block was cut short by a jump (the tracker sets it)
        self._abrupt = fnp.const(ABRUPT * self.unit)
        # The counts tuned in the data's ticks, as runs covering their seconds (at k = 1: the constants).
        self.abrupt_runs = _runs(ABRUPT_TICKS * tick_s, run_s)
        self.refit_runs = _runs(REFIT_TICKS * tick_s, run_s)
        self.min_pair_runs = _runs(MIN_PAIR_TICKS * tick_s, run_s)
        self.min_rel_runs = _runs(MIN_REL_TICKS * tick_s, run_s)
        self.z_limit = cfg.drift_z
        self.required_s = cfg.drift_s
        self._required = max(self.required_s, 1e-9)       # a decision's least time held
        self.lam = 1.0 - 0.5 ** (run_s / cfg.drift_window_s)
        self._lam_keep = 1 - self.lam
        # (per-tick operands as 0-d arrays, the same bits: fastnp.const)
        self._c_lam, self._c_lam_keep, self._c_half_z = fnp.const(self.lam), fnp.const(self._lam_keep), \
            fnp.const(self.z_limit / 2)
        self._c_rise_z = fnp.const(RISE_Z * self.z_limit)
        self._rise_z_f, self._half_z_f = float(RISE_Z * self.z_limit), float(self.z_limit / 2)    # (as numbers)
        # A busy tick's three thresholds past half the limit as one column, compared with every row's
        # |departure| in one call (observe's `past`): the limit, a relation's early share and its half limit.
        self._past_at = np.array([[self.z_limit], [EARLY * RELATION_Z * self.z_limit], [0.5 * RELATION_Z * self.z_limit]])
        self.d2_floor = self.lam / (2.0 - self.lam)          # the running mean's variance for white residuals
        self.keep = np.array([0.5 ** (run_s / h) for h in LAG_HALF_LIVES_S])[:, None]
        self.take = 1.0 - self.keep
        # (keep and take at the lags' own shape: multiplies with one operand broadcast at most, the same products)
        self._keep_full = np.ascontiguousarray(np.broadcast_to(self.keep, (len(LAG_HALF_LIVES_S), n)))
        self._take_full = np.ascontiguousarray(np.broadcast_to(self.take, (len(LAG_HALF_LIVES_S), n)))
        # take × x at the lags' shape: x copied into both rows, then multiplied in place (a (2, n) × (n,)
        # product goes through numpy's broadcasting iterator: ~1.3 µs against ~0.5 for the copy and the
        # product of equal shapes; the same products; perf56)
        self._take_x = np.zeros((len(LAG_HALF_LIVES_S), n))
        self.alpha_min = run_s / max(DRIFT_HORIZON * cfg.learn_s, 2 * run_s)
        # runs of the departure's spread before judging
        self.min_count = max(_runs(MIN_COUNT_TICKS * tick_s, run_s), cfg.learn_s / run_s)
        self.settle_ticks = int(np.ceil(SETTLE_WINDOWS * cfg.drift_window_s / run_s))
        self._c_settle = fnp.const(self.settle_ticks, np.int64)
        self.held = Held(n, run_s)
        self._init_layout(ctx, n)
        self.ticks = 0
        self._init_stations(ctx, n, cfg.drift_station_hold, cfg.drift_station_early)
        s_n = self.trio.shape[0]
        # The ramp (ramp.py): sensors without a station relation (the pump's).
        self.ramp = Ramp(self.trio_sign == 0, cfg.drift_ramp_s, run_s, cfg.drift_jump_back, cfg.drift_z, cfg.drift_s,
                         self.abrupt_runs)
        # Per row — the n sensors, then the S stations' relations — the smoothed residual (the
        # median pair residual; the relation's), its slow level, its learned spread, the departure D.
        m = n + s_n
        self.mean_e = np.zeros(m)
        # Two scratch rows for a tick's intermediate arrays (the abrupt test's |difference|, the running mean's two
        # products, the spread's root): the same ufuncs on the same operands, into kept memory (perf65).
        self._tmp_a, self._tmp_b = np.empty((2, m))
        # This tick's median residual per row (observe: the sensors' written into the first n, the
        # relations' z clipped into the rest by _relation; read within the tick only, as the ramp's claim does).
        self._med_all = np.zeros(m)
        self._med_n = self._med_all[:n]
        self._med_rel = self._med_all[n:]          # (the relations' part: _relation's z clipped into it)
        self.base_lam = 1.0 - 0.5 ** (run_s / BASE_HALF_LIFE_S)
        self._c_alpha_min, self._c_d2_floor = fnp.const(self.alpha_min), fnp.const(self.d2_floor)
        self._c_base_lam = fnp.const(self.base_lam)
        # The slow level and the spread, the two statistics learn updates every tick, as the rows of one
        # array (base_e, d2: views), each learned as s += rate × (its step): observe writes the level's
        # step (dev, the smoothed residual less the level) into _steps[0] (_level_step), learn the spread's into
        # _steps[1] (_spread_step), and one multiply by the rows' rates and one add update both (_learn_rows).
        self._rows = np.zeros((2, m))
        self.base_e, self.d2 = self._rows
        self.d2[...] = self.d2_floor
        self._steps = np.zeros((2, m))
        self._level_step, self._spread_step = self._steps     # (kept views: an index a call costs as much)
        self._rates = np.zeros((2, m))              # the rows' rates on a tick they are not the constants
        # Both rates constant (every row learned at the floor, none over half the limit: the usual tick)
        # (at the rows' whole shape: a multiply with a (2, 1) column goes through numpy's broadcasting
        # iterator, 1.5 µs against 0.6 here — two rows by a column cost more than two 1-D products)
        self._floor_rates = np.ascontiguousarray(np.broadcast_to([[self.base_lam], [self.alpha_min]], (2, m)))
        self._floor_rates.flags.writeable = False
        self._count = WholeCounts(m)               # ticks learned per row (`count`)
        # Counts only grow (until a restore): once every row is judged (count ≥ min_count), or every
        # row's spread rate is the floor alpha_min, it stays so, and neither is computed again.
        self._all_judged = False
        self._rate_floor = False
        self.departure = np.zeros(m)
        self.settle = np.zeros(m, np.int64)
        self._settled = True                       # settle is all 0 (until a row starts settling)
        self.stepped = np.zeros(m, bool)           # jumped: not judged a drift until back near its base
        self._any_stepped = False                  # some row is stepped (False: stepped is all False)
        self._all_quiet = np.ones(m, bool)         # every row quiet (read-only)
        self._all_quiet.flags.writeable = False
        self._all_quiet_n = self._all_quiet[:n]    # (the sensors' part, a view)
        self.over = np.zeros(m, bool)              # |departure| past half the limit (suspect)
        self._no_rows = np.zeros(m, bool)          # no row (read-only: `over` on a tick none is)
        self._no_rows.flags.writeable = False
        assert 0 <= RISE_Z <= 0.5           # (none past the rise's share: none past half the limit; observe)
        self._not_over = self._all_quiet           # ~over, made once a tick (all True: the read-only one)
        self._any_over = False                     # some row of `over` is True
        self.quiet = np.zeros(n, bool)             # judged, and within half the limit: fits its neighbours
        self.recent = np.full((self.abrupt_runs, m), np.nan)     # the residual of the last runs, a ring
        self._recent_rows = list(self.recent)      # its rows as views (read and written at the head a tick; perf65)
        self.head = 0
        self._init_history(ctx, cfg.drift_moved_alone, run_s, m)
        self._init_jump_back(cfg.drift_jump_back, n)
        self._init_vouch()
        # A sensor's own row and its station's relation row: what a fault of the sensor touches.
        self.row_of = fnp.concatenate((np.eye(n), self.trio_in), axis=1)
        self._rel_rows = np.arange(m) >= n
        # Each row's context calm, the sensors' written each tick (observe) beside the relations' (a
        # relation is judged without a calm context: True), so the rows' whole mask needs no concatenate.
        self._ctx_calm = np.ones(m, bool)
        self._ctx_calm_n = self._ctx_calm[:n]      # (the sensors' part, a view)
        self._ctx_calm_any = False                 # _ctx_calm_n holds _ctx_any (a calm tick wrote it, none since)
        self._ctx_calm_of = None                   # _ctx_calm_n holds _ctx_all(quiet) of a busy tick whose quiet had
                                                   # these bytes, every sensor fresh (None: written otherwise since)
        self._no_rel = np.zeros(s_n, bool)         # no relation (read-only)
        self._no_rel.flags.writeable = False
        self._has_all = fnp.concatenate((self._has_full, self._every_rel))   # every row has a residual (read-only)
        self._has_all.flags.writeable = False
        # A busy tick's rows with a residual: the sensors' written by the row median (_has_n), the relations'
        # left True (every relation usable, the usual case): no concatenate (a tick's own: read within it).
        self._has_buf = np.ones(m, bool)
        self._has_n = self._has_buf[:n]
        # The calm tick's shortcut (observe) needs every relation threshold at least half drift_z.
        assert min(EARLY, 0.5) * RELATION_Z >= 0.5
        assert EARLY <= 0.5         # (a relation past half its limit is past its early share: observe's rel_half)
        self._pending = None
        self._normal = None                        # the tracker's Normal (the speed sensors' usual change)
        self._own = np.zeros(n, bool)
        self._calm_learn = False                   # this tick was _steady_tick's calm one (learn: _learn_calm)
        self._init_kept(n, self.target.size, s_n)


    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        # The steady tick (every sensor observed and healthy, every lag started, every pair fitted, every row
        # judged, none over half the limit last tick): the same work in straight-line code (_steady_tick).
        self._calm_learn = False
        if t.all_healthy and t.all_observed and self._all_started and self._all_fitted and self._all_judged \
                and not self._any_over:
            return self._steady_tick(t)
        n = self.n
        drifting = t.drifting
        all_healthy = t.all_healthy     # no sensor faulty (none drifting): the masks below without them
        fresh = t.observed if all_healthy else t.observed & t.healthy
        all_fresh = t.all_observed if all_healthy else fnp.count_nonzero(fresh) == n
        # Lags follow readings of healthy sensors only: a fault is not remembered as the process.
        lags = self.lags
        if self._all_started:              # (a started lag is a number for good: finite readings)
            upd = fresh
        else:
            start = fresh & np.isnan(lags[0])
            if fnp.count_nonzero(start):       # (count_nonzero: a third of .any()'s cost on a few sensors)
                lags[:, start] = t.x[start]
                upd = fresh & ~start
            else:
                upd = fresh
        if upd is fresh and all_fresh:      # every lag updated: in place, the same products and sum
            lags *= self._keep_full
            lags += self._times_take(t.x)
        else:
            fnp.copyto(lags, self.keep * lags + self.take * t.x, where=upd)
        if not self._all_started:
            self._all_started = not fnp.count_nonzero(np.isnan(lags[0]))

        i, j = self.target, self.source
        xl2 = self._xl_x2                   # (xl[0] and xl[1], the feature rows' x and x²: kept views)
        self._xl_x[...] = t.x
        np.multiply(t.x, t.x, xl2)
        # The run's feature row into the slot learn keeps (g gathered from it when read: _kept_g): a refit
        # folds the slots every refit_runs learned runs, so fewer than refit_runs are ever filled here.
        self._xr_rows[self._filled][...] = self._xl_flat
        # i may be drifting (its departure is what we follow); j must be healthy and unsuspected.
        ok_i = t.observed if all_healthy else t.observed & (t.healthy | drifting)
        if self._all_started and all_fresh and not self._any_over:
            # (every lag started stays a number — the readings it follows are finite: the window rejects
            # the rest — every sensor fresh, none over: ok_j is all True, the shared read-only mask)
            ok_j = self._all_n
        elif self._all_started and all_fresh:
            ok_j = self._not_over[:n]       # (isfinite all True, fresh all True: ~over alone; read only, as above)
        else:
            ok_j = np.isfinite(lags[0])
            if self._any_over:          # (none over half the limit last tick: _not_over all True)
                ok_j &= self._not_over[:n]
            if not all_fresh:
                ok_j &= fresh
        if all_healthy and all_fresh:               # (ok_i all True: every sensor observed, none faulty)
            pairs = self._all_pairs if ok_j is self._all_n or fnp.count_nonzero(ok_j) == n else ok_j[j]
        else:
            pairs = ok_i[i] & ok_j[j]
        usable = pairs if self._all_fitted else pairs & self.fitted
        # Every residual a number (the usual tick): the residuals straight into the median's block, one product
        # (_slot_w); every pair usable, the median of whole rows, else of the usable entries (_busy_median). Any
        # NaN but the padding's (a NaN or overflowing feature makes every row NaN there: 0 × inf) is judged
        # pair by pair.
        if self._residuals_block():
            if usable is self._all_pairs or fnp.count_nonzero(usable) == usable.size:
                med, has = _full_median(self._block, self._mid_flat, self._med_n), self._has_full
            else:
                med, has = self._busy_median(usable), self._has_n
        else:
            self._busy_key = None               # (_has_n written below)
            # (x_i − prediction) / spread, pair by pair with the same folded coefficients (into _e's pairs' slots)
            e = np.add(fnp.einsum("pk,pk->p", self._coef_g, self._xl_flat.take(self.g_index)), self._coef_1,
                       self._e_pairs)
            fnp.copyto(e, _NAN, where=~usable)           # (in _e's pairs' slots; its last slot: no pair there)
            med, has = _row_median(self._e[self.slot], self._row_k, self._mid_at, self._med_n, self._has_n)   # NaN where none
        self._normal = t.normal
        rel = self._relation(t.x, xl2, ok_i, all_healthy and all_fresh) if self.trio.size else None
        vouched = self._vouched(t.observed, all_fresh or fnp.count_nonzero(t.observed) == n, drifting, t.ts) \
            if rel is not None else None
        if rel is not None:
            med, has = self._med_all, self._with_relation(rel, has)
        # A drift is slow: an abrupt jump of the residual (congestion setting in, a spike) is the
        # process or another fault, and the row is judged again only once it has settled.
        last = self._recent_rows[self.head]         # (recent[head]: its kept view)
        gap = np.subtract(med, last, self._tmp_a)       # (|med − last| in a scratch row: no temporaries)
        abrupt = np.abs(gap, gap) > self._abrupt
        last[...] = med
        self.head = (self.head + 1) % self.abrupt_runs
        # After a fault of another kind (of the sensor; of a station mate, for a relation row), lags
        # and departure are stale: settle first.
        # A relation row also settles while a mate drifts: that drift explains its break.
        if not all_healthy:
            drift_rows = drifting @ self.row_of > 0
            other_fault = ((~t.healthy & ~drifting) @ self.row_of > 0) | (drift_rows & self._rel_rows)
            any_other = fnp.count_nonzero(other_fault)
            restart = other_fault | (abrupt & ~drift_rows)
        else:
            any_other, restart = 0, abrupt
        seen = self._seen(has, restart)
        all_seen = self._running_mean(seen, med)
        if any_other:
            self.mean_e[other_fault] = 0.0
            self.base_e[other_fault] = 0.0
            if self.ramp.back_on:
                self.ramp.forget(other_fault[:n])
        judged = seen if self._all_judged else seen & (self.count >= self.min_count)
        # (learn reads it, as the level's step: neither changes before then)
        dev = np.subtract(self.mean_e, self.base_e, self._level_step)
        departure = dev / np.sqrt(self.d2, self._tmp_a)     # (the root in a scratch row)
        self.departure = departure if all_seen and self._all_judged else fnp.where(judged, departure, _ZERO)

        # A jump leaves a step behind (a valve moved, congestion, a lasting shift of the process):
        # not a drift while the departure it left lasts; the scorers judge it.
        size = np.abs(self.departure)
        # (past the rise's share of the limit, below half of it: ramp.py's rise; none, the usual tick)
        # Whether any row is past either: one comparison and a count (a NaN row compares False), and
        # only past the rise's share (under half the limit: __init__) the half limit's (perf45: a reduce
        # costs ~1.3 µs on these few rows, a comparison and a count ~0.5).
        any_low = fnp.count_nonzero(size > self._c_rise_z)
        return self._judge(t, fresh, all_fresh, ok_i, ok_j, pairs, med, rel, vouched, abrupt, seen, all_seen, judged,
                           dev, size, any_low)

    @property
    def may_claim(self) -> bool:
        """A jump back may end a drift now: a sensor far or past half its limit (ramp.py's record) or a
        station relation open."""
        return (self.ramp.back_on and self.ramp.tracking) or (self.jump_back and self._open_any)

    def claim(self, spiked: np.ndarray, healthy: np.ndarray, ts: float) -> np.ndarray | None:
        """Of this tick's spikes, those that end a drift (ramp.py's jump back; None: none)."""
        n = self.n
        return self.ramp.claim(spiked, lambda: (self._med[:n] - self.base_e[:n]) / np.sqrt(self.d2[:n]), healthy,
                               self.held, ts) if self.ramp.back_on else None

    def evidence(self, i: int, t: Tick) -> dict:
        out = {"summary": f"departed from what its neighbours predict by {self.departure[i]:+.1f} of its normal "
                          f"spread (limit {self.z_limit:g}) while they stay calm",
               "departure": round(float(self.departure[i]), 3), "value": round(float(t.x[i]), 4)}
        if self.ramp.ramped[i] and abs(self.departure[i]) <= self.z_limit:
            out["summary"] = (f"departed from what its neighbours predict by {self.departure[i]:+.1f} of its "
                              f"normal spread, grown from {self.ramp.start[i]:.1f} over {self.ramp.s:g} s "
                              f"while they stay calm (a ramp; limit {self.z_limit:g})")
            out["ramp_from"] = round(float(self.ramp.start[i]), 3)
        if self.ramp.jumped_back[i]:
            dep = float(self.ramp.back_dep[i])
            out["summary"] = (f"had departed from what its neighbours predict by {dep:+.1f} of its normal spread "
                              f"(limit {self.z_limit:g}) and jumped back onto it while they did not jump: its "
                              f"readings were off meanwhile (a drift that ended)")
            out["departure"] = round(dep, 3)
            return out
        if self.jump_back and self.jumped_back[i]:
            dep = float(self.back_dep[i])
            out["summary"] = (f"its station's flow / occupancy / speed relation had departed by {dep:+.1f} of its normal "
                              f"spread, and this sensor's own jump restored it: its readings were off meanwhile "
                              f"(a drift that ended)")
            out["relation_departure"] = round(dep, 3)
            return out
        s = np.flatnonzero(self.trio_in[i])
        if s.size and abs(self.departure[self.n + s[0]]) > RELATION_Z * self.z_limit:
            dep = float(self.departure[self.n + s[0]])
            out["summary"] = (f"its station's flow / occupancy / speed relation departed by {dep:+.1f} of its "
                              f"normal spread (limit {RELATION_Z * self.z_limit:g}), the way this sensor leans "
                              f"({self.departure[i]:+.1f} from what its neighbours predict)")
            out["relation_departure"] = round(dep, 3)
        return out
