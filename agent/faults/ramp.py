"""The drift rule's ramp: a short or small drift decided below the limit, because it keeps growing.

A drift that is short or small reaches `drift_z` late, or not at all (the pump's 20-minute
simulated drifts reach it in their last minutes, with no station relation to judge them). So a
drift candidate whose context stays calm for `drift_ramp_s` while its departure grows to GROWTH ×
what it was when it became one is a drift too: a drift grows, a neighbour-model misfit plateaus.
It must have been judged without a break for RAMP_WARM_S before: after a fault of another kind the
departure's running mean refills from 0, a rise that is no ramp. Only sensors without a station
relation (relation.py) are judged this way: loop sensors have their relation instead.

The jump back (`drift_jump_back`, as a loop station's relation has it in relation.py): a drift
that starts with a change of the process (the pump's load stepping: every skid sensor's departure
off by 3–10 spreads for a quarter of an hour while the temperatures catch up) is past the limit
with no calm context to judge it by, and ends with its reading jumping back onto what its
neighbours predict — a jump the spike rule would call a spike. So a sensor whose departure was
past the limit (or past half of it for `drift_s`, as a station relation must be for its jump
back) on one of the last ABRUPT_TICKS ticks' runs (drift's abrupt_runs), whose reading now jumps while its context
does not (the spike rule's decision that tick) and whose residual is then back within half the
limit, was drifting: decided as a drift on that tick (the drift rule names the fault: it comes
first), its fault starting when the departure last passed half the limit. A noisy sensor's jump
back (the pump's flow: its usual change is as large) is no spike; its residual jumping back
(drift.py's abrupt test) while its drift decision is under way (held past the limit with its
context calm), no context sensor's residual jumps and its context is calm, claims it alike.
Its record (far_left, far_sign, far_size, over_from) is checkpointed, so a restart decides as the
run it continues; a fault of another kind forgets a sensor's record (`forget`), as the drift
rule's rows settle after one.

The rise (with `drift_jump_back`): a drift whose departure grows steadily but stays under half the limit
(the pump's 20-minute temperature drifts: 25 → 30 °C, 2.6–2.9 spreads at their end) is never a
candidate, so an alert it drives alone opened after `lone_holdback_s` and its jump back was called a
spike. A sensor without a station relation whose departure has been past RISE_Z × the limit, with
its context calm and not a step, for RISE_S without falling more than RISE_DIP below its peak, and
has grown RISE_GROWTH × since, is a drift candidate while that lasts (its alert waits
`drift_holdback_s`), and its jump back may end it as a drift (`far`, as above; the fault starts when
the rise did). It is not judged by the ramp: under half the limit nothing holds a ramped drift.

It lives apart from drift.py so that each reads in one sitting; drift.py owns the departure and
the candidates and passes them in each judged tick (`update`). `judged_run` is checkpointed too (a checkpoint from
before these keys restores them as a fresh start: nothing far, nothing judged yet).
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .rule import Held

GROWTH = 1.25            # a calm-context candidate's departure grown this many ×…
RAMP_WARM_S = 900.0      # …and judged without a break this long before it became one
RISE_Z = 1.0 / 6.0       # the rise: a departure past this share of drift_z…
RISE_S = 300.0           # …for this long, its context calm, not a step…
RISE_DIP = 0.1           # …never this many spreads below its peak since…
RISE_GROWTH = 1.5        # …and grown this many × since it passed RISE_Z


class Ramp:
    TIME_FIELDS = ("over_from", "far_from", "_from")   # seconds on the time base (agent/timebase.py)
    def __init__(self, on: np.ndarray, ramp_s: float, tick_s: float, jump_back: bool = False, limit: float = 6.0,
                 required_s: float = 300.0, window: int = 3):
        n = on.size
        self.on = on                           # the sensors it judges (no station relation)
        self.s = ramp_s
        self.enabled = bool(on.any()) and ramp_s > 0
        # The jump back: ticks left since each sensor's departure was judged past the limit, its sign
        # then, and when it last passed half the limit (NaN: not past it).
        self.back_on = bool(on.any()) and jump_back
        self.limit = limit                     # drift_z
        self.required_s = required_s           # drift_s
        self.window = window                   # the drift rule's abrupt test's runs (abrupt_runs)
        self.far_left = np.zeros(n, np.int64)
        self.far_sign = np.zeros(n)
        self.far_size = np.zeros(n)
        self.over_from = np.full(n, np.nan)
        self._far_any = self._from_any = self._back_any = False
        self.jumped_back = np.zeros(n, bool)   # decided by the jump back this tick (for evidence)
        self.back_dep = np.zeros(n)            # …its departure when last past the limit
        self.held = Held(n, tick_s)
        self.start = np.zeros(n)               # its departure's size when it became a candidate
        self.ramped = np.zeros(n, bool)        # drifting, decided by the ramp
        self._ramped_any = False
        self._judged_run = np.zeros(n, np.int64)    # ticks judged without a break (`judged_run`)…
        self._run_k = 0                             # …but for this many ticks that judged every sensor
        self.warm_ticks = int(np.ceil(RAMP_WARM_S / tick_s))
        # The rise: when each sensor's departure passed RISE_Z × the limit (NaN: not rising), its size
        # then and its peak since; far_from: when the rise that last made it far began (its jump back's start).
        # Kept as Python lists, written only at the sensors in `_track` and this tick's (rise): a few a tick.
        self.rise_z = RISE_Z * limit
        self.judges = on.tolist()             # `on` as a list (per sensor: drift.py's pick for rise)
        self._from = [np.nan] * n
        self._start = [0.0] * n
        self._peak = [0.0] * n
        self._track: list[int] = []    # the sensors whose `_from` is a number or `_peak` not 0 (else NaN and 0)
        self.far_from = np.full(n, np.nan)
        self._rise_any = False

    @property
    def judged_run(self) -> np.ndarray:
        """Ticks each sensor has been judged without a break (the array itself: write to it freely)."""
        if self._run_k:
            self._judged_run += self._run_k      # (whole numbers: k ticks of +1 are one += k, the same bits)
            self._run_k = 0
        return self._judged_run

    @property
    def resting(self) -> bool:
        """No ramp held or decided: with no candidate this tick, update() only counts the judged run."""
        return self.held.idle and not self._ramped_any

    def rest(self, seen: np.ndarray) -> None:
        """update() on a tick with no candidate while `resting` (it would return None): the judged
        run counted, as a number while every sensor is judged (the usual tick: no numpy call)."""
        if fnp.count_nonzero(seen) == seen.size:
            self._run_k += 1
        else:
            self._judged_run = fnp.where(seen, self.judged_run + 1, 0)

    def update(self, pending: np.ndarray, seen: np.ndarray, size: np.ndarray, drifting: np.ndarray,
               ts: float, since: np.ndarray, over: np.ndarray,
               stepped: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """`pending`: calm-context drift candidates; `seen`: judged this tick; `size`: |departure|;
        `since`: the drift rule's Held.since, moved back to when a decided ramp became a candidate
        (the fault starts then); `over`, `stepped`: past half the limit, a step (a ramped drift lasts
        while it is past half the limit and not a step). (condition, decided), or None when nothing holds."""
        self._judged_run = fnp.where(seen, self.judged_run + 1, 0)
        on = pending & self.on & ((self.judged_run >= self.warm_ticks) | (self.held.ticks > 0))
        if self.held.calm(on) and not self._ramped_any:
            return None
        lasted = self.held.update(on, seen, ts)
        fnp.copyto(self.start, size, where=on & (self.held.ticks == 1))
        decided = on & (lasted >= self.s) & (size >= GROWTH * self.start)
        self.ramped = (self.ramped & drifting) | decided
        fnp.copyto(since, np.fmin(since, self.held.since), where=decided)
        self._ramped_any = bool(fnp.count_nonzero(self.ramped))
        return self.ramped & over & ~stepped, decided

    @property
    def far_any(self) -> bool:
        """Some sensor far lately: claim() may end its drift."""
        return self._far_any

    @property
    def tracking(self) -> bool:
        """Some sensor far, past half the limit or jumped back lately: track() has a record to keep
        even on a tick with no row past half the limit (else it would change nothing then)."""
        return self._far_any or self._from_any or self._back_any

    def track(self, far: np.ndarray | None, over: np.ndarray, judged: np.ndarray, departure: np.ndarray,
              ts: float, partial: bool = False) -> None:
        """The jump back's record, each judged tick: `far`: judged past the limit, not a step (None: no
        row past half of it); `over`, `judged`, `departure`: the drift rule's this tick. A sensor far,
        or past half the limit for `drift_s`, may end a drift in the next `window` ticks."""
        if self._back_any:
            self.jumped_back[:] = False
            self._back_any = False
        if not self._far_any and not self._from_any and (far is None or not fnp.count_nonzero(over & self.on)):
            return          # (the usual tick: none of its sensors past half the limit now or lately)
        if self._far_any and not partial:       # (a block cut short by a jump is no run of the window's)
            np.maximum(self.far_left - 1, 0, out=self.far_left)
        if far is not None:
            self.over_from[judged & over & self.on & np.isnan(self.over_from)] = ts
            with np.errstate(invalid="ignore"):          # (NaN: not past half the limit)
                far = far | (judged & over & (ts - self.over_from >= self.required_s))
        if far is not None and fnp.count_nonzero(far := far & self.on):
            self.far_left[far] = self.window + 1
            self.far_sign[far] = np.sign(departure[far])
            self.far_size[far] = np.abs(departure[far])
        self.over_from[judged & ~over] = np.nan
        self._from_any = bool(fnp.count_nonzero(self.over_from == self.over_from))     # (NaN ≠ NaN; never ±inf)
        self._far_any = bool(fnp.count_nonzero(self.far_left))

    @property
    def rising_any(self) -> bool:
        """Some sensor rising: rise() has a record to keep even on a tick with none past RISE_Z."""
        return self._rise_any

    @property
    def rise_from(self) -> np.ndarray:
        """When each sensor's rise began (NaN: not rising), as an array (a copy)."""
        return np.array(self._from)

    def rise(self, low: list[int], size: np.ndarray, ts: float, departure: np.ndarray) -> np.ndarray | None:
        """The rise's candidates this tick (None: none). `low`: the indices (ascending) of the sensors it
        judges (`on`) that are judged this tick, past RISE_Z × the limit, their context calm, not a step,
        not drifting, under half the limit; `size`: |departure|. Only those and the ones rising until now
        are written (every other's record is NaN and 0 already), in Python numbers: the same bits as the
        whole arrays' arithmetic, in fewer µs for a few sensors than the ~20 numpy calls it took."""
        if not (low or self._rise_any):
            return None
        frm, start, peak = self._from, self._start, self._peak
        for k in self._track:
            if k not in low:
                frm[k] = np.nan
                peak[k] = 0.0
        cand = None
        for k in low:
            s = float(size[k])
            if frm[k] != frm[k] or s < peak[k] - RISE_DIP:          # not rising yet, or fell: a new rise
                frm[k], start[k], peak[k] = float(ts), s, s
            elif s > peak[k]:
                peak[k] = s
            if ts - frm[k] >= RISE_S and s >= RISE_GROWTH * start[k]:
                cand = [k] if cand is None else cand + [k]
        self._track = low
        self._rise_any = bool(low)
        if cand is None:
            return None
        self.far_left[cand] = self.window + 1
        self.far_sign[cand] = np.sign(departure[cand])
        self.far_size[cand] = size[cand]
        self.far_from[cand] = [frm[k] for k in cand]
        self._far_any = True
        out = np.zeros(self.on.size, bool)
        out[cand] = True
        return out

    def claim(self, spiked: np.ndarray, back_z, healthy: np.ndarray, held: Held, ts: float) -> np.ndarray | None:
        """The sensors whose spike this tick (`spiked`: the spike rule's decision, a jump its context
        did not share) ends a drift: far (track) within the last `window` ticks, and the residual
        (`back_z()`: against its own base, in the departure's spreads) back within half the limit.
        Their fault starts (`held.started`, the drift rule's Held) when the departure
        last passed half the limit. None when no sensor is."""
        if not self._far_any:
            return None
        cand = self.on & (self.far_left > 0) & spiked & healthy
        if not fnp.count_nonzero(cand):
            return None
        cand &= back_z() * self.far_sign <= 0.5 * self.limit
        if not fnp.count_nonzero(cand):
            return None
        for k in np.flatnonzero(cand):
            held.started(k, self.over_from[k] if np.isfinite(self.over_from[k]) else
                         self.far_from[k] if np.isfinite(self.far_from[k]) else ts)
        self.jumped_back |= cand
        self._back_any = True
        self.back_dep = fnp.where(cand, self.far_sign * self.far_size, self.back_dep)
        self.far_left[cand] = 0
        self.far_from[cand] = np.nan
        return cand

    def forget(self, other: np.ndarray) -> None:
        """A fault of another kind on the sensors of `other`: their jump-back record starts over (a
        drift after it starts after it), as the drift rule's rows settle. A sensor merely unseen keeps it."""
        if self._far_any or self._from_any:
            self.far_left[other] = 0
            self.over_from[other] = np.nan
            self.far_from[other] = np.nan
            self._from_any = bool(np.isfinite(self.over_from).any())
            self._far_any = bool(fnp.count_nonzero(self.far_left))
        if self._rise_any:
            for k in np.flatnonzero(other).tolist():
                self._from[k] = np.nan
            self._rise_any = any(v == v for v in self._from)

    def state(self) -> dict:
        return {"held": self.held.state(), "from": self.start.tolist(), "ramped": self.ramped.tolist(),
                "judged_run": self.judged_run.tolist(), "far_left": self.far_left.tolist(),
                "far_sign": self.far_sign.tolist(), "far_size": self.far_size.tolist(),
                "over_from": [None if np.isnan(v) else v for v in self.over_from.tolist()],
                "far_from": [None if np.isnan(v) else v for v in self.far_from.tolist()],
                "rise_from": [None if v != v else v for v in self._from],
                "rise_start": list(self._start), "rise_peak": list(self._peak)}

    def restore(self, state: dict) -> None:
        self.held.restore(state["held"])
        self.start[:] = state["from"]
        self.ramped[:] = state["ramped"]
        self._ramped_any = bool(self.ramped.any())
        # (a checkpoint from before the jump back's keys: nothing far, nothing judged yet)
        self.judged_run[:] = state.get("judged_run", 0)
        # (at most window + 1: a checkpoint written at another cadence counted other runs)
        self.far_left[:] = np.minimum(state.get("far_left", 0), self.window + 1)
        self.far_sign[:] = state.get("far_sign", 0.0)
        self.far_size[:] = state.get("far_size", 0.0)
        self.over_from[:] = [np.nan if v is None else v for v in state.get("over_from", [None] * self.over_from.size)]
        self._from_any = bool(np.isfinite(self.over_from).any())
        self._far_any = bool(fnp.count_nonzero(self.far_left))
        # (a checkpoint from before the rise: nothing rising)
        none = [None] * self.far_from.size
        self.far_from[:] = [np.nan if v is None else v for v in state.get("far_from", none)]
        n = self.far_from.size
        self._from = [np.nan if v is None else float(v) for v in state.get("rise_from", none)]
        self._start = [float(v) for v in state.get("rise_start", [0.0] * n)]
        self._peak = [float(v) for v in state.get("rise_peak", [0.0] * n)]
        self._track = [k for k in range(n) if self._from[k] == self._from[k] or self._peak[k] != 0.0]
        self._rise_any = any(v == v for v in self._from)
