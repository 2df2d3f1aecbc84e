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
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .config import FaultConfig
from .ramp import RISE_Z, Ramp
from .pairs import _HALVES, F, LEARN_CLIP, MIN_PAIR_TICKS, PairModels, _full_median, _ones, _row_median
from .relation import EARLY, MIN_REL_TICKS, RELATION_STATE, RELATION_Z, StationRelation
from .context import WholeCounts
from .rule import Held, Tick

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


class Drift(PairModels, StationRelation):
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
        # Pairs (target i, predictor j) over every context; slot[i, k] is the k-th pair of i (P: none).
        target, source = [], []
        for i, c in enumerate(ctx.context):
            target += [i] * c.size
            source += c.tolist()
        self.target, self.source = np.array(target, int), np.array(source, int)
        p = self.target.size
        width = max([c.size for c in ctx.context] + [1])
        self.slot = np.full((n, width), p)
        at = 0                          # (i's pairs are the consecutive ones from `at`: target is built in order)
        for i, c in enumerate(ctx.context):
            self.slot[i, :c.size] = np.arange(at, at + c.size)
            at += c.size
        # g of every pair in one take from [x, x², lag1, lag2]: columns x_j, x_j², lag1_j, lag2_j, x_i.
        self.g_index = np.stack([self.source, n + self.source, 2 * n + self.source, 3 * n + self.source,
                                 self.target], axis=1)
        self.rows = np.arange(n)
        # The median's two middle positions in a sorted row of k finite entries, for every k.
        k = np.arange(width + 1)
        mid = (np.maximum((k - 1) // 2, 0), np.minimum(k // 2, width - 1))
        # …as flat indices into a gathered (n, width) block, per row and count: row r with k entries
        # has its two middle entries at _mid_at[:, r·(width + 1) + k] (_row_median: one gather each).
        self._mid_at = np.stack([(self.rows[:, None] * width + m[None, :]).reshape(-1) for m in mid])
        self._row_k = self.rows * (width + 1)
        # Every pair usable (the usual tick): a row's entry count is its context's size, so its two
        # middle positions in the gathered (n, width) block are constants, as flat indices (2, n).
        size = np.array([c.size for c in ctx.context], int)
        self._mid_flat = np.stack([self.rows * width + mid[0][size], self.rows * width + mid[1][size]])
        self._has_full = size > 0
        self._has_full.flags.writeable = False
        context_on = np.zeros((n, width), bool)         # row i's slots: its context sensors, then padding
        context_idx = np.zeros((n, width), int)
        for i, c in enumerate(ctx.context):
            context_on[i, :c.size], context_idx[i, :c.size] = True, c
        # The same with each row's padding slots repeating its first context sensor (a row without a
        # context: sensor 0): an and / max over a row's slots is then the one over its context alone,
        # for a row with a context, with no mask to apply (a repeated entry changes neither).
        # All three kept transposed, (width, n): a tick's reductions over a row's slots run along axis 0,
        # one pass over contiguous rows instead of n short ones (and / or / max: the same results).
        self._ctx_rep_t = np.ascontiguousarray(np.where(context_on, context_idx, context_idx[:, :1]).T)
        self._ctx_on_t = np.ascontiguousarray(context_on.T)
        self._ctx_idx_t = np.ascontiguousarray(context_idx.T)
        self._ctx_any = np.logical_or.reduce(context_on, axis=1)        # has a context
        self._every_ctx = bool(fnp.count_nonzero(self._ctx_any) == n)
        self._ctx_words = _row_words(np.where(context_on, context_idx, context_idx[:, :1]))
        self._c_dominant = fnp.const(DOMINANT)
        # x, x² and the lags as rows of one array (lags: a view): a tick's pair features are one gather of it.
        # A constant 1 after them (_xl_one): the pairs' residuals are one product of it with a matrix (_slot_w).
        self._xl_one = np.full(F * n + 1, np.nan)
        self._xl_one[-1] = 1.0
        self._xl_flat = self._xl_one[:-1]
        self._xl = self._xl_flat.reshape(F, n)
        self.lags = self._xl[2:]
        self._all_started = False                  # no lag NaN any more (until a restore)
        self._all_n = np.ones(n, bool)             # every sensor (read-only)
        self._all_n.flags.writeable = False
        # Pair moments of g = (x_j, x_j², lag1_j, lag2_j, x_i): running mean and covariance, brought
        # up to date every refit_runs from the runs kept meanwhile (_fold: the same sums, fewer calls).
        self.pair_count = np.zeros(p)
        self.mu = np.zeros((p, F + 1))
        self.cov = np.zeros((p, F + 1, F + 1))
        self.beta = np.zeros((p, F))
        self.icept = np.zeros(p)
        self.spread = np.ones(p)
        self.clip_width = LEARN_CLIP * self.spread
        # A pair's residual over its spread, (x_i − β·g − intercept) / spread, is linear in g and 1: its
        # coefficients folded at each refit (_fold_coefs), (P, F + 2) — β and −1 for x_i times −1 / spread,
        # then the intercept times it — and laid out as one (n · width, F·n + 1) matrix whose row
        # i · width + k is the k-th pair of sensor i, over [x, x², lag1, lag2, 1] (_xl_one): the usual tick's
        # residuals, already in the median's (n, width) block, are one np.dot (1.0 µs against 2.4 for a dot
        # per pair, the intercept, the spread and the gather into the block; perf32). Padding rows have NaN
        # for the constant: NaN in the block, sorted last as the gather's NaN slot was.
        self._pair_coef = np.zeros((p, F + 2))
        self._coef_g, self._coef_1 = self._pair_coef[:, :F + 1], self._pair_coef[:, F + 1]     # (its views, made once)
        pair_row = np.empty(p, int)                 # each pair's row in the block
        on = self.slot < p
        pair_row[self.slot[on]] = np.flatnonzero(on.reshape(-1))
        cols = fnp.concatenate((self.g_index, np.full((p, 1), F * n)), axis=1)
        self._slot_w = np.zeros((n * width, F * n + 1))
        self._slot_w[~on.reshape(-1), F * n] = np.nan
        self._slot_w_at = pair_row[:, None] * (F * n + 1) + cols       # (P, F + 2): flat positions of _pair_coef
        # A busy tick (some pair not usable, every feature a number): the residuals from the same product, the
        # unusable pairs' entries set to NaN in the block by their flat positions (_pair_row), the median over the
        # rest (_busy_median). Its entry counts and middle positions depend on `usable` alone: kept while it does
        # not change (_busy_key: its bytes; None: not known, e.g. after a pair-by-pair tick wrote _has_n).
        self._pair_row = pair_row
        self._ones_w = _ones(width)
        self._busy_key = None
        self._busy_bad = self._busy_mid = None
        self._n_pad = int(fnp.count_nonzero(~on))
        self._block = np.zeros((n, width))
        self._block_flat = self._block.reshape(-1)
        self._fold_coefs()
        self.fitted = np.zeros(p, bool)
        self._all_pairs = np.ones(p, bool)         # every pair (read-only)
        self._all_pairs.flags.writeable = False
        self._all_fitted = False                   # every pair fitted (set at each refit)
        self._fold_floor = False                   # every pair's and relation's learning rate at alpha_min
        self._e = np.full(p + 1, np.nan)
        self._e_pairs = self._e[:-1]               # (a view: the pairs' residuals; the last slot stays NaN)
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
        # The ticks since the last refit, folded into the moments then (_fold).
        self._filled = 0
        self._g = np.zeros((self.refit_runs, p, F + 1))
        # Each kept run's feature row [x, x², lag1, lag2] (observe copies it: ~0.4 µs against ~1 for the
        # gather of g), gathered into _g when read (_kept_g: a fold, a checkpoint); _g's first _g_from slots
        # hold their g already (a checkpoint's, restored).
        self._xr = np.zeros((self.refit_runs, F * n))
        self._g_from = 0
        # The kept ticks' learned pairs and relations, and the pairs' and relations' learned-tick counts,
        # each as views of one array: a fold weighs both in one go (_weights), with no concatenate.
        self._on = np.zeros((self.refit_runs, p + s_n), bool)
        self._pl, self._rc = self._on[:, :p], self._on[:, p:]
        self._counts = fnp.concatenate((self.pair_count, self.rel_count))
        self.pair_count, self.rel_count = self._counts[:p], self._counts[p:]
        self._pl_all = [False] * self.refit_runs       # per slot of _pl: all True (every pair; not written again)
        self._r = np.zeros((self.refit_runs, s_n))
        self._u = np.zeros((self.refit_runs, s_n))
        self._rc_all = [False] * self.refit_runs       # per slot of _rc: all True (written by a tick with no row over)

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
        xl = self._xl
        xl[0] = t.x
        np.multiply(t.x, t.x, xl[1])
        # The run's feature row into the slot learn keeps (g gathered from it when read: _kept_g): a refit
        # folds the slots every refit_runs learned runs, so fewer than refit_runs are ever filled here.
        self._xr[self._filled] = self._xl_flat
        xl_one = self._xl_one
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
        if fnp.count_nonzero(np.isnan(np.dot(self._slot_w, xl_one, self._block_flat))) == self._n_pad:
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
        rel = self._relation(t.x, xl[1], ok_i, all_healthy and all_fresh) if self.trio.size else None
        vouched = self._vouched(t.observed, all_fresh or fnp.count_nonzero(t.observed) == n, drifting, t.ts) \
            if rel is not None else None
        if rel is not None:
            if self.moved_alone:
                self.log_history[self.history_head], self.fit_history[self.history_head] = rel[5], rel[6]
            if rel[0] is not self._med_rel:     # (not the usual tick's z: a where of it)
                self._med_rel[...] = rel[0]
            med = self._med_all                 # (the sensors' medians written into its first n above)
            # (every pair usable and every relation usable: the constant of the two)
            if rel[1] is not self._every_rel:
                has = fnp.concatenate((has, rel[1]))
            else:
                has = self._has_all if has is self._has_full else self._has_buf if has is self._has_n \
                    else fnp.concatenate((has, rel[1]))
        # A drift is slow: an abrupt jump of the residual (congestion setting in, a spike) is the
        # process or another fault, and the row is judged again only once it has settled.
        abrupt = np.abs(med - self.recent[self.head]) > self._abrupt
        self.recent[self.head] = med
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
        if self._settled and not fnp.count_nonzero(restart):
            seen = has                         # (no row settling, none starts: settle stays all 0)
        else:
            # (in place: whole numbers, the same as the where of the maximum it was)
            settle = self.settle
            np.subtract(settle, has, settle)
            np.maximum(settle, _ZERO_I, out=settle)
            fnp.copyto(settle, self._c_settle, where=restart)
            seen = has & (self.settle == _ZERO_I)        # has: observed, and i fit to follow
            self._settled = not fnp.count_nonzero(self.settle)
        # (every row seen, the usual tick: the running mean and, every row judged, the departure
        # without the where that would pick every entry of them)
        # (has as every row's constant, every sensor with a context: every row seen, not counted)
        all_seen = ((seen is self._has_all or seen is self._has_full) and self._every_ctx) \
            or fnp.count_nonzero(seen) == seen.size
        mean_e = self._c_lam_keep * self.mean_e + self._c_lam * med
        self.mean_e = mean_e if all_seen else fnp.where(seen, mean_e, self.mean_e)
        if any_other:
            self.mean_e[other_fault] = 0.0
            self.base_e[other_fault] = 0.0
            if self.ramp.back_on:
                self.ramp.forget(other_fault[:n])
        judged = seen if self._all_judged else seen & (self.count >= self.min_count)
        # (learn reads it, as the level's step: neither changes before then)
        dev = np.subtract(self.mean_e, self.base_e, self._level_step)
        departure = dev / np.sqrt(self.d2)
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
        xl = self._xl
        xl[0] = x
        np.multiply(x, x, xl[1])
        self._xr[self._filled] = self._xl_flat
        # (every sensor observed and healthy, none over: ok_i is observed, ok_j all True, every pair usable)
        ok_i, ok_j, pairs = t.observed, self._all_n, self._all_pairs
        if fnp.count_nonzero(np.isnan(np.dot(self._slot_w, self._xl_one, self._block_flat))) == self._n_pad:
            med, has = _full_median(self._block, self._mid_flat, self._med_n), self._has_full
        else:                           # (observe's pair-by-pair path; no pair to set NaN: every one usable)
            self._busy_key = None
            np.add(fnp.einsum("pk,pk->p", self._coef_g, self._xl_flat.take(self.g_index)), self._coef_1,
                   self._e_pairs)
            med, has = _row_median(self._e[self.slot], self._row_k, self._mid_at, self._med_n, self._has_n)
        self._normal = t.normal
        if self.trio.size:
            rel = self._relation(x, xl[1], ok_i, True)
            vouched = self._vouched(ok_i, True, t.drifting, t.ts) if self._vouch_any or self._lost_any else None
            if self.moved_alone:
                self.log_history[self.history_head], self.fit_history[self.history_head] = rel[5], rel[6]
            if rel[0] is not self._med_rel:
                self._med_rel[...] = rel[0]
            med = self._med_all
            if rel[1] is not self._every_rel:
                has = fnp.concatenate((has, rel[1]))
            else:
                has = self._has_all if has is self._has_full else self._has_buf if has is self._has_n \
                    else fnp.concatenate((has, rel[1]))
        else:
            rel = vouched = None
        abrupt = np.abs(med - self.recent[self.head]) > self._abrupt
        self.recent[self.head] = med
        self.head = (self.head + 1) % self.abrupt_runs
        if self._settled and not fnp.count_nonzero(abrupt):     # (no sensor faulty: restart is abrupt)
            seen = has
        else:
            settle = self.settle
            np.subtract(settle, has, settle)
            np.maximum(settle, _ZERO_I, out=settle)
            fnp.copyto(settle, self._c_settle, where=abrupt)
            seen = has & (self.settle == _ZERO_I)
            self._settled = not fnp.count_nonzero(self.settle)
        all_seen = ((seen is self._has_all or seen is self._has_full) and self._every_ctx) \
            or fnp.count_nonzero(seen) == seen.size
        mean_e = self._c_lam_keep * self.mean_e + self._c_lam * med
        self.mean_e = mean_e if all_seen else fnp.where(seen, mean_e, self.mean_e)
        dev = np.subtract(self.mean_e, self.base_e, self._level_step)
        departure = dev / np.sqrt(self.d2)
        self.departure = departure if all_seen else fnp.where(seen, departure, _ZERO)     # (every row judged)
        size = np.abs(self.departure)
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
        self.quiet = self._all_quiet_n
        if self._any_stepped:
            self.stepped = np.zeros(self.stepped.size, bool)
            self._any_stepped = False
        if not self._ctx_calm_any:
            self._ctx_calm_n[...] = self._ctx_any
            self._ctx_calm_any = True
            self._ctx_calm_of = None
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
            quiet = self._all_quiet
            self.quiet = self._all_quiet_n
            if self._any_stepped:
                self.stepped = np.zeros(self.stepped.size, bool)
                self._any_stepped = False
            ctx_calm = self._ctx_calm_n
            if not self._ctx_calm_any:          # (written by the last calm tick and not since: as it is)
                ctx_calm[...] = self._ctx_any
                self._ctx_calm_any = True
                self._ctx_calm_of = None
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

    def _busy_median(self, usable: np.ndarray) -> np.ndarray:
        """Per sensor, the median of its usable pairs' residuals (NaN: none), into _med_n, and whether it has
        any, into _has_n: _row_median's on the block the product wrote (every entry a number but the padding),
        the unusable pairs' entries NaN. A row's entry count is then its usable pairs', so its two middle
        positions depend on `usable` alone, and are kept while `usable` does not change (a busy tick's suspects
        often last: ~half the demo's busy ticks have the last one's). The residuals' sum order is the product's,
        not the pair-by-pair einsum's: the bits may differ from that path's (perf53)."""
        block = self._block
        key = usable.tobytes()
        if key != self._busy_key:
            self._busy_bad = self._pair_row[~usable]
            self._block_flat[self._busy_bad] = np.nan
            k = fnp.dot(block == block, self._ones_w)       # entries not NaN: the usable pairs'
            self._busy_mid = self._mid_at.take(k + self._row_k, axis=1)
            np.greater(k, _ZERO_I, out=self._has_n)
            self._busy_key = key
        else:
            self._block_flat[self._busy_bad] = np.nan
        block.sort(axis=1)                                  # NaN sort last
        return np.dot(_HALVES, block.take(self._busy_mid), self._med_n)

    def _ctx_all(self, mask: np.ndarray) -> np.ndarray:
        """Per sensor, `mask` (a row's bool, sensors first) True at every sensor of its context (a row without a
        context: at sensor 0): the and over its context slots, as one compare of each row's slots read as one
        machine word (_row_words) where the padded width allows, else a reduce (~2 µs on the demo's (4, 18))."""
        if self._ctx_words is None:
            return np.logical_and.reduce(mask[self._ctx_rep_t], axis=0)
        rep, word, ones = self._ctx_words
        return (mask[rep].view(word) == ones).reshape(-1)

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

    def learn(self, learn: np.ndarray) -> None:
        """Update the pair models and the departure's spread from sensors judged healthy and unsuspected."""
        if self._calm_learn and fnp.count_nonzero(learn) == self.n:
            self._learn_calm()
            return
        ok_i, ok_j, seen, ctx_calm, rel, pairs, dev = self._pending
        # This rule's own candidates still teach it (its spread widens with them: fewer false drifts).
        if self._own is not self.held.nothing:          # (nothing: learn | nothing is learn)
            learn = learn | self._own
        k = self._filled                # (observe copied its feature row into self._xr[k])
        # Every sensor learned (the usual tick): each `learn &` below keeps its other side as it is.
        every = fnp.count_nonzero(learn) == self.n
        if every and pairs is self._all_pairs:
            if not self._pl_all[k]:
                self._pl[k] = pairs
                self._pl_all[k] = True
        else:
            if every and pairs is not None:
                self._pl[k] = pairs
            elif every:
                self._pl[k] = ok_i[self.target] & ok_j[self.source]
            else:
                self._pl[k] = (learn & ok_i)[self.target] & (learn & ok_j)[self.source]
            self._pl_all[k] = False
        if rel is not None:         # (observe wrote the relations' u into _u[k])
            self._r[k] = rel[3]
            if every and rel[2] is self._every_rel:       # (every relation's readings fit: ~over alone)
                if self._any_over:
                    self._rc[k] = self._not_over[self.n:]
                    self._rc_all[k] = False
                elif not self._rc_all[k]:       # (none over: ~over all True; a slot so filled stays so)
                    self._rc[k] = True
                    self._rc_all[k] = True
            elif every:
                self._rc[k] = rel[2] & self._not_over[self.n:]
                self._rc_all[k] = False
            else:
                # A relation is learned from ticks its whole station is learned and it is not suspect.
                learn_rel = np.logical_and.reduce(learn[self.trio], axis=1)
                self._rc[k] = rel[2] & learn_rel & self._not_over[self.n:]
                self._rc_all[k] = False
                learn = fnp.concatenate((learn, learn_rel))
        self._filled = k + 1
        ls = seen if every else learn & seen
        all_ls = fnp.count_nonzero(ls) == ls.size      # (every row learned: the `ls &` below pick every entry)
        # The spread where it is judged: its context calm (until judged at all, every tick).
        on = ctx_calm if self._all_judged else ctx_calm | (self.count < self.min_count)
        if not all_ls:
            on = ls & on
        # (every row on, every rate at the floor: the where would give alpha_min everywhere, the same products)
        # (on is the context calm a calm tick wrote, every sensor with a context: all True, not counted)
        if self._rate_floor and ((on is ctx_calm and self._ctx_calm_any and self._every_ctx)
                                 or fnp.count_nonzero(on) == on.size):
            b = None                            # (alpha_min everywhere)
        else:
            b = on              # (the rates where on, 0 elsewhere: _learn_rows)
        # (every row learned and calm: the level's where would pick every entry)
        calm = None if all_ls and not self._any_over else self._not_over if all_ls else ls & self._not_over
        if calm is not None and fnp.count_nonzero(calm) == calm.size:
            calm = None
        self._learn_rows(dev, b, calm)
        if all_ls and self._rate_floor and self._all_judged:     # (nothing reads the count until state())
            self._count.add_one()
        else:
            count = self.count
            count += ls
        if not (self._rate_floor and self._all_judged):
            self._all_judged = not fnp.count_nonzero(self.count < self.min_count)
            self._rate_floor = not fnp.count_nonzero(np.maximum(1.0 / (self.count + 1.0), self.alpha_min) != self.alpha_min)
        self.ticks += 1
        if self.ticks % self.refit_runs == 0:
            self._refit()

    def _learn_calm(self) -> None:
        """learn on the steady calm tick (_steady_tick's) with every sensor learned: learn's paths for it
        (every pair and relation kept, every row learned at the floor rates, none over), without their tests."""
        rel, dev = self._pending[4], self._pending[6]
        k = self._filled
        if not self._pl_all[k]:
            self._pl[k] = self._all_pairs
            self._pl_all[k] = True
        if rel is not None:
            self._r[k] = rel[3]
            if not self._rc_all[k]:
                self._rc[k] = True
                self._rc_all[k] = True
        self._filled = k + 1
        self._learn_rows(dev, None, None)
        self._count.add_one()           # (every row judged, every rate at the floor: nothing reads it until state())
        self.ticks += 1
        if self.ticks % self.refit_runs == 0:
            self._refit()

    def _learn_rows(self, dev: np.ndarray, b: np.ndarray | None, calm: np.ndarray | None) -> None:
        """The level learns dev (observe's, in _steps[0]) at base_lam where `calm` (None: every row),
        the spread min(dev², CLIP² × d2) where `b` at its rate (None: alpha_min everywhere), floored at d2_floor:
        base_e += base_lam × dev and d2 += b × (min(dev², CLIP² d2) − d2), the same products and sums
        as two separate updates, as one multiply and one add over both rows."""
        spread = self._spread_step
        np.minimum(np.multiply(dev, dev, spread), _CLIP2 * self.d2, out=spread)     # (dev ** 2's bits)
        spread -= self.d2
        if b is None and calm is None:
            rates = self._floor_rates
        else:
            # (a mask × a positive rate, into the rates' row: the rate where True, +0.0 elsewhere — the same
            # bits as a where with 0.0, with no copy after it)
            rates = self._rates
            if calm is None:
                rates[0] = self.base_lam
            else:
                np.multiply(calm, self._c_base_lam, out=rates[0])
            if b is None:
                rates[1] = self.alpha_min
            else:
                np.multiply(b, self._c_alpha_min if self._rate_floor else
                            np.maximum(1.0 / (self.count + 1.0), self.alpha_min), out=rates[1])
        steps = self._steps
        steps *= rates          # (in-place operators: no keyword to parse, as out= has)
        self._rows += steps
        np.maximum(self.d2, self._c_d2_floor, out=self.d2)   # (out by keyword: by position np.maximum warns)

    @property
    def count(self) -> np.ndarray:
        return self._count.array

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

    def state(self) -> dict:
        # The moments as of the last refit (the models judged with) and the ticks kept since, not folded
        # here: a restart refits the same models and folds the same ticks at the same refit as the run
        # it continues (a fold here would refit early, on other sums: other decisions).
        n, kept = self.n, self._filled
        return {"held": self.held.state(), "lags": _json(self.lags), "pair_count": self.pair_count.tolist(),
                "mu": self.mu.tolist(), "cov": self.cov.tolist(), "ticks": self.ticks,
                **{k: getattr(self, k)[:n].tolist() for k in ROW_STATE},
                "recent": self.recent[:, :n].copy(), "head": self.head, "stepped": self.stepped[:n].tolist(),
                "ramp": self.ramp.state(),
                "relation": {**{k: getattr(self, k)[n:].tolist() for k in ROW_STATE},
                             "recent": self.recent[:, n:].copy(), "stepped": self.stepped[n:].tolist(),
                             **{k: getattr(self, k).tolist() for k in RELATION_STATE},
                             "jump_back": self._jump_back_state(), "history": self._history_state(),
                             "vouch": self._vouch_state()},
                # (the rings and the runs kept as arrays: raw bytes in checkpoint.bin; a checkpoint from before
                # holds them as lists, None for NaN, which np.array reads back alike)
                "kept": {"g": self._kept_g(kept).reshape(kept, self._g[0].size).copy(),
                         "pairs": self._pl[:kept].copy(),
                         "r": self._r[:kept].copy(), "u": self._u[:kept].copy(), "rel": self._rc[:kept].copy()}}

    def restore(self, state: dict) -> None:
        n = self.n
        self.held.restore(state["held"])
        self.lags[:] = np.array(state["lags"], float).reshape(self.lags.shape)
        for k in ("pair_count", "mu", "cov"):
            mine = getattr(self, k)
            mine[...] = np.asarray(state[k], float).reshape(mine.shape)
        for k in ROW_STATE:
            mine = getattr(self, k)
            mine[:n] = np.asarray(state[k], float)
        self.ticks = int(state["ticks"])
        # (a ring of another length — written at another cadence, drift_every_s — is left empty, as a
        # fresh start: no jump judged until it refills)
        same_ring = len(state["recent"]) == self.abrupt_runs
        if same_ring:
            self.recent[:, :n] = np.array(state["recent"], float).reshape(self.abrupt_runs, n)
            self.head = int(state["head"])
        self.stepped[:n] = state["stepped"]
        self._any_stepped = True            # (known again at the next tick)
        ramp = state.get("ramp")             # a checkpoint from before the ramp: none held
        if ramp is not None:
            self.ramp.restore(ramp)
        rel = state.get("relation")         # a checkpoint from before the station relation: learned afresh
        if rel is not None and self.trio.size:
            for k in ROW_STATE:
                getattr(self, k)[n:] = np.asarray(rel[k], float)
            if same_ring:
                self.recent[:, n:] = np.array(rel["recent"], float).reshape(self.abrupt_runs, -1)
            self.stepped[n:] = rel["stepped"]
            for k in RELATION_STATE:
                mine = getattr(self, k)
                mine[...] = np.asarray(rel[k], mine.dtype).reshape(mine.shape)
            self._fold_rel_level()
            self._restore_jump_back(rel.get("jump_back", {}))
            self._restore_history(rel.get("history", {}))
            self._restore_vouch(rel.get("vouch", {}))
        self.over = np.abs(self.departure) > self.z_limit / 2
        self._not_over = ~self.over
        self._any_over = True               # (known again at the next tick)
        self._all_judged = self._rate_floor = self._all_started = self._settled = self._fold_floor = False
        self._all_rel_fitted = False        # (known again at the next fold)
        self._filled = self._g_from = 0
        self._refit()           # (the models of the moments restored)
        kept = state.get("kept")        # a checkpoint from before it: its moments had the kept ticks folded in
        if kept is not None:
            self._restore_kept(kept)

    def _kept_g(self, k: int) -> np.ndarray:
        """The first k kept runs' g (P, F + 1 each), as observe's gather of each run's feature row would have
        made it (the same values: a gather copies), in _g."""
        a = self._g_from
        if a < k:
            np.take(self._xr[a:k], self.g_index, axis=1, out=self._g[a:k], mode="clip")
            self._g_from = k
        return self._g[:k]

    def _restore_kept(self, kept: dict) -> None:
        """The runs kept since the last refit, back into the buffers the next refit folds. More than the
        runs left before that refit leave room for (never from a checkpoint of this cadence: its kept runs
        are ticks % refit_runs; one written at another `drift_every_s`) are folded now instead, a buffer's
        length at a time: the same moments, the models solved again at the next refit."""
        cap, total = self.refit_runs, len(kept["pairs"])
        if total <= self.ticks % cap:
            self._load_kept(kept, 0, total)
            return
        for a in range(0, total, cap):
            self._load_kept(kept, a, min(a + cap, total))
            self._fold()

    def _load_kept(self, kept: dict, a: int, b: int) -> None:
        """A checkpoint's kept runs a…b into the buffers' first slots."""
        k = b - a
        self._g[:k] = np.array(kept["g"][a:b], float).reshape((k,) + self._g.shape[1:])
        self._g_from = k                # (their g as restored, not gathered from _xr)
        self._pl[:k] = np.array(kept["pairs"][a:b], bool).reshape((k,) + self._pl.shape[1:])
        self._pl_all = [bool(fnp.count_nonzero(row) == row.size) for row in self._pl]
        self._rc_all = [False] * self.refit_runs
        for key, mine in (("r", self._r), ("u", self._u), ("rel", self._rc)):
            mine[:k] = np.array(kept[key][a:b], mine.dtype).reshape((k,) + mine.shape[1:])
        self._filled = k

ROW_STATE = ("mean_e", "base_e", "d2", "count", "departure", "settle")


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


def _json(a: np.ndarray):
    return [[None if np.isnan(v) else v for v in row] for row in a.tolist()]


def _runs(seconds: float, run_s: float) -> int:
    """Drift's runs (of run_s) covering `seconds`, at least one: a count tuned in the data's ticks, at
    a cadence. (The tolerance: the seconds are whole multiples of the tick, k × tick_s / tick_s may round.)"""
    return max(1, int(np.ceil(seconds / run_s - 1e-9)))
