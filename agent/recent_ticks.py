"""The plant's recent calm ticks, kept so that a hot-swapped bundle is prepared as one given at start.

Why: with `scoring.profile` on, a bundle given at start gets this plant's normal profile and its own
threshold from the warm-up's ticks (agent/pipeline_fit.py `end_warmup`). A bundle swapped in later
(agent/hotswap.py) has no warm-up; without these ticks it ran raw — no profile, the bundle's own
threshold — until the next restart (swap1: on SKAB the raw forecaster tier, F1 0.40), and its shadow
compared a raw score with the running tier's profiled one. So the pipeline keeps its newest ticks,
normalised, as long as its warm-up was (at most MAX_TICKS), and a candidate's profile is fitted on them.

Learn only when calm: a tick the detector did not learn from (`Decision.calm`, the rule the models
learn by) is kept with every sensor missing, so the profile is never fitted on an anomaly and its
score does not enter the candidate's threshold (the calibration keeps the calm ticks only); the
ring stays in time order so the model's windows over it are the windows it saw.

Kept only when a profile is configured (a demo without one pays nothing). Memory: capacity ×
(4·n + n + 9) bytes — SKAB (8 sensors, a 400-row warm-up of ≤ 500 ticks): ~25 KiB; the cap, 20,000
ticks of 50 sensors: ~5 MiB.

Checkpointed with the rest of the pipeline (`state_dict` / `restored`; swap2): without it a candidate
that arrived after a restart, before `profile.min_ticks` calm ticks, fitted no profile — on SKAB the raw
forecaster tier again until the next restart. A checkpoint without the ring (written before it was
kept) restores an empty one, which fills from live ticks; a ring that does not fit the agent (another
sensor count, ticks after the checkpoint's last) is refused, said, and left empty, the rest of the state
restored (agent/pipeline_state.py `restored_recent`).

In time order always: a tick at or before the ring's newest (live data that a warm-up history stamped
ahead of it, user12's local-time export) moves the kept ticks back to one step before it, said once
(`push`); before, the ring went out of order and the restart refused it whole. A checkpoint written
then is put in order the same way at the restore (qa32).
"""
from __future__ import annotations

import logging

import numpy as np

from .alerts import iso
from .checkpoint import array_of

log = logging.getLogger("stad.pipeline")     # (the ring is the pipeline's)

MAX_TICKS = 20_000      # a day-long warm-up on a 1-s tick would be 86,400: the profile needs ~min_ticks


