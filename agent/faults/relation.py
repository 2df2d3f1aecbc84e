"""drift.py's station relation: a loop station's own physics judges its sensors' drifts.

At rush hour no neighbour is calm (congestion breaks the pair models), so a loop station's own
physics judges too: flow = lanes × density × speed and occupancy ∝ density, so
log flow − log occ − log speed is a per-station constant (log k) in free flow and in a queue
alike — an incident does not break it, the queue is real traffic. A tick's residual from its
learned level is divided by that tick's spread, √(a + b / speed²): relative errors of flow and
occupancy, plus a speed error that weighs more the slower the traffic (b is learned once speeds
have varied — a queue seen — and is until then the speed sensor's own tick-to-tick noise). Each
station's relation is one more row beside the sensors' in the same arrays: averaged, measured from
its slow level and over its normal spread like a sensor's median residual (each tick's clipped
at REL_CLIP), settled after a mate's fault of any kind. Past RELATION_Z × `drift_z`, with the
station's sensors healthy and none drifting, it blames the mate whose own departure moved
furthest the way the relation moved (flow up raises log k, occupancy or speed up lowers it) since
the relation was last under half its limit (HISTORY_S back at most: in a queue a mate can sit far
off its neighbours' models all along), if it leans that way by LEAN × drift_z, no other mate that
moved that way too (by LEAN × drift_z) leans TOGETHER as far (one drift moves one mate: two moving
together are traffic their neighbours' models miss — a queue building without a step), it had
moved that way already when the relation first passed its limit, if judged then (a mate moving off
only after the break is traffic its neighbours' models miss, the break another mate's), and its own
row is not stepped (a queue reaching the station steps its mates' rows, and in the first queue the
mate whose neighbour models it put off most leans, drifting or not): that mate drifts, its context
calm or not, once that has lasted `drift_s`; from half that limit it is a drift candidate (its
alerts wait: drift.py). In the first
morning queue no mate may lean at all: the neighbour models, learned on night traffic, are off by so
much that each jump restarts the mates' departures, unjudged. With `drift_moved_alone` (off by
default: on held-out simulator seeds it cost false alarms) the mate blamed then is the one whose
own log reading moved against its same-quantity neighbours' (flow is conserved along the road) by
EXPLAIN to 1 / EXPLAIN of the relation's own move since it was last calm (_moved_alone). The other
way round, a loop sensor whose station relation is judged and stays under AGREE × drift_z (or
moved against it, or its own departure did not move the relation's way since the relation was last
within AGREE × drift_z) is not judged drifting by its neighbours alone: its own drift would have
moved the relation, so the misfit is its neighbours' models (the morning after a first day; a mate
off them all evening while another mate drifts).

The jump back (`drift_jump_back`, on by default): a relation past half its limit for `drift_s`
that returns in one tick (from BACK_FROM of that tick's spreads its departure's way to within BACK_TO,
or to under BACK_FROM with at most BACK_SHARE of its raw departure from the learned level left), with one
mate's own log step explaining EXPLAIN to 1 / EXPLAIN of the return, says that mate's readings
were off while the relation was: it is reported as a drift on that tick, its start back-dated to
when the relation passed half its limit. A report after the fact (its readings were not masked
meanwhile), for the drifts no mate could be blamed for while they lasted: the first queue's above,
a blame fallen short, a relation that stepped. An open relation whose row stops being judged (it
settles after a mate's drift — in the first queue often a wrongly blamed mate's — or its own step)
stays open while each tick's residual stays BACK_FROM its way, so the true mate's jump back is still
seen; a mate decided drifting while its relation was open (`rel_drifted`) is not decided again by it,
and another mate's drift does not stop it. An open relation a mate's unfit readings (a spike, a
dropout) leave unjudged, its last usable tick still REL_CLIP of its spreads off, stays open with that
tick kept for BACK_GAP_S at most, so a jump back just after is still seen. What it carries from tick to tick is checkpointed
(JUMP_BACK_STATE), and so are the blame's rings of the last HISTORY_S (_history_state), so a
restart decides as the run it continues; a checkpoint from before either restores nothing open
and empty rings.

The vouch: a relation judged and calm (under AGREE × drift_z) on the tick before a mate's reading
goes missing still says its other mates are not drifting while it cannot be judged — through the
dropout and its row's settling after it, HISTORY_S at most, until a mate drifts — so their neighbours
alone do not decide them (seed 15: S01_flow, far off its neighbours' models all morning while its
relation stayed calm, was reported drifting 4.5 minutes into a dropout of S01_occ). Checkpointed
(VOUCH_STATE).

The station hold (`drift_station_hold`): a relation past half its limit with no mate leaning its
way (the first queue) means one of its mates reads wrong, not known which; every mate is then a
drift candidate, so that an alert one of them drives alone waits for the decision (an incident's
queue is real traffic and does not break the relation).

It lives apart from drift.py so that each reads in one sitting: a mixin of the Drift rule, whose
rows (the sensors', then the stations' relations) and departure history it shares; drift.py
calls `_init_stations`, `_init_history`, `_init_jump_back` and `_init_vouch` from its constructor,
`_relation`, `_vouched`, `_blamed` and `_jump_back` from `observe` and `_fold_relation` from its fold.
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .rule import ring_held, ring_state, ring_zeros

RELATION_Z = 2.0         # a station's relation drifts past this many × drift_z of its spread
REL_CLIP = 6.0           # a tick's relation residual counts at most this many of its spreads
LEAN = 0.5               # the blamed mate's own departure leans that way by at least this × drift_z
TOGETHER = 0.95         # …and no other mate that moved that way too leans this share of its lean or more
CANDIDATE_LEAN = 0.25    # …and from half the relation's limit on, past this × drift_z: a drift candidate
AGREE = 0.5              # a mate's drift moves its station's relation past this × drift_z, the mate's way
HISTORY_S = 1200.0       # how far back a blame looks for its station relation's last calm tick
VARIED = 0.25            # 1/speed² varying by this share of its mean: a queue seen, rel_b learned
EXPLAIN = 0.5            # unjudged mates: the blamed one's own move explains this share of the relation's
RELATION_SIGN = (1.0, -1.0, -1.0)   # how a flow, occ, speed reading too high moves log flow − log occ − log speed
REL_LEARN_CLIP = 3.0     # a tick's relation residual is learned at most this many of its spreads off
MIN_REL_TICKS = 60       # a relation is judged once it has learned this many ticks' seconds (drift's min_rel_runs)
BACK_FROM = 3.0          # the jump back: the relation's last tick residual this many of its spreads its departure's way…
BACK_TO = 1.0            # …and this tick's back within this many
BACK_SHARE = 1.0 / 3.0   # …or under BACK_FROM, with this share or less of its raw departure left (a queue's level)
BACK_GAP_S = 90.0        # an open relation stays open (its last usable tick kept) while a mate is unfit this long at most
EARLY = 0.25             # `drift_station_early`: a relation past this share of its limit holds its mates' alerts
RELATION_STATE = ("rel_level", "rel_a", "rel_b", "rel_b_known", "rel_mom", "rel_count", "rel_fitted")
VOUCH_STATE = ("rel_vouch_since", "rel_lost_prev")
_ZERO, _ONE = fnp.const(0.0), fnp.const(1.0)   # (fastnp.const)
JUMP_BACK_STATE = ("rel_open", "rel_open_since", "rel_dep_prev", "rel_z_prev", "rel_r_prev", "lx_prev", "fit_prev",
                   "rel_drifted", "rel_gap_since")


def _zero_runs(held: int, head: int, size: int) -> list[tuple[int, int]]:
    """The oldest-first indices (first, last) of a ring's slots from `held` on (its zeros after a
    restore), the oldest at slot `head`: one run, or two where the head lies among them."""
    if held >= size:
        return []
    if head <= held:            # (the oldest slot is a held one, or the first zero: one run)
        return [((held - head) % size, (size - 1 - head) % size)] if head < held else [(0, size - 1 - head)]
    return [(0, size - 1 - head), (size - head + held, size - 1)]


def _arrays_state(obj, keys: tuple) -> dict:
    """`obj`'s per-sensor arrays named in `keys` as JSON lists (NaN as None)."""
    return {k: [None if v != v else v for v in getattr(obj, k).tolist()] for k in keys}


