"""drift: a slow departure from what the sensor's neighbours predict, that the neighbours do not share.

The fusion model is a set of pairwise predictions. For each sensor i and each sensor j it should
move with (topology neighbours and station / machine mates: its context), a linear model
predicts x_i from j's reading now and two lagged versions of it (running means with half-lives
LAG_HALF_LIVES_S): a motor temperature follows the current with a lag, a fluid temperature
follows the motor with a longer one, so raw levels would disagree whenever the load changes
while the predicted value does not. The models are fitted online (ridge regression on
exponentially forgotten moments over DRIFT_HORIZON × `learn_s`) from ticks on which both
sensors are healthy and unsuspected, and refitted every REFIT_TICKS ticks.

Each tick, sensor i's residual against each predictor, over that pair's residual spread, is
combined by the median: one broken predictor moves it little, so a drifting sensor does not
drag its neighbours along, while the drifting sensor disagrees with all of them at once. That
median is averaged with a half-life of `drift_window_s` and divided by its own normal spread:
the departure D. A sensor drifts when |D| > `drift_z` for `drift_s` while every observed,
healthy sensor of its context stays under drift_z / 2: the model attributes the change to the
sensor, not the process. An incident (a queue, cavitation) moves several sensors of a station
or skid against their predictions at once, and then spreads to the neighbours: never a drift.
Predictors that look suspect (|D| over drift_z / 2) are left out of the others' medians.
A drift is slow: when the median residual jumps (by ABRUPT pair spreads within ABRUPT_TICKS:
congestion setting in, a valve moved, a lasting shift of the process) the sensor is not judged
a drift until its departure is back under drift_z / 2; that step is the scorers' to judge.
The departure is measured from the residual's own slow level (half-life BASE_HALF_LIFE_S,
learned while calm), so a regime the pair models fit less well is not a drift either.

Past half the limit (its context calm, not a step) a sensor is a drift *candidate*: an alert it
drives alone waits up to `drift_holdback_s` for the decision (holdback.py). Its candidate ticks
still teach this rule (the departure's spread widening with them keeps false drifts rare), not
the other rules.

At rush hour no neighbour is calm (congestion breaks the pair models), so a loop station's own
physics judges too: flow = lanes × density × speed and occupancy ∝ density, so
log flow − log occ − log speed is a per-station constant (log k) in free flow and in a queue
alike — an incident does not break it, the queue is real traffic. Its running mean (half-life
`drift_window_s`) away from its slow level by more than RELATION_Z × `drift_z` of its normal spread
(each tick's residual clipped at REL_CLIP spreads: a queue's crawling speeds read noisier), with the
station's sensors healthy, blames the mate whose own departure leans furthest the way the
relation moved (flow up raises log k, occupancy or speed up lowers it): that mate drifts, its
context calm or not, once that has lasted `drift_s`.

After a fault of another kind the sensor's lags and departure are stale: drift is judged again
after SETTLE_WINDOWS × drift_window_s of readings. Everything is vectorised over sensors and
pairs; a tick costs a few dozen numpy operations whatever the number of sensors.

Check on site: calibration (zero / span) of the transmitter, a loop whose sensitivity changed
(pavement damage, a loose connection), fouling or ageing of the sensing element.
"""
from __future__ import annotations

import numpy as np

from .config import FaultConfig
from .rule import Held, Tick

LAG_HALF_LIVES_S = (600.0, 1800.0)   # lagged predictors: running means of the neighbour's reading
DRIFT_HORIZON = 4.0      # the pair models forget over this many × learn_s
REFIT_TICKS = 10         # the pair models are solved again this often
RIDGE = 0.01             # ridge penalty, a share of each feature's variance (lags are collinear)
MIN_PAIR_TICKS = 60      # a pair model predicts once it has learned from this many ticks
CLIP = 3.0               # a departure beyond this many spreads is learned as this many
SETTLE_WINDOWS = 3.0
ABRUPT, ABRUPT_TICKS = 6.0, 3   # the median residual moving more than this within this many ticks is not a drift
LEARN_CLIP = 3.0         # a reading is learned at most this many pair spreads off its prediction
F = 4                    # pair features: x_j, x_j², and x_j's two lags
BASE_HALF_LIFE_S = 3600.0   # the residual's own slow level (a regime the pair models fit less well)
RELATION_Z = 3.0         # a station's relation drifts past this many × drift_z of its spread (congestion's noise stays under)
REL_CLIP = 6.0           # a tick's relation residual counts at most this many of its spreads
LEAN = 0.5               # the blamed mate's own departure leans that way by at least this × drift_z
RELATION_STATE = ("rel_count", "rel_base", "rel_sp2", "rel_mean", "rel_d2", "rel_dep")
RELATION_SIGN = {"flow": 1.0, "occ": -1.0, "speed": -1.0}   # how a reading too high moves log flow − log occ − log speed


