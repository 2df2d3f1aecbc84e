"""The corridor simulator's demand-gated incident queue (`incident_queue: demand`, corridor8).

Why it exists: the default incident (`incident_queue: always`) congests the stations upstream of a
capacity drop whatever the traffic, one station per 240 s, so even a drop of 0 % at night made a
queue-like rise in occupancy (corridor7 found 51–52 of 90 "incidents" at magnitude 0). Magnitude then
graded a queue's depth, not whether there was one, and the simulator could not ask which detector
finds incidents that are barely there.

Here, as in the LWR / cell-transmission model, a drop to `q_left` veh/h/lane makes a queue only while
the flow arriving exceeds it. The queue is a congested stretch upstream of the incident with flow
`q_left` and density `k_cong` (the congested branch). Its tail moves upstream at the shock speed
`(q_up − q_left) / (k_cong − k_up)` set by the arriving flow `q_up` (free-flow density `k_up`), so it
grows while demand exceeds `q_left` and shrinks from the back when demand falls below it. When the
drop ends the queue discharges at capacity: its front moves upstream at the congested-branch wave
speed W until it meets the tail. Downstream is starved to `q_left` only while the drop lasts and
there is a queue. A drop that never meets a demand above it leaves no trace in the data.

The trajectory is integrated once per incident, when the schedule creates it (the demand is a
function of the clock and the seed), so the simulator knows from the start when the queue clears
(the label's end) and whether it formed at all (`QueueTrace.formed`), and each block of ticks reads
it by interpolation, whatever the tick.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEP_S = 10.0               # integration step: a shock at 16 km/h moves 5 % of a station spacing
LIMIT_S = 12 * 3600.0       # a queue still there this long after the drop started is cut (never seen)
# A detector reads the stretch of half a spacing upstream of it: the share of that stretch inside the
# queue is how far its density has moved to the queue's.
ZONE = 0.5


@dataclass
class QueueTrace:
    """One incident's queue: its tail and front, km upstream of the incident, on a grid of times."""
    t: np.ndarray           # seconds after the simulation start, from the incident's start
    tail_km: np.ndarray     # the queue's upstream end (0: no queue)
    head_km: np.ndarray     # its downstream end: 0 while the drop lasts, then moving upstream at W
    end: float              # when its last trace left the data (≥ the drop's end)
    formed: bool            # whether any queue formed
    longest_km: float
    queue_s: float          # seconds with a queue of any length

    def at(self, elapsed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tail, head) at each time; no queue before or after the trace."""
        inside = (elapsed >= self.t[0]) & (elapsed <= self.t[-1])
        tail = np.where(inside, np.interp(elapsed, self.t, self.tail_km), 0.0)
        head = np.where(inside, np.interp(elapsed, self.t, self.head_km), 0.0)
        return tail, head

    def cover(self, elapsed: np.ndarray, upstream_km: np.ndarray, spacing_km: float) -> np.ndarray:
        """(T, S): the share of each station's detector zone (ZONE × spacing upstream of it) inside
        the queue; stations downstream of the incident (negative distance) are never in it."""
        tail, head = self.at(elapsed)
        zone = ZONE * spacing_km
        lo, hi = upstream_km[None, :], upstream_km[None, :] + zone
        inside = np.minimum(tail[:, None], hi) - np.maximum(head[:, None], lo)
        return np.where(upstream_km[None, :] >= 0, np.clip(inside / zone, 0.0, 1.0), 0.0)

    def queued(self, elapsed: np.ndarray) -> np.ndarray:
        tail, head = self.at(elapsed)
        return tail > head


def trace_queue(start: float, duration: float, station: int, spacing_km: float, upstream, q_left,
                congested_density, wave_kmh) -> QueueTrace:
    """Integrate one incident's queue from `start`.

    upstream(elapsed) → (flows, densities), each (steps, stations): the traffic arriving at each
    station without the incident (per lane); q_left(elapsed), wave_kmh(elapsed) → (steps,) the remaining
    capacity per lane and the wave speed W; congested_density(q, elapsed): the congested branch
    (weather included). The tail's arriving traffic is that of the first station upstream of it (the
    incident's own station's while there is no queue; the first station's once the tail is beyond
    the corridor)."""
    t = start + np.arange(0.0, LIMIT_S + STEP_S, STEP_S)
    (flows, k_up), left, wave = upstream(t), q_left(t), wave_kmh(t)
    k_cong = congested_density(left, t)
    drop_ends = start + duration
    tail = head = 0.0
    tails, heads = np.zeros(t.size), np.zeros(t.size)
    last = t.size - 1
    for i in range(t.size - 1):
        on = t[i] < drop_ends
        j = max(0, station - int(np.ceil(tail / spacing_km - 1e-9)))
        q_up = flows[i, j]
        if tail > head or (on and q_up > left[i]):
            tail += STEP_S / 3600.0 * (q_up - left[i]) / max(k_cong[i] - k_up[i, j], 1.0)
            head = 0.0 if on else head + STEP_S / 3600.0 * wave[i]
            if tail <= head:            # cleared: from the back (demand fell) or the front met the tail
                tail = head = 0.0
        tails[i + 1], heads[i + 1] = tail, head
        if not on and tail <= head:
            last = i + 1
            break
    t, tails, heads = t[:last + 1], tails[:last + 1], heads[:last + 1]
    queued = tails > heads
    # The label lasts as long as the drop, and beyond while the queue (or its front's last zone) is there.
    clear = t[np.flatnonzero(queued)[-1] + 1] if queued.any() else start
    release_s = ZONE * spacing_km / float(np.min(wave)) * 3600.0
    end = max(drop_ends, clear + release_s if queued.any() else drop_ends)
    return QueueTrace(t=t, tail_km=tails, head_km=heads, end=float(min(end, t[-1] + release_s)),
                      formed=bool(queued.any()), longest_km=float(np.max(tails - heads, initial=0.0)),
                      queue_s=float(queued.sum() * STEP_S))


__all__ = ["QueueTrace", "trace_queue"]
