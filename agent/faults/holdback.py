"""Hold-back: an alert that would open with one suspect or lone sensor as its only driver waits.

A sensor fault shows in the scores before the fault rules can decide (a dead detector is one
tick old when its score first crosses the threshold; deciding takes `dead_s`). Opening an
incident then would send a patrol for a broken loop. The drivers of an alert are the sensors
whose own score is above the threshold (the tick score is the worst sensor's). When an alert is
about to open, it waits — for at most `faults.holdback_s` — if its top driver is a suspect:

- a pending fault candidate (a rule's condition holds, not yet long enough) or already faulty, or
- alone: every sensor it should move with (neighbours, station / machine mates) is calm (score
  at most `lone_corroborate` × the threshold), an echo of it (at most ECHO × its own score: the fusion scorer
  lends a neighbour part of a broken sensor's residual), or fits what its own neighbours predict
  (the drift rule's departure judged and under half `drift_z`: they agree with each other),

and every other driver is a suspect too or such an echo. If the sensor is judged faulty
meanwhile, it is masked, the score falls and the alert never opens; otherwise it opens with its
true start (its first tick above the threshold), only later — if the score is still above the
threshold then: an exceedance that falls back during the wait is not opened late. An incident
moves several sensors of a station together and spreads to its neighbours, so it is seldom held;
when it is, the cost is up to the wait of time to detect, or (a short exceedance that falls
back while held) the detection waits for the incident's next one (bench/faults.py measures it).

How long it waits is the longest that applies:
- a suspect, `holdback_s` (most faults are decided in a few ticks);
- a lone driver, suspect or not, `lone_holdback_s`: the spatial test. An incident spreads (a queue
  grows upstream, cavitation moves several pump sensors); a fault stays on its sensor. The wait
  ends as soon as a neighbour corroborates — scores over `lone_corroborate` × the threshold without
  fitting its own neighbours' prediction — and the alert opens at once. The code's 0.5 lets a mate
  that moves part way corroborate (the pump's cavitation: on the simulator's pump a bar at the
  threshold lost 32 of 464 incidents). On a road, traffic the scorers have not seen (the first
  morning queue) lifts every detector to half the threshold or more, its neighbour models off too,
  and a drifting detector's alert then opened alone: configs/roadside.yaml asks a neighbour to
  cross the threshold itself, 1.0 (README "Sensor faults, measured", "Corroboration over the
  threshold");
- a drift candidate (drift.py: departed past half the limit while its context stays calm, or twice
  as far as any of it), `drift_holdback_s`: a drift takes `drift_s` after its departure passes
  `drift_z` to decide, and the scorers see it long before. Its other drivers corroborate it only if
  they do not fit their own neighbours (at rush hour a neighbour in the morning traffic crosses
  the threshold while its reading is what its neighbours predict).
"""
from __future__ import annotations

import math

import numpy as np

ECHO = 0.35


def ticks_of(seconds: float, tick_s: float) -> int:
    """A wait in seconds as whole ticks, rounded up (a float's rounding error is not one more tick)."""
    return math.ceil(seconds / tick_s - 1e-9)


class HoldBack:
    """Whether an alert about to open waits, and for how long the current wait has lasted."""
    TIME_FIELDS = ("last",)   # seconds on the time base (agent/timebase.py)

    def __init__(self, tick_s: float, holdback_s: float, drift_holdback_s: float, lone_holdback_s: float,
                 corroborate: float):
        self.tick_s = tick_s
        self.corroborate = corroborate     # a neighbour over this × the threshold is not calm
        self.ticks = ticks_of(holdback_s, tick_s)
        self.drift_ticks = ticks_of(max(drift_holdback_s, holdback_s), tick_s)
        self.lone_ticks = ticks_of(max(lone_holdback_s, holdback_s), tick_s)
        self.run = 0                 # ticks the current wait has lasted
        self.last = -math.inf        # the last tick it waited

    def hold(self, ts: float, scores: np.ndarray, threshold: float, context: list[np.ndarray],
             suspect: np.ndarray, drift_candidate: np.ndarray, fits: np.ndarray,
             observed: np.ndarray | None = None) -> bool:
        """Wait on this tick? `suspect[i]`: a pending candidate or faulty; `drift_candidate[i]`: a
        pending drift; `fits[i]`: sensor i's reading fits what its neighbours predict (drift.py);
        `observed[i]`: i's reading came this tick (None: every one did). A tick whose top driver's
        reading did not come (carried forward) is waited without being counted: no rule counts it
        either (a frozen value re-sent late on a tenth of its ticks is `stuck` that much later: the
        wait ran out first and the alert opened a few ticks before the fault; faults3).
        Called once per tick on which an alert would open."""
        top, alone = held_driver(scores, threshold, context, suspect, drift_candidate, fits, self.corroborate)
        if top < 0:
            return False
        counted = 1 if observed is None or observed[top] else 0
        run = self.run + counted if ts - self.last <= 1.5 * self.tick_s else 1
        cap = max(self.drift_ticks if drift_candidate[top] else self.ticks, self.lone_ticks if alone else 0)
        if run > cap:
            return False
        self.run, self.last = run, ts
        return True


def held_driver(scores: np.ndarray, threshold: float, context: list[np.ndarray], suspect: np.ndarray,
                drift_candidate: np.ndarray, fits: np.ndarray, corroborate: float) -> tuple[int, bool]:
    """The top driver of an alert that should wait for the fault decision (-1 if it should not), and
    whether it is a lone driver. `context[i]`: indices that move with sensor i; `suspect[i]`: a
    pending candidate or faulty; `drift_candidate[i]`: a pending drift; `fits[i]`: i's reading
    fits what its own neighbours predict; a neighbour over `corroborate` × the threshold is not calm."""
    s = np.nan_to_num(np.asarray(scores, float), nan=0.0)
    drivers = np.flatnonzero(s > threshold)
    if drivers.size == 0:
        return -1, False
    top = int(drivers[np.argmax(s[drivers])])
    echoes = set(int(j) for j in context[top] if s[j] <= ECHO * s[top])
    # Without neighbours or mates nothing can disagree with it: only the rules can suspect it.
    alone = context[top].size > 0 and all(j in echoes or s[j] <= corroborate * threshold or fits[j]
                                          for j in context[top].tolist())
    if not (suspect[top] or alone):
        return -1, False
    # A drift candidate's other drivers corroborate it only if they do not fit their own neighbours.
    excused = fits if drift_candidate[top] else np.zeros(s.size, bool)
    if all(i == top or suspect[i] or i in echoes or excused[i] for i in drivers.tolist()):
        return top, alone
    return -1, False