class Drift:
    KIND = "drift"
    EVERY_KEY = "drift_every_s"     # judged every that many seconds: the tracker passes that as tick_s

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        n = ctx.n
        self.n = n
        self.z_limit = cfg.drift_z
        self.required_s = cfg.drift_s
        self.lam = 1.0 - 0.5 ** (tick_s / cfg.drift_window_s)
        self.d2_floor = self.lam / (2.0 - self.lam)          # the running mean's variance for white residuals
        self.keep = np.array([0.5 ** (tick_s / h) for h in LAG_HALF_LIVES_S])[:, None]
        self.take = 1.0 - self.keep
        self.alpha_min = tick_s / max(DRIFT_HORIZON * cfg.learn_s, 2 * tick_s)
        self.min_count = max(30.0, cfg.learn_s / tick_s)      # ticks of the departure's spread before judging
        self.settle_ticks = int(np.ceil(SETTLE_WINDOWS * cfg.drift_window_s / tick_s))
        self.held = Held(n, tick_s)
        # Pairs (target i, predictor j) over every context; slot[i, k] is the k-th pair of i (P: none).
        target, source = [], []
        for i, c in enumerate(ctx.context):
            target += [i] * c.size
            source += c.tolist()
        self.target, self.source = np.array(target, int), np.array(source, int)
        p = self.target.size
        width = max([c.size for c in ctx.context] + [1])
        self.slot = np.full((n, width), p)
        for i, c in enumerate(ctx.context):
            self.slot[i, :c.size] = np.flatnonzero(self.target == i)
        self.n_pairs = np.array([c.size for c in ctx.context])
        # g of every pair in one take from [x, x², lag1, lag2]: columns x_j, x_j², lag1_j, lag2_j, x_i.
        self.g_index = np.stack([self.source, n + self.source, 2 * n + self.source, 3 * n + self.source,
                                 self.target], axis=1)
        self.rows = np.arange(n)
        # The median's two middle positions in a sorted row of k finite entries, for every k.
        k = np.arange(width + 1)
        self.mid = (np.maximum((k - 1) // 2, 0), np.minimum(k // 2, width - 1))
        self.context_on = np.zeros((n, width), bool)
        self.context_idx = np.zeros((n, width), int)
        for i, c in enumerate(ctx.context):
            self.context_on[i, :c.size], self.context_idx[i, :c.size] = True, c
        self.lags = np.full((len(LAG_HALF_LIVES_S), n), np.nan)
        # Pair moments of g = (x_j, lag1_j, lag2_j, x_i): running mean and covariance.
        self.pair_count = np.zeros(p)
        self.mu = np.zeros((p, F + 1))
        self.cov = np.zeros((p, F + 1, F + 1))
        self.beta = np.zeros((p, F))
        self.icept = np.zeros(p)
        self.spread = np.ones(p)
        self.clip_width = LEARN_CLIP * self.spread
        self.fitted = np.zeros(p, bool)
        self._e = np.full(p + 1, np.nan)
        self.ticks = 0
        # Per sensor: the smoothed median residual, its learned spread, the departure D.
        self.mean_e = np.zeros(n)
        self.base_e = np.zeros(n)
        self.base_lam = 1.0 - 0.5 ** (tick_s / BASE_HALF_LIFE_S)
        self.d2 = np.full(n, self.d2_floor)
        self.count = np.zeros(n)
        self.departure = np.zeros(n)
        self.settle = np.zeros(n, np.int64)
        self.stepped = np.zeros(n, bool)           # jumped: not judged a drift until back near its base
        self.over = np.zeros(n, bool)              # |departure| past half the limit (suspect)
        self.recent = np.full((ABRUPT_TICKS, n), np.nan)     # the median residual of the last ticks, a ring
        self.head = 0
        self._pending = None
        self._own = np.zeros(n, bool)
        # Loop stations with flow, occ and speed: the relation log flow − log occ − log speed ≈ log k.
        trios = []
        for i in range(n):
            st = ctx.station(i)
            if ctx.quantities[i] == "flow" and "occ" in st and "speed" in st:
                trios.append((i, st["occ"], st["speed"]))
        self.trio = np.array(trios, int).reshape(-1, 3)            # (S, 3): flow, occ, speed
        s_n = self.trio.shape[0]
        self.trio_of = np.full(n, s_n)                                # sensor -> its station (S: none)
        self.trio_sign = np.zeros(n)
        for k, (f, o, v) in enumerate(self.trio):
            self.trio_of[[f, o, v]] = k
            self.trio_sign[[f, o, v]] = (RELATION_SIGN["flow"], RELATION_SIGN["occ"], RELATION_SIGN["speed"])
        self.rel_count = np.zeros(s_n)
        self.rel_base = np.zeros(s_n)          # log k, learned while the station is healthy and calm
        self.rel_sp2 = np.zeros(s_n)           # a tick's squared residual around it
        self.rel_mean = np.zeros(s_n)          # running mean of the residual (half-life drift_window_s)
        self.rel_d2 = np.zeros(s_n)            # that running mean's squared spread when healthy
        self.rel_dep = np.zeros(s_n + 1)       # the relation's departure (last slot: no station)
        self._rel_pending = None

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        drifting = t.drifting
        fresh = t.observed & t.healthy
        # Lags follow readings of healthy sensors only: a fault is not remembered as the process.
        lags = self.lags
        start = fresh & np.isnan(lags[0])
        if np.count_nonzero(start):       # (count_nonzero: a third of .any()'s cost on a few sensors)
            lags[:, start] = t.x[start]
            upd = fresh & ~start
        else:
            upd = fresh
        np.copyto(lags, self.keep * lags + self.take * t.x, where=upd)

        i, j = self.target, self.source
        g = np.concatenate((t.x, t.x * t.x, lags.ravel()))[self.g_index]          # (P, F + 1)
        suspect = self.over                 # last tick's departure past half the limit
        # i may be drifting (its departure is what we follow); j must be healthy and unsuspected.
        ok_i = t.observed & (t.healthy | drifting)
        ok_j = fresh & ~suspect & np.isfinite(lags[0])
        usable = ok_i[i] & ok_j[j] & self.fitted
        pred = self.icept + np.einsum("pk,pk->p", self.beta, g[:, :F])
        e = np.where(usable, (g[:, F] - pred) / self.spread, np.nan)
        self._e[:-1] = e                   # the last slot stays NaN: a pair slot that is not there
        med, has = _row_median(self._e[self.slot], self.rows, self.mid)
        # A drift is slow: an abrupt jump of the residual (congestion setting in, a spike) is the
        # process or another fault, and the sensor is judged again only once it has settled.
        med_now = np.where(has, med, np.nan)
        abrupt = np.abs(med_now - self.recent[self.head]) > ABRUPT
        self.recent[self.head] = med_now
        self.head = (self.head + 1) % ABRUPT_TICKS
        # After a fault of another kind, lags and departure are stale: settle first.
        other_fault = ~t.healthy & ~drifting
        self.settle = np.where(other_fault | (abrupt & ~drifting), self.settle_ticks,
                               np.maximum(self.settle - (t.observed & has), 0))
        seen = has & ok_i & (self.settle == 0)
        self.mean_e = np.where(seen, (1 - self.lam) * self.mean_e + self.lam * np.where(has, med, 0.0), self.mean_e)
        if np.count_nonzero(other_fault):
            self.mean_e[other_fault] = 0.0
            self.base_e[other_fault] = 0.0
        judged = seen & (self.count >= self.min_count)
        self.departure = np.where(judged, (self.mean_e - self.base_e) / np.sqrt(self.d2), 0.0)
        # Learned winsorised: an incident's reading far off the prediction does not widen the spread.
        g[:, F] = np.where(self.fitted, np.clip(g[:, F], pred - self.clip_width, pred + self.clip_width),
                           g[:, F])
        self._pending = (g, ok_i & ~drifting, ok_j, seen)

        # A jump leaves a step behind (a valve moved, congestion, a lasting shift of the process):
        # not a drift while the departure it left lasts; the scorers judge it.
        size = np.abs(self.departure)
        self.over = over = size > self.z_limit / 2
        quiet = judged & ~over                          # not judged: not known calm
        self.stepped = (self.stepped | abrupt) & ~quiet
        far = judged & (size > self.z_limit) & ~self.stepped
        # Every observed, healthy sensor of its context calm (and at least one seen).
        ctx_seen = self.context_on & fresh[self.context_idx]
        ctx_calm = np.logical_and.reduce(~ctx_seen | quiet[self.context_idx], axis=1) \
            & np.logical_or.reduce(ctx_seen, axis=1)
        self._pending = self._pending + (ctx_calm,)
        blamed = self._relation(t, drifting) if self.trio.size else False
        decide = (far & (ctx_calm | drifting)) | blamed     # once judged, it lasts while the departure does
        lasted = self.held.update(decide, seen, t.ts)
        # A candidate from half the limit on (its context calm, not a step): an alert it drives alone
        # waits for the decision (holdback.py, `drift_holdback_s`), and it teaches nothing meanwhile.
        pending = judged & over & ~self.stepped & ctx_calm & ~drifting
        self._own = pending
        return decide | pending, decide & (lasted >= max(self.required_s, 1e-9))

    def _relation(self, t: Tick, drifting: np.ndarray) -> np.ndarray:
        """Sensors a loop station's broken flow / occ / speed relation blames for drifting."""
        x3 = t.x[self.trio]
        ok3 = t.observed[self.trio] & (t.healthy | drifting)[self.trio] & (x3 > 0)
        ok = np.logical_and.reduce(ok3, axis=1)
        lx = np.log(np.where(ok3, x3, 1.0))          # a missing or non-positive reading: not used
        r = lx[:, 0] - lx[:, 1] - lx[:, 2]
        e = r - self.rel_base
        width = REL_CLIP * np.sqrt(self.rel_sp2)
        ready = ok & (self.rel_count >= self.min_count)
        self.rel_mean = np.where(ready, (1 - self.lam) * self.rel_mean + self.lam * np.clip(e, -width, width),
                                 self.rel_mean)
        sd = np.sqrt(np.maximum(self.rel_d2, self.d2_floor * self.rel_sp2) + 1e-300)
        self.rel_dep[:-1] = np.where(ready, self.rel_mean / sd, 0.0)
        self._rel_pending = (ok, e)
        # The mate leaning furthest the way the relation moved, past half the limit itself.
        d = self.rel_dep[self.trio_of]
        lean = np.sign(d) * self.trio_sign * self.departure
        lean3 = np.where(ok[:, None], lean[self.trio], -np.inf)
        top = np.zeros(self.n, bool)
        top[self.trio[np.arange(self.trio.shape[0]), np.argmax(lean3, axis=1)]] = True
        return top & (np.abs(d) > RELATION_Z * self.z_limit) & (lean > LEAN * self.z_limit)

    def _learn_relation(self, learn: np.ndarray) -> None:
        ok, e = self._rel_pending
        calm = ok & np.logical_and.reduce(learn[self.trio], axis=1) & (np.abs(self.rel_dep[:-1]) <= self.z_limit / 2)
        first = calm & (self.rel_count < self.min_count)
        a = np.where(calm, np.maximum(1.0 / (self.rel_count + 1.0), self.alpha_min), 0.0)
        sp2 = np.where(first, e * e, np.minimum(e * e, CLIP ** 2 * self.rel_sp2))
        self.rel_sp2 += a * (sp2 - self.rel_sp2)
        self.rel_base += np.where(first, a, np.where(calm, self.base_lam, 0.0)) * e
        ready = calm & (self.rel_count >= self.min_count)
        b = np.where(ready, np.maximum(1.0 / np.maximum(self.rel_count - self.min_count + 1.0, 1.0), self.alpha_min), 0.0)
        self.rel_d2 += b * (np.minimum(self.rel_mean ** 2, CLIP ** 2 * np.maximum(self.rel_d2, self.d2_floor * self.rel_sp2))
                            - self.rel_d2)
        self.rel_count += calm

    def learn(self, learn: np.ndarray) -> None:
        """Update the pair models and the departure's spread from sensors judged healthy and unsuspected."""
        if self.trio.size:
            self._learn_relation(learn)
        g, ok_i, ok_j, seen, ctx_calm = self._pending
        # This rule's own candidates still teach it (its spread widens with them: fewer false drifts).
        learn = learn | self._own
        i, j = self.target, self.source
        pl = (learn & ok_i)[i] & (learn & ok_j)[j]
        a = np.where(pl, np.maximum(1.0 / (self.pair_count + 1.0), self.alpha_min), 0.0)
        d = np.where(pl[:, None], g - self.mu, 0.0)
        self.mu += a[:, None] * d
        self.cov = (1.0 - a)[:, None, None] * (self.cov + a[:, None, None] * d[:, :, None] * d[:, None, :])
        self.pair_count += pl
        ls = learn & seen
        # The spread where it is judged: its context calm (until judged at all, every tick).
        b = np.where(ls & (ctx_calm | (self.count < self.min_count)), np.maximum(1.0 / (self.count + 1.0), self.alpha_min), 0.0)
        dev = self.mean_e - self.base_e
        self.d2 += b * (np.minimum(dev ** 2, CLIP ** 2 * self.d2) - self.d2)
        calm = ls & ~self.over
        self.base_e += np.where(calm, self.base_lam, 0.0) * dev
        self.d2 = np.maximum(self.d2, self.d2_floor)
        self.count += ls
        self.ticks += 1
        if self.ticks % REFIT_TICKS == 0:
            self._refit()

    def _refit(self) -> None:
        c = self.cov
        # Solved on standardised features (flow² is ~1e7 times flow): ridge as a share of variance.
        sd = np.sqrt(np.maximum(np.diagonal(c, axis1=1, axis2=2), 1e-300))          # (P, F + 1)
        r = c / (sd[:, :, None] * sd[:, None, :])
        rff = r[:, :F, :F] + RIDGE * np.eye(F)
        beta_z = np.linalg.solve(rff, r[:, :F, F:])[:, :, 0]
        var_z = 1.0 - 2 * np.einsum("pk,pk->p", beta_z, r[:, :F, F]) \
            + np.einsum("pk,pkl,pl->p", beta_z, r[:, :F, :F], beta_z)
        beta = beta_z * sd[:, F:] / sd[:, :F]
        self.beta = beta
        self.icept = self.mu[:, F] - np.einsum("pk,pk->p", beta, self.mu[:, :F])
        self.spread = sd[:, F] * np.sqrt(np.maximum(var_z, 1e-6))
        self.clip_width = LEARN_CLIP * self.spread
        self.fitted = self.pair_count >= MIN_PAIR_TICKS

    def evidence(self, i: int, t: Tick) -> dict:
        return {"summary": f"departed from what its neighbours predict by {self.departure[i]:+.1f} of its normal "
                           f"spread (limit {self.z_limit:g}) while they stay calm",
                "departure": round(float(self.departure[i]), 3), "value": round(float(t.x[i]), 4)}

    def state(self) -> dict:
        return {"held": self.held.state(), "lags": _json(self.lags), "pair_count": self.pair_count.tolist(),
                "mu": self.mu.tolist(), "cov": self.cov.tolist(), "ticks": self.ticks,
                "mean_e": self.mean_e.tolist(), "base_e": self.base_e.tolist(), "d2": self.d2.tolist(), "count": self.count.tolist(),
                "departure": self.departure.tolist(), "settle": self.settle.tolist(),
                "recent": _json(self.recent), "head": self.head, "stepped": self.stepped.tolist(),
                "relation": {k: getattr(self, k).tolist() for k in RELATION_STATE}}

    def restore(self, state: dict) -> None:
        self.held.restore(state["held"])
        self.lags[:] = np.array(state["lags"], float).reshape(self.lags.shape)
        for k in ("pair_count", "mu", "cov", "mean_e", "base_e", "d2", "count", "departure", "settle"):
            mine = getattr(self, k)
            mine[...] = np.asarray(state[k], float).reshape(mine.shape)
        self.ticks = int(state["ticks"])
        self.recent[:] = np.array(state["recent"], float).reshape(self.recent.shape)
        self.head = int(state["head"])
        self.stepped[:] = state["stepped"]
        for k in RELATION_STATE:
            mine = getattr(self, k)
            mine[...] = np.asarray(state["relation"][k], float).reshape(mine.shape)
        self.over = np.abs(self.departure) > self.z_limit / 2
        self._refit()


def _row_median(e: np.ndarray, rows: np.ndarray, mid: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the median of the finite entries (NaN: none); and whether a row has any.
    `rows`: np.arange(e.shape[0]); `mid`: the two middle positions of k sorted entries, by k."""
    k = e.shape[1] - np.isnan(e).sum(axis=1)
    s = np.sort(e, axis=1)                                   # NaN sort last
    med = 0.5 * (s[rows, mid[0][k]] + s[rows, mid[1][k]])
    return med, k > 0


def _json(a: np.ndarray):
    return [[None if np.isnan(v) else v for v in row] for row in a.tolist()]