def _restore_arrays(obj, keys: tuple, state: dict) -> None:
    """_arrays_state's lists back into `obj`'s arrays, each in its own dtype; a key `state` lacks
    (a checkpoint from before it) keeps its fresh value."""
    for k in keys:
        if k in state:
            setattr(obj, k, np.array([np.nan if v is None else v for v in state[k]], getattr(obj, k).dtype))


class StationRelation:
    TIME_FIELDS = ("rel_open_since", "rel_gap_since", "rel_vouch_since")   # seconds on the time base (agent/timebase.py)

    def _init_stations(self, ctx, n: int, station_hold: bool, station_early: bool) -> None:
        """The loop stations (flow, occ and speed) and their relations' learned level and spread."""
        self.station_hold = station_hold
        self.station_early = station_hold and station_early     # the early hold extends the station hold
        # A tick's residual in one reading's spreads: the clip and the jump back's thresholds × drift's
        # unit (√k: a run's row is a block's mean, its spread 1/√k of a reading's; 1 at k = 1).
        u = self.unit
        self._clip_hi, self._clip_lo = fnp.const(REL_CLIP * u), fnp.const(-REL_CLIP * u)
        self._rel_clip, self._back_from, self._back_to = REL_CLIP * u, BACK_FROM * u, BACK_TO * u
        # Loop stations with flow, occ and speed: the relation log flow − log occ − log speed ≈ log k.
        trios = []
        for i in range(n):
            st = ctx.station(i)
            if ctx.quantities[i] == "flow" and "occ" in st and "speed" in st:
                trios.append((i, st["occ"], st["speed"]))
        self.trio = np.array(trios, int).reshape(-1, 3)            # (S, 3): flow, occ, speed
        self._speed = self.trio[:, 2].copy()
        s_n = self.trio.shape[0]
        self.trio_in = np.zeros((n, s_n))                           # sensor × station incidence
        self.trio_sign = np.zeros(n)
        for k, trio in enumerate(self.trio):
            self.trio_in[trio, k] = 1.0
            self.trio_sign[trio] = RELATION_SIGN
        # The relation r = log flow − log occ − log speed of every station, and r less its level, as one
        # product with the sensors' log readings and a constant 1 (_lx_one): the signs at each station's
        # three columns of a (2S, n + 1) matrix, twice, the second half with −level in the last column
        # (_fold_rel_level, at each fold) — one np.dot for a gather of the trios, a matmul with the three
        # signs and a subtraction (perf32). r and r − level are views of one kept array (_r_two).
        self._rel_w = np.zeros((2 * s_n, n + 1))
        self._rel_w[np.arange(2 * s_n)[:, None], np.concatenate((self.trio, self.trio))] = RELATION_SIGN
        self._lx_one = np.ones(n + 1)
        self._lx = self._lx_one[:n]                # (this tick's log readings: kept by a copy, if kept)
        self._r_two = np.zeros(2 * s_n)
        self._r_now, self._r_off = self._r_two[:s_n], self._r_two[s_n:]
        self.rel_level = np.zeros(s_n)         # log k, learned while the station is healthy and calm
        self._fold_rel_level()
        self.rel_a = np.ones(s_n)              # a tick's squared residual ≈ rel_a + rel_b / speed²
        self.rel_b = np.zeros(s_n)
        self._rel_scale = np.empty(s_n)        # _relation's r − level over its spread, unclipped (a tick's scratch)
        self.rel_b_known = np.zeros(s_n, bool)  # speeds have varied enough (a queue seen) to learn rel_b
        self.rel_mom = np.zeros((4, s_n))      # running means of u = 1/speed², u², e², u·e²
        self.rel_count = np.zeros(s_n)
        self.rel_fitted = np.zeros(s_n, bool)
        self._all_rel_fitted = False            # every relation fitted (set at each fold; False: not known)
        self._every_rel = np.ones(s_n, bool)    # every relation (read-only)
        self._every_rel.flags.writeable = False
        self._every_sensor = np.ones(n, bool)   # every sensor (read-only)
        self._every_sensor.flags.writeable = False

    def _init_history(self, ctx, moved_alone: bool, tick_s: float, m: int) -> None:
        """The departures' ring a blame looks back on, and `drift_moved_alone`'s ring of log readings."""
        n = self.n
        # The departures of the last HISTORY_S, a ring (checkpointed with the log readings' below:
        # a restart blames as the run it continues): what a mate's departure was before its
        # station's relation moved. Without a loop station nothing writes or reads it: one row (at
        # 1-ms ticks HISTORY_S is 1.2 million rows, 61 MB with the log readings' rings, every row
        # written into each checkpoint as JSON numbers; perf39).
        self.history = np.zeros((max(int(HISTORY_S / tick_s), 1) if self.trio.size else 1, m))
        self.history_head = 0
        # Slots [0, _used) may hold a write (since the ring was made or restored); the rest are still its
        # fresh zeros, so a checkpoint reads only these (at 1-ms ticks the ring is 1.2 million rows, and
        # the stop's write scanned all of them for its last written row: ~100 ms; clock21).
        self._used = 0
        # Where in the ring each relation was last calm, kept up with the rows written (_marks, when a
        # blame reads it), so a blame finds it without scanning the ring (a copy of the whole ring a tick
        # while a relation is past half its limit: 100 ms at 1-ms ticks; perf40). Rows by their write
        # count: the newest row is `_written` − 1; the ring's zeros before the first write count as calm
        # rows, −1 the newest.
        s_n = self.trio.shape[0]
        self._calm_lim = np.array([[0.5 * RELATION_Z * self.z_limit], [AGREE * self.z_limit]])   # _blamed's, _agrees'
        self._break_lim = RELATION_Z * self.z_limit
        self._written = self._marked = 0                    # rows written; rows the marks have seen
        self._calm_at = np.full((2, s_n), -1, np.int64)     # each relation's last row within _calm_lim
        self._break_at = np.full(s_n, -1, np.int64)         # its first row past its limit after that (≤ _calm_at[0]: none)
        # Each sensor's log reading of the last HISTORY_S and whether it was fit to follow, a ring
        # beside the departures' (this tick's in it from the start of observe): when a station's
        # mates are not judged (the first queue: their neighbour models off), the mate whose log
        # reading (averaged over `level_ticks`, as long as the running mean's memory) moved against
        # its same-quantity neighbours' (corridor: the adjacent stations') about as far as the
        # relation moved is the one blamed: flow is conserved along the road, occupancy and speed
        # change smoothly along it outside a queue's front.
        self.log_history = np.zeros((self.history.shape[0], n))
        self.fit_history = np.zeros((self.history.shape[0], n), bool)
        self.moved_alone = moved_alone and self.trio.size > 0      # off: the ring is not written
        self.level_ticks = min(int(round((2.0 - self.lam) / self.lam)), self.history.shape[0] // 2)
        near = np.zeros((n, n))
        for i in np.flatnonzero(self.trio_sign):
            same = [j for j in ctx.neighbours[i] if self.trio_sign[j] and ctx.quantities[j] == ctx.quantities[i]]
            near[i, same] = 1.0 / len(same) if same else 0.0
        self.against_near = np.eye(n) - near            # log x − its neighbours' mean log x
        self.has_near = near.sum(axis=1) > 0

    def _init_jump_back(self, jump_back: bool, n: int) -> None:
        """`drift_jump_back`'s last-tick state (JUMP_BACK_STATE, checkpointed)."""
        s_n = self.trio.shape[0]
        self.jump_back = jump_back and s_n > 0
        self.rel_open = np.zeros(s_n, bool)            # last tick: judged, past half its limit
        self.rel_open_since = np.full(s_n, np.nan)     # …since then
        self.rel_dep_prev = np.zeros(s_n)              # last tick's departure, residual and raw log k
        self.rel_z_prev = np.full(s_n, np.nan)
        self.rel_r_prev = np.zeros(s_n)
        self.lx_prev = np.zeros(n)                     # each sensor's last log reading, and whether fit
        self.fit_prev = np.zeros(n, bool)
        self.rel_drifted = np.zeros(n, bool)           # a mate decided drifting while its relation was open
        self.rel_gap_since = np.full(s_n, np.nan)      # open, a mate unfit since then (NaN: not)
        self._open_any = False
        self.jumped_back = np.zeros(n, bool)           # decided by the jump back this tick (for evidence)
        self._back_any = False
        self.back_dep = np.zeros(n)                    # …its station relation's departure then

    def _init_vouch(self) -> None:
        """The vouch's state (VOUCH_STATE, checkpointed)."""
        s_n = self.trio.shape[0]
        self.rel_vouch_since = np.full(s_n, np.nan)    # vouching since (NaN: not)
        self.rel_lost_prev = np.zeros(s_n, bool)       # last tick: a mate's reading missing
        self._vouch_any = self._lost_any = False

    def _vouched(self, observed: np.ndarray, all_observed: bool, drifting: np.ndarray, ts: float) -> np.ndarray | None:
        """Each relation that vouches for its mates this tick (None: none). Called before the rows'
        settle is updated, so a row with settle 0, fitted and no mate missing last tick was judged then,
        and the history ring's last entry is its departure then."""
        if all_observed and not self._vouch_any and not self._lost_any:
            return None
        n = self.n
        lost = np.zeros(self.trio.shape[0], bool) if all_observed else \
            ~np.logical_and.reduce(observed[self.trio], axis=1)
        was_judged = ~self.rel_lost_prev & (self.settle[n:] == 0) & self.rel_fitted
        prev = self.history[(self.history_head - 1) % self.history.shape[0], n:]
        start = lost & was_judged & (np.abs(prev) <= AGREE * self.z_limit)
        since = np.where(was_judged, np.nan, self.rel_vouch_since)
        since = np.where(start, ts, since)
        stop = ts - since > HISTORY_S
        if fnp.count_nonzero(drifting):
            stop |= drifting @ self.trio_in > 0
        since[stop] = np.nan
        self.rel_vouch_since, self.rel_lost_prev = since, lost
        vouch = ~np.isnan(since)
        self._vouch_any, self._lost_any = bool(fnp.count_nonzero(vouch)), bool(fnp.count_nonzero(lost))
        return vouch if self._vouch_any else None

    def _vouch_state(self) -> dict:
        return _arrays_state(self, VOUCH_STATE)

    def _restore_vouch(self, state: dict) -> None:
        """`state`: _vouch_state's, or {} (a checkpoint from before it: none vouching)."""
        _restore_arrays(self, VOUCH_STATE, state)
        self._vouch_any = bool(np.isfinite(self.rel_vouch_since).any())
        self._lost_any = bool(self.rel_lost_prev.any())

    def _jump_back(self, rel: tuple, open_now: np.ndarray, drifting: np.ndarray, ts: float,
                   judged: np.ndarray) -> np.ndarray | None:
        """A station relation past half its limit (for `drift_s`) whose residual returns in one tick (from BACK_FROM
        of its spreads its departure's way to within BACK_TO, or under BACK_FROM with at most BACK_SHARE of its
        raw departure left) with one mate's own step explaining
        EXPLAIN to 1 / EXPLAIN of that return: that mate's readings were off while the relation was
        (a drift that ended by jumping back). Decided on that tick, its fault starting when the relation
        passed half its limit; None when nothing is. `open_now`: each relation judged and past half its
        limit this tick; with one so, this tick's state is kept for the next. An open relation whose row
        stops being judged (`judged`, every row's, the relations' after the sensors': it settles after a mate's drift — in the first queue often the
        wrong mate's, blamed for a tick or two — or after its own step) stays open while each tick's
        residual stays BACK_FROM of its spreads its departure's way: the break is still there, and the
        true mate's jump back ends it."""
        if not (self._back_any or self._open_any) and open_now is self._no_rel:
            return None             # (none open then or now, none jumped back last tick: the calm tick)
        n = self.n
        z, has, _, r, _, lx, fit = rel
        out = None
        if self._back_any:
            self.jumped_back[:] = False
            self._back_any = False
        persist = gap = None
        if self._open_any:
            w = np.sign(self.rel_dep_prev)
            # A mate's reading unfit (a spike, a dropout) for BACK_GAP_S at most, the relation's last usable
            # tick still REL_CLIP of its spreads its way (not returning: seed 38's drifting speed jumped back
            # on that tick, reported as a spike): the relation stays open with that tick kept, so a jump back
            # just after it is still seen (seeds 0 and 148: S04_speed's false spike as the first queue
            # reaches S04 closed it a minute before S04_flow's).
            lost = self.rel_open & ~has & (self.rel_z_prev * w >= self._rel_clip)
            since = fnp.where(lost & np.isnan(self.rel_gap_since), ts, self.rel_gap_since)
            gap = lost & (ts - since < BACK_GAP_S)
            self.rel_gap_since = fnp.where(gap, since, np.nan)
            went = self.rel_open & has & (self.rel_z_prev * w >= self._back_from)
            zw = z * w
            persist = self.rel_open & ~judged[n:] & has & (zw >= self._back_from)
            # Back: within BACK_TO of its spreads, or under BACK_FROM with at most BACK_SHARE of its raw
            # departure left — in a queue the relation's level is a little off what it learned in free
            # flow (the first morning's: 0.04–0.12 in log k against spreads of 0.03–0.05), so a drift's
            # jump back lands 1–3 spreads off it though it takes away nine tenths of the departure.
            went &= (zw <= self._back_to) | ((zw < self._back_from)
                                       & (w * (r - self.rel_level) <= BACK_SHARE * w * (self.rel_r_prev - self.rel_level)))
            # …after the relation was off for `drift_s`, as any drift lasts (a mate's step early in
            # another's drift, in a queue, can bring it back for a tick)
            went &= ts - self.rel_open_since >= self.required_s
            for s in np.flatnonzero(went):
                trio = self.trio[s]
                d_r = r[s] - self.rel_r_prev[s]
                if not (fit[trio] & self.fit_prev[trio]).all() or d_r == 0.0:
                    continue
                share = self.trio_sign[trio] * (lx[trio] - self.lx_prev[trio]) / d_r
                b = int(np.argmax(share))
                k = int(trio[b])
                # (a mate decided drifting while the relation was open has been reported: not again; another
                # mate drifting meanwhile — in the first queue often wrongly blamed — does not stop it)
                if EXPLAIN <= share[b] <= 1.0 / EXPLAIN and not (self.rel_drifted[k] or drifting[k]):
                    if out is None:
                        out = np.zeros(n, bool)
                    out[k] = True
                    self.jumped_back[k] = self._back_any = True
                    self.back_dep[k] = self.rel_dep_prev[s]
                    self.held.started(k, self.rel_open_since[s])
        if gap is not None and fnp.count_nonzero(gap):
            open_now = open_now | gap
        else:
            gap = None
        if persist is not None and fnp.count_nonzero(persist):
            open_now = open_now | persist
            dep = fnp.where(persist, self.rel_dep_prev, self.departure[n:])    # (its row's is 0: unjudged)
        elif not self._open_any and not fnp.count_nonzero(open_now):
            return out                  # (none open then or now: the kept state is not read)
        else:
            dep = self.departure[n:]
        mates_open = self.trio_in @ open_now > 0
        self.rel_drifted = (self.rel_drifted | drifting) & mates_open
        self.rel_open_since = fnp.where(open_now, fnp.where(self.rel_open, self.rel_open_since, ts), np.nan)
        self.rel_open = open_now
        self._open_any = bool(fnp.count_nonzero(open_now))
        if gap is not None:             # (a relation in its gap keeps its last usable tick, and its mates theirs)
            mates_gap = self.trio_in @ gap > 0
            dep, z, r = (fnp.where(gap, kept, now) for kept, now in
                         ((self.rel_dep_prev, dep), (self.rel_z_prev, z), (self.rel_r_prev, r)))
            lx, fit = fnp.where(mates_gap, self.lx_prev, lx), fnp.where(mates_gap, self.fit_prev, fit)
        self.rel_dep_prev = dep.copy()
        self.rel_z_prev = z.copy() if z is self._med_rel else z     # (the tick's row medians: written again)
        self.rel_r_prev = r.copy() if r is self._r_now else r       # (this tick's kept arrays: written again)
        self.lx_prev = lx.copy() if lx is self._lx else lx
        self.fit_prev = fit
        return out

    def rel_returned(self, x: np.ndarray, before: np.ndarray) -> bool:
        """On a cadence (a run's row a block's mean): whether an open relation's residual, on this tick's
        own reading `x` against the tick before's `before`, returned from BACK_FROM of one reading's
        spreads its departure's way to under it — a mate's jump back, which the block's mean would smear
        over two runs. No state is changed; only an open relation is looked at."""
        if not self._open_any:
            return False
        s = np.flatnonzero(self.rel_open)
        trio = self.trio[s]
        sign = self.trio_sign[trio]
        if not (np.isfinite(x[trio]).all() and np.isfinite(before[trio]).all() and (x[trio] > 0).all()
                and (before[trio] > 0).all()):
            return False
        spread = np.sqrt(self.rel_a[s] + self.rel_b[s] / (x[self.trio[s, 2]] ** 2)) * self.unit    # one reading's
        w = np.sign(self.rel_dep_prev[s])
        z_now = w * ((sign * np.log(x[trio])).sum(axis=1) - self.rel_level[s]) / spread
        z_before = w * ((sign * np.log(before[trio])).sum(axis=1) - self.rel_level[s]) / spread
        return bool(((z_before >= BACK_FROM) & (z_now < BACK_FROM)).any())

    def _jump_back_state(self) -> dict:
        return _arrays_state(self, JUMP_BACK_STATE)

    def _restore_jump_back(self, state: dict) -> None:
        """`state`: _jump_back_state's, or {} (a checkpoint from before it: nothing open)."""
        _restore_arrays(self, JUMP_BACK_STATE, state)
        self._open_any = bool(fnp.count_nonzero(self.rel_open))

    def _history_state(self) -> dict:
        """The rings a blame looks back on, and where they are written next."""
        # (the log readings' rings are written at the head before the departures' push: one slot past _used)
        used = min(max(self._used, self.history_head + 1), self.history.shape[0])
        state = {"head": self.history_head, "departures": ring_state(self.history, 0.0, used)}
        if self.moved_alone:
            state["log"] = ring_state(self.log_history, 0.0, used)
            state["fit"] = ring_state(self.fit_history, False, used)
        return state

    def _restore_history(self, state: dict) -> None:
        """`state`: _history_state's; {} (a checkpoint from before it) or rings of another length
        (another tick_s) leave them empty, as a fresh start: a blame weighs the mates' departures as
        they are, and `drift_moved_alone` blames no one until its ring refills. The rings are fresh
        zeros with the rows held written in (ring_zeros), and the marks found from those rows: at 1-ms
        ticks the rings are 1.2 million rows, which a restore wrote and scanned whole (0.5 s; clock20)."""
        departures = state.get("departures")
        rows = None if departures is None else ring_held(departures, self.history.shape)
        if rows is None:
            return
        self.history = ring_zeros(rows, self.history.shape, float)
        self.history_head = int(state["head"])
        self._used = len(rows)
        self._mark_history(rows)
        if self.moved_alone and state.get("log") is not None:
            log, fit = ring_held(state["log"], self.log_history.shape), ring_held(state["fit"], self.fit_history.shape)
            if log is None or fit is None:
                raise ValueError("drift.relation.history: the log readings' rings do not fit the departures'")
            self.log_history = ring_zeros(log, self.log_history.shape, float)
            self.fit_history = ring_zeros(fit, self.fit_history.shape, bool)
            self._used = max(self._used, len(log), len(fit))

    def _push_history(self) -> None:
        """This tick's departures into the ring (the blame's marks are brought up to it when a blame reads
        them: _marks; nothing else a tick)."""
        h = self.history_head
        self.history[h] = self.departure
        if h >= self._used:
            self._used = h + 1
        self.history_head = (h + 1) % self.history.shape[0]
        self._written += 1

    def _marks(self) -> None:
        """Where each relation was last calm, and first past its limit after that, brought up to the rows
        written since a blame last read them (every tick while one is past half its limit: one row), or
        found in the whole ring when more were written since than it holds."""
        new = self._written - self._marked
        size = self.history.shape[0]
        if new >= size:
            self._mark_history()
            return
        if not new:
            return
        a = np.abs(self.history[(self.history_head - new + np.arange(new)) % size, self.n:])    # oldest first
        calm = a[None] <= self._calm_lim[:, None]      # (NaN: neither calm nor past the limit, as a scan)
        found = calm.any(axis=1)
        last = new - 1 - np.argmax(calm[:, ::-1], axis=1)
        before = self._calm_at[0].copy()
        self._calm_at = np.where(found, self._marked + last, self._calm_at)
        for s in range(a.shape[1]):
            start = last[0, s] + 1 if found[0, s] else (0 if self._break_at[s] <= before[s] else new)
            over = np.flatnonzero(a[start:, s] > self._break_lim)
            if over.size:
                self._break_at[s] = self._marked + start + over[0]
        self._marked = self._written

    def _mark_history(self, held: np.ndarray | None = None) -> None:
        """The marks found in the whole ring (a restore, or a blame after more rows than it holds: its rows
        all counted as written, the newest write count size − 1, the oldest 0). `held`: the ring's first
        slots, every slot after them zeros (a restore: ring_held's rows); None, the whole ring. The
        zeros' slots are not read: their oldest-first indices are one or two runs, and a run of equal rows
        is calm (or past the limit) in all of its rows or none — its last row is the last calm one, and
        the first past the limit after a row p is its first row after p."""
        size, h = self.history.shape[0], self.history_head
        self._written = self._marked = size
        held = self.history if held is None else held
        k = len(held)
        # the held slots oldest first (from the head on, then those before it) and their oldest-first indices
        first, second = held[h:k, self.n:], held[:min(h, k), self.n:]
        a = np.abs(np.concatenate((first, second)))
        at = np.concatenate((np.arange(len(first)), size - h + np.arange(len(second))))
        runs = _zero_runs(k, h, size)           # the zeros' (first, last) oldest-first indices
        for c in range(2):
            calm = a <= self._calm_lim[c]
            last = np.where(calm.any(axis=0), at[len(a) - 1 - np.argmax(calm[::-1], axis=0)], -1) if len(a) else -1
            if runs and 0.0 <= self._calm_lim[c, 0]:
                last = np.maximum(last, runs[-1][1])
            self._calm_at[c] = last
        zero_over = bool(runs) and 0.0 > self._break_lim
        for s in range(a.shape[1]):
            p = int(self._calm_at[0, s])
            start = int(np.searchsorted(at, p, side="right"))
            over = np.flatnonzero(a[start:, s] > self._break_lim)
            found = [int(at[start + over[0]])] if over.size else []
            if zero_over:
                found += [max(f, p + 1) for f, b in runs if max(f, p + 1) <= b]
            self._break_at[s] = min(found) if found else p

    def _past_index(self, written: int) -> int:
        """The row written `written`-th as an oldest-first index in the ring (< 0: it has left the ring)."""
        return int(self.history.shape[0] - self._written + written)

    def _past_row(self, index: int) -> np.ndarray:
        """The ring's row at an oldest-first index (0 the oldest, size − 1 the last tick's)."""
        return self.history[(self.history_head + index) % self.history.shape[0]]

    def _relation(self, x: np.ndarray, x2: np.ndarray, ok_i: np.ndarray, ok_all: bool) -> tuple:
        """Per station: its relation residual in this tick's spread (NaN: not usable), whether
        usable, whether its three readings are fit to use, and the raw log k and 1/speed² (learned
        at the refit); per sensor: its log reading and whether it is fit to use (the jump back's).
        `x2`: x × x (drift's feature row); `ok_all`: every entry of ok_i is True. The log readings and
        r are this call's kept arrays, written again next tick: a caller keeping them copies them."""
        # (every reading positive: its least is, ~0.4 µs against ~0.9 for the mask and its count; a NaN — the
        # least argmin picks — compares False, as in the mask)
        all_pos = float(x[x.argmin()]) > 0.0
        pos = None if all_pos else x > _ZERO
        xp = x if all_pos else fnp.where(pos, x, _ONE)
        lx = np.log(xp, self._lx)        # (out by position: no keyword to parse, perf45)
        np.dot(self._rel_w, self._lx_one, self._r_two)         # r, and r − level
        fit = self._every_sensor if ok_all and all_pos else ok_i & (self._every_sensor if all_pos else pos)
        # 1 / speed² (x² is the speed's square when every reading is positive: the same products)
        # (u straight into the slot learn keeps it in for the next fold, as observe's g: no copy there)
        if all_pos:
            u = np.divide(_ONE, x2.take(self._speed), self._u_rows[self._filled])
        else:
            v = xp[self._speed]
            u = np.divide(_ONE, v * v, out=self._u_rows[self._filled])
        r = self._r_now
        # (fastnp.clip: min(max(·, lo), hi) in one call, the same values)
        # (into the relations' part of the tick's row medians, _med_rel: drift copies nothing on the usual tick)
        # (the operators' ufuncs in their order, into one kept scratch row: the same values, no temporaries; perf65)
        w = self._rel_scale
        np.sqrt(np.add(self.rel_a, np.multiply(self.rel_b, u, w), w), w)
        z = fnp.clip(np.divide(self._r_off, w, w), self._clip_lo, self._clip_hi, self._med_rel)
        if self._all_rel_fitted and (fit is self._every_sensor or fnp.count_nonzero(fit) == fit.size):
            # (the usual tick: every reading fit and every relation fitted, so ok and has are all True)
            return z, self._every_rel, self._every_rel, r, u, lx, fit
        ok = np.logical_and.reduce(fit[self.trio], axis=1)        # flow, occ and speed all fit to use
        has = ok & self.rel_fitted
        return fnp.where(has, z, np.nan), has, ok, r, u, lx, fit

    def _blamed(self, judged: np.ndarray, size: np.ndarray, rel_half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sensors a loop station's broken flow / occ / speed relation blames for drifting: the
        mate whose own departure moved furthest the way the relation moved, since the relation was
        last calm (and leans that way past LEAN × drift_z), and the candidates: that mate, from half
        the relation's limit on. `rel_half`: each relation's departure past half its limit."""
        n = self.n
        half = judged[n:] & rel_half & ~self.stepped[n:]
        d = self.departure[n:] @ self.trio_in.T         # each sensor's station relation's departure
        lean = np.sign(d) * self.trio_sign * self.departure[:n]
        blamed, candidate = np.zeros(n, bool), np.zeros(n, bool)
        self._marks()
        for s in np.flatnonzero(half):
            trio = self.trio[s]
            # The mate whose departure moved furthest that way since the relation was last under half
            # its limit: a queue can keep another mate far off its neighbours' models all along.
            # (last_calm: oldest-first in the ring, this tick not yet in; none in it: the oldest row)
            last_calm = max(self._past_index(self._calm_at[0, s]), 0)
            before = self._past_row(last_calm)[trio]
            moved = self.trio_sign[trio] * (self.departure[trio] - before) * np.sign(self.departure[n + s])
            b = int(np.argmax(moved))
            k = trio[b]
            if self.moved_alone and lean[k] <= CANDIDATE_LEAN * self.z_limit and not judged[trio].all():
                # No mate leans that way, and one is not judged (the first queue: its neighbours'
                # models off): the mate whose reading moved alone, against its neighbours', instead.
                k = self._moved_alone(trio, last_calm, np.sign(self.departure[n + s]))
                if k >= 0:
                    candidate[k] = True
                    blamed[k] = size[n + s] > RELATION_Z * self.z_limit
                continue
            candidate[k] = lean[k] > CANDIDATE_LEAN * self.z_limit
            # (not a mate whose own row is stepped: its departure is what a jump left behind — in the first
            # queue, neighbour models the queue put off — not known to be a drift; the jump back still can)
            # (nor while another mate that also moved that way by LEAN × drift_z leans TOGETHER as far: one
            # drift moves one mate, and two moving together are traffic their neighbours' models miss —
            # seed 10's gradual queue; a mate off all along that did not move does not count)
            # (nor a mate that had not moved that way yet when the relation first passed its limit: the
            # break came first, another mate's, and its own move after it is traffic its neighbours'
            # models miss — seeds 32 and 131, a speed moving off in the queue while its occupancy drifts)
            blamed[k] = size[n + s] > RELATION_Z * self.z_limit and lean[k] > LEAN * self.z_limit \
                and not self.stepped[k] \
                and fnp.count_nonzero((lean[trio] >= TOGETHER * lean[k]) & (moved > LEAN * self.z_limit)) <= 1 \
                and self._moved_at_break(s, trio, last_calm, before)[b] > 0
            if self.station_hold and not candidate[k]:
                # No mate leans that way (the first queue: their neighbour models off): one of them
                # reads wrong, which is not known yet, so each is a candidate — an alert they drive
                # alone waits (`drift_holdback_s`), as an incident does not break the relation.
                candidate[trio] = True
        return blamed, candidate

    def _agrees(self, d: np.ndarray, decide: np.ndarray) -> np.ndarray:
        """Each loop mate whose station relation (its departure `d`, per sensor) moved past AGREE ×
        drift_z its way — for those `decide` marks, only if the mate's own departure also moved that way
        since the relation was last within AGREE × drift_z: a mate off its neighbours' models all along
        (in the evening, or in a queue) is not what moved the relation, and another mate's drift does not
        make it drifting (seed 131: S04_occ drifts, S04_speed, off all evening and moving back, was decided)."""
        n = self.n
        agrees = (np.sign(d) * self.trio_sign * self.departure[:n] > 0) & (np.abs(d) > AGREE * self.z_limit)
        check = agrees & decide
        if not fnp.count_nonzero(check):
            return agrees
        self._marks()
        for i in np.flatnonzero(check):
            s = int(np.argmax(self.trio_in[i]))
            before = self._past_row(max(self._past_index(self._calm_at[1, s]), 0))[i]
            agrees[i] = self.trio_sign[i] * (self.departure[i] - before) * np.sign(d[i]) > 0
        return agrees

    def _moved_at_break(self, s: int, trio: np.ndarray, last_calm: int, before: np.ndarray) -> np.ndarray:
        """Each mate's departure move the relation's way from its last calm tick to the tick it first
        passed its limit after it (this tick, if none before); +inf for a mate not judged on that tick
        (its departure kept at 0: in the first queue a jump restarts it), whose move is not known."""
        at = self.departure[trio]
        if self._break_at[s] > self._calm_at[0, s]:         # a row past the limit since the last calm one
            broke = self._past_index(self._break_at[s])
            if broke < 0:       # (both left the ring: the first row past it still in the ring, scanned)
                col = self.history[:, self.n + s]
                h = self.history_head
                over = np.flatnonzero(np.abs(np.concatenate((col[h:], col[:h]))) > self._break_lim)
                broke = int(over[0]) if over.size else -1
            if broke >= 0:
                at = self._past_row(broke)[trio]
        return np.where(at != 0.0, self.trio_sign[trio] * (at - before) * np.sign(self.departure[self.n + s]), np.inf)

    def _early_mates(self, judged: np.ndarray, early: np.ndarray) -> np.ndarray:
        """`drift_station_early`: every mate of a loop station whose relation is judged, not a step, and
        past EARLY of its limit (`early`), a mate leaning its way or not, is a drift candidate."""
        n = self.n
        on = judged[n:] & early & ~self.stepped[n:]
        return self.trio_in @ on > 0

    def _moved_alone(self, trio: np.ndarray, last_calm: int, way: float) -> int:
        """With a mate not judged (its neighbours' models off: the first queue), the mate whose log
        reading moved against its same-quantity neighbours', since the relation's last calm tick
        (`last_calm`, oldest-first in the history), by EXPLAIN to 1 / EXPLAIN of the relation's own
        move `way`; -1: none."""
        size = self.log_history.shape[0]       # oldest-first index j is size - j ticks back
        moved = self._log_level(0) - self._log_level(min(size - last_calm, size - self.level_ticks))
        own = self.against_near[trio] @ np.nan_to_num(moved)   # each mate's move against its neighbours'
        rel_move = self.trio_sign[trio] @ moved[trio]
        if not np.isfinite(rel_move) or rel_move * way <= 0:
            return -1
        share = self.trio_sign[trio] * own / rel_move
        ok = self.has_near[trio] & (np.abs(self.against_near[trio]) @ np.isnan(moved) == 0)
        share = fnp.where(ok, share, -np.inf)
        b = int(np.argmax(share))
        return int(trio[b]) if EXPLAIN <= share[b] <= 1.0 / EXPLAIN else -1

    def _log_level(self, back: int) -> np.ndarray:
        """Each sensor's mean log reading over the `level_ticks` ticks ending `back` ticks before this
        one (fit readings only; NaN: none)."""
        size = self.log_history.shape[0]
        slots = (self.history_head - back - np.arange(self.level_ticks)) % size
        fit = self.fit_history[slots]
        count = fit.sum(axis=0)
        total = fnp.where(fit, self.log_history[slots], 0.0).sum(axis=0)
        return np.divide(total, count, out=np.full(self.n, np.nan), where=count > 0)

    def _fold_rel_level(self) -> None:
        """−level into the last column of the relation product's second half (_relation: r − level)."""
        s_n = self.trio.shape[0]
        self._rel_w[s_n:, -1] = -self.rel_level

    def _fold_relation(self, k: int, w: np.ndarray, keep: np.ndarray) -> None:
        # (r and u are finite on every kept tick, and w is 0 on those not learned)
        on, r, u = self._rc[:k], self._r[:k], self._u[:k]
        self.rel_level = keep * self.rel_level + (w * r).sum(axis=0)
        self._fold_rel_level()
        e2 = (r - self.rel_level) ** 2
        clipped = np.minimum(e2, REL_LEARN_CLIP ** 2 * (self.rel_a + self.rel_b * u))
        e2 = clipped if self._all_rel_fitted else fnp.where(self.rel_fitted, clipped, e2)     # (all: the where picks every entry)
        self.rel_mom = keep * self.rel_mom + (np.stack((u, u * u, e2, u * e2)) * w).sum(axis=1)
        self.rel_count += on.sum(axis=0)
        m_u, m_uu, m_e2, m_ue2 = self.rel_mom
        var_u = m_uu - m_u * m_u
        # rel_b is learned once speeds have varied (a queue seen), else kept: in free flow 1/speed²
        # hardly moves, and the last queue's rel_b is the best guess for the next one.
        varied = var_u > (VARIED * m_u) ** 2
        # Until then, the speed sensor's own noise: its usual tick-to-tick change |Δv| is 2σ/√π for
        # white noise σ, and a speed error σ weighs σ / speed in log speed (more, if the process moves too);
        # a block's mean of k readings (drift's unit √k) has σ / √k.
        prior = self.rel_b if self._normal is None else \
            (0.5 * np.sqrt(np.pi) * self._normal.abs_step[self.trio[:, 2]]) ** 2 / (self.unit * self.unit)
        self.rel_b = fnp.where(varied, np.maximum((m_ue2 - m_u * m_e2) / fnp.where(varied, var_u, 1.0), 0.0),
                              fnp.where(self.rel_b_known, self.rel_b, prior))
        self.rel_b_known |= varied
        self.rel_a = np.maximum(m_e2 - self.rel_b * m_u, 0.05 * m_e2) + 1e-12
        self.rel_fitted = self.rel_count >= self.min_rel_runs
        self._all_rel_fitted = fnp.count_nonzero(self.rel_fitted) == self.rel_fitted.size
