"""drift's learned state: what a tick teaches it, the runs kept for the next fold, and the checkpoint.

learn updates each row's slow level and spread (_learn_rows) from the sensors judged healthy and unsuspected,
and keeps the run's learned pairs and relations for the refit's fold (pairs.py's _fold: the moments brought up
to date every refit_runs from these buffers). state and restore write and read all of it: the moments as of
the last refit and the runs kept since, so a restart refits and folds as the run it continues would. Apart from
drift.py because none of it decides anything on the tick: it is what the next ticks are judged with."""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .pairs import F
from .relation import RELATION_STATE
from .drift_judge import _CLIP2


ROW_STATE = ("mean_e", "base_e", "d2", "count", "departure", "settle")




class DriftLearned:
    """A mixin of Drift: learning, the kept runs, the checkpoint."""

    def _init_kept(self, n: int, p: int, s_n: int) -> None:
        """The buffers of the runs kept since the last refit (n sensors, p pairs, s_n relations): part of
        Drift.__init__, at its end."""
        # The ticks since the last refit, folded into the moments then (_fold).
        self._filled = 0
        self._g = np.zeros((self.refit_runs, p, F + 1))
        # Each kept run's feature row [x, x², lag1, lag2] (observe copies it: ~0.4 µs against ~1 for the
        # gather of g), gathered into _g when read (_kept_g: a fold, a checkpoint); _g's first _g_from slots
        # hold their g already (a checkpoint's, restored).
        self._xr = np.zeros((self.refit_runs, F * n))
        self._xr_rows = list(self._xr)             # its slots as views (one written a tick: no index; perf65)
        self._g_from = 0
        # The kept ticks' learned pairs and relations, and the pairs' and relations' learned-tick counts,
        # each as views of one array: a fold weighs both in one go (_weights), with no concatenate.
        self._on = np.zeros((self.refit_runs, p + s_n), bool)
        self._pl, self._rc = self._on[:, :p], self._on[:, p:]
        self._counts = fnp.concatenate((self.pair_count, self.rel_count))
        self.pair_count, self.rel_count = self._counts[:p], self._counts[p:]
        self._pl_all = [False] * self.refit_runs       # per slot of _pl: all True (every pair; not written again)
        self._r = np.zeros((self.refit_runs, s_n))
        self._r_rows = list(self._r)               # its slots as views (the calm tick's learn writes one; perf65)
        self._u = np.zeros((self.refit_runs, s_n))
        self._u_rows = list(self._u)               # its slots as views (_relation writes one a tick; perf65)
        self._rc_all = [False] * self.refit_runs       # per slot of _rc: all True (written by a tick with no row over)

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

    def _learn_rows(self, dev: np.ndarray, b: np.ndarray | None, calm: np.ndarray | None) -> None:
        """The level learns dev (observe's, in _steps[0]) at base_lam where `calm` (None: every row),
        the spread min(dev², CLIP² × d2) where `b` at its rate (None: alpha_min everywhere), floored at d2_floor:
        base_e += base_lam × dev and d2 += b × (min(dev², CLIP² d2) − d2), the same products and sums
        as two separate updates, as one multiply and one add over both rows."""
        spread = self._spread_step
        # (dev ** 2's bits; CLIP² × d2 in observe's scratch row, free by now: no temporary; perf76)
        np.minimum(np.multiply(dev, dev, spread), np.multiply(_CLIP2, self.d2, self._tmp_b), out=spread)
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


def _json(a: np.ndarray):
    return [[None if np.isnan(v) else v for v in row] for row in a.tolist()]
