"""Each sensor of a model tier judged against its own calm tail (`scoring.sensor_tail_quantile`, corridor10/11).

Why: a model tier's tick score is the largest of its per-sensor scores, judged against one threshold.
That threshold sits where the noisiest sensors' normal tails end. On the corridor those are the speed
and occupancy detectors where the daily queue forms (a calm day's 99.9th percentile of their forecast
error is 8–23 residual units), while a flow detector's calm tail ends at about 4–5. A small incident's
queue that reaches only its own station moves that station's flow by 8–12 units for a quarter of an
hour — twice anything its flow does on a calm day — and stays under the one threshold of about 9.5
(corridor10's diagnosis, docs/measured/accuracy-corridor.md).

With q > 0, the warm-up's per-sensor scores (as the tier scores them live) give each sensor its calm
tail, tail[s] = the q-quantile of its scores under the cap (at least 1: a score of about 1 is ordinary);
live, each sensor's score is multiplied by gain[s] = median(tail) / tail[s], so every sensor's calm tail
ends at the same place, in units of the median sensor's. q = 0, the default: no gain, every score as before.

A warm-up is not clean (corridor10: the corridor bench's mixed schedule puts 13 labelled events in its
warm-up day), so two things keep its incidents out (corridor11):
- the tier's threshold is **not** re-fitted on the scaled warm-up: the median sensor keeps its scale
  (gain 1), so the bundle's calibrated threshold stays meaningful and the tier keeps it (corridor10
  re-fitted it there, and 13 events lifted it from 9.74 to 61.8);
- a sensor's warm-up score at or above the cap (the bundle's calibrated threshold: a tick the tier
  would call anomalous is not calm) does not count towards its tail, so an incident in the warm-up
  can lift a sensor's tail to the cap at most, never to the incident's size.

Opt-in, not adopted (corridor11's rule): it finds the mixed schedule's 5/5 and raises a fraction of the false
alarms (fresh seeds 1101–1130: 2 false-alarm events against the fallback's 101 and the shipped tier's 47), but
finds no more demand-gated queues than the fallback (177 = 177) even at an eightfold tier risk
(docs/measured/accuracy-corridor.md, the corridor11 round).
"""
from __future__ import annotations

import numpy as np

#: A calm tail is at least this: a sensor whose warm-up scores were all near 0 (a flat reading) is not
#: multiplied by hundreds.
TAIL_FLOOR = 1.0


def tail_gains(scores: np.ndarray, missing: np.ndarray, quantile: float, cap: float = np.inf) -> np.ndarray:
    """(N,) gain per sensor from warm-up per-sensor scores (n, N) (`missing`: ticks that do not count,
    nor does a score ≥ `cap`): median(tail) / tail, tail the `quantile` of each sensor's counted
    scores, floored at TAIL_FLOOR (a sensor with no counted tick gets the floor)."""
    scores = np.asarray(scores, np.float64)
    scores = np.where(np.asarray(missing, bool) | (scores >= cap), np.nan, scores)
    counted = np.isfinite(scores).any(axis=0)
    tail = np.full(scores.shape[1], TAIL_FLOOR)
    if counted.any():
        tail[counted] = np.nanquantile(scores[:, counted], quantile, axis=0)
    tail = np.maximum(tail, TAIL_FLOOR)
    return float(np.median(tail)) / tail


__all__ = ["TAIL_FLOOR", "tail_gains"]