class RecentTicks:
    """A ring of the newest `capacity` ticks: normalised values (float32), missing, calm, ts."""

    #: Moved with the rest of the learned state's times (agent/time_shift.py shift_times: a step of this host's
    #: clock, a step back of the data), so the kept ticks stay in time order with the new ones.
    TIME_FIELDS = ("ts",)

    def __init__(self, capacity: int, n: int):
        self.capacity = max(1, min(int(capacity), MAX_TICKS))
        self.z = np.zeros((self.capacity, n), np.float32)
        self.missing = np.ones((self.capacity, n), bool)
        self.calm = np.zeros(self.capacity, bool)
        self.ts = np.full(self.capacity, np.nan)
        self.head = 0           # where the next tick goes
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def push(self, z: np.ndarray, missing: np.ndarray, ts: float, calm: bool) -> None:
        if self.count and not ts > self.ts[self.head - 1]:
            newest = float(self.ts[self.head - 1])
            moved = self._move_back_before(ts)
            log.warning("tick %s is before the warm-up's last, %s (a warm-up history stamped ahead of the live "
                        "data: exported in local time while the sender stamps UTC?): the recent ticks kept for a "
                        "hot swap moved %.0f s back to stay in time order", iso(ts), iso(newest), moved)
        h = self.head
        self.z[h] = z
        self.missing[h] = missing
        if not calm:
            self.missing[h] = True
        self.calm[h] = calm
        self.ts[h] = ts
        self.head = (h + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def extend(self, z: np.ndarray, missing: np.ndarray, ts: np.ndarray) -> None:
        """Ticks taken as calm (the warm-up's: the same assumption a start makes), oldest first."""
        for zr, m, t in zip(z[-self.capacity:], missing[-self.capacity:], ts[-self.capacity:]):
            self.push(zr, m, float(t), True)

    def _move_back_before(self, ts: float) -> float:
        """Move every kept tick back so that the newest is one of their steps before `ts`; the seconds moved.
        Why: the ring must stay in time order (the model's windows over it, the checkpoint's check), and a
        tick at or before the ring's newest is one of live data the warm-up's history was stamped ahead of
        — what the ring holds is still this plant's calm ticks, only on another clock (as a step back of
        the data's time base moves them: agent/time_shift.py shift_times)."""
        order = np.arange(self.head - self.count, self.head) % self.capacity
        moved = float(self.ts[order[-1]]) - ts + usual_step(self.ts[order])
        self.ts[order] -= moved
        return moved

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Copies of (z, missing, ts, calm), oldest first: what a candidate is fitted on, off the tick thread."""
        order = np.arange(self.head - self.count, self.head) % self.capacity
        return self.z[order], self.missing[order], self.ts[order], self.calm[order]

    def state_dict(self) -> dict:
        """The ring as the checkpoint keeps it: its capacity and its ticks, oldest first (only those held)."""
        z, missing, ts, calm = self.snapshot()
        return {"capacity": self.capacity, "z": z, "missing": missing, "ts": ts, "calm": calm}

    @classmethod
    def restored(cls, state: dict, n: int, last_ts: float) -> RecentTicks:
        """A ring from state_dict() for `n` sensors whose newest tick is at most `last_ts` (the
        restored window's); ValueError (or KeyError / TypeError) naming the key when it does not fit."""
        capacity = state["capacity"]
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= MAX_TICKS:
            raise ValueError(f"recent.capacity: {capacity!r} is not a tick count from 1 to {MAX_TICKS}")
        ring = cls(capacity, n)
        z, missing, ts, calm = read_ticks(state, "recent", n)
        ts, places = in_time_order(ts)
        if places:              # (written before `push` kept the ring in order: user12's state_dir)
            log.warning("checkpoint: its recent ticks were out of time order at %d place(s) (a warm-up history "
                        "stamped ahead of the live data): the older ticks moved back before the newer, all %d kept",
                        places, len(ts))
        checked_ticks((z, missing, ts, calm), "recent", last_ts, 0, capacity)
        k = len(ts)
        ring.z[:k], ring.missing[:k], ring.ts[:k], ring.calm[:k] = z, missing, ts, calm
        ring.head, ring.count = k % ring.capacity, k
        return ring

    @property
    def nbytes(self) -> int:
        return self.z.nbytes + self.missing.nbytes + self.calm.nbytes + self.ts.nbytes


def in_time_order(ts: np.ndarray) -> tuple[np.ndarray, int]:
    """Checkpointed tick times put in time order: at each place a tick is at or before the one before it, every
    older tick moved back to one of their usual steps before it (newest first); (the times, the places moved).
    Why: ticks kept across a warm-up history stamped ahead of the live data (a local-time export) are this
    plant's ticks on another clock, not ticks to refuse (qa32)."""
    places = int(np.sum(np.diff(ts) <= 0)) if np.isfinite(ts).all() else 0
    if not places:
        return ts, 0
    ts = ts.copy()
    step = usual_step(ts)
    for i in range(len(ts) - 1, 0, -1):     # newest first: each older run moved back before the newer
        if not ts[i] > ts[i - 1]:
            ts[:i] -= ts[i - 1] - ts[i] + step
    return ts, places


def usual_step(ts: np.ndarray) -> float:
    """The median of the steps forward between tick times (1 s when there is none)."""
    steps = np.diff(ts)
    return float(np.median(steps[steps > 0])) if (steps > 0).any() else 1.0


def read_ticks(state: dict, name: str, n: int) -> tuple:
    """(z, missing, ts, calm) of a checkpointed run of ticks (the recent ring's, a standby's kept warm-up:
    agent/scorers/standby.py) for `n` sensors, each read once (the times first: a caller puts them in order,
    `in_time_order`, before `checked_ticks`); ValueError (or KeyError) naming `name`'s key when one is no array
    of its shape."""
    ts = array_of(state["ts"], f"{name}.ts", np.float64, 1)
    z = array_of(state["z"], f"{name}.z", np.float32, 2, n)
    missing = array_of(state["missing"], f"{name}.missing", bool, 2, n)
    calm = array_of(state["calm"], f"{name}.calm", bool, 1)
    return z, missing, ts, calm


def checked_ticks(ticks: tuple, name: str, last_ts: float, least: int, most: int) -> tuple:
    """`ticks` (read_ticks) as they are, when they fit: `least` to `most` rows of each, times increasing up to
    `last_ts` (the restored window's last tick); ValueError naming `name`'s key when they do not."""
    z, missing, ts, calm = ticks
    k = len(ts)
    if not len(z) == len(missing) == len(calm) == k or not least <= k <= most:
        raise ValueError(f"{name}: {len(z)}, {len(missing)}, {k} and {len(calm)} rows of z, missing, ts and calm "
                         f"({least} to {most}, as many of each)")
    if k and not (np.isfinite(ts).all() and (np.diff(ts) > 0).all() and ts[-1] <= last_ts):
        raise ValueError(f"{name}.ts: not increasing tick times up to the checkpoint's last tick")
    return ticks
