"""dead: reads its floor (0, or the configured `floor` / `min`) for `dead_s` while the sensors it
should move with — topology neighbours and its station / machine mates — carry on above theirs.

A detector that normally sits at its floor (a quiet road at night, a stopped pump) is never
judged dead: it must have been seen live (rarely at its floor), and most of its observed,
healthy context must say otherwise. A loop station's speed or flow at its floor while the station's
occupancy reads over JAM × its normal level is a standstill queue, not a dead channel (user24: a strong
incident's queue was paged as dead speed and flow loops at every jammed station, and masked; the rule is
standstill.py's, `stuck`'s too). Once judged dead it stays so while it reads its floor: its context is needed to
judge it, not to keep it (faults14: before, a dead pressure transmitter's fault ended `cleared` a minute after its
pump stopped — its mates at their floor too, no witness — and, learned as normal at its floor since, it was never
paged again when the pump ran). Check on site: the loop / sensor circuit (open loop, cut
feeder), the detector card or transmitter power, the input channel.
"""
from __future__ import annotations

import numpy as np

from .config import FaultConfig
from .rule import Held, Tick, names_values
from .standstill import Standstill

AT_FLOOR = 0.01          # within this share of its normal level above the floor: "at the floor"
LIVE = 0.2               # a neighbour above its floor by this share of its normal level is live
USUALLY_AT_FLOOR = 0.05  # a sensor at its floor more often than this when healthy is never dead


class Dead:
    KIND = "dead"
    quiet_on = "at_floor"       # (rule.rule_quiet: no sensor at its floor and nothing held is the calm below)

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        self.required_s = cfg.dead_s
        self.held = Held(ctx.n, tick_s)
        self.live_context = [[] for _ in range(ctx.n)]
        self.standstill = Standstill(ctx)     # (at a standstill a station's speed and flow sit at their floor)

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        ctx, normal = t.ctx, t.normal
        level, above = t.level, t.above
        at_floor = t.at_floor           # observed & above <= AT_FLOOR × level (the tracker's, once a tick)
        if self.held.calm(at_floor):
            return self.held.nothing, self.held.nothing
        usually_live = normal.learned & (normal.at_floor < USUALLY_AT_FLOOR) & (level > 0)
        cond = np.zeros(ctx.n, bool)
        suspects = np.flatnonzero(at_floor & usually_live)
        if suspects.size:       # the neighbours' liveness is needed only for a sensor at its floor
            with np.errstate(invalid="ignore"):
                live = t.observed & t.healthy & normal.learned & (above > LIVE * level) & (level > 0)
        for i in suspects:
            if self.standstill.at(i, t):
                continue
            c = ctx.context[i]
            seen = c[t.observed[c] & t.healthy[c]]
            n_live = int(live[seen].sum())
            self.live_context[i] = list(seen[live[seen]])
            cond[i] = n_live >= 1 and 2 * n_live >= seen.size
        t.keep_judged(cond, self.KIND, at_floor)       # judged dead: so while it reads its floor, its context live or not (faults14)
        lasted = self.held.update(cond, t.observed, t.ts)
        return cond, cond & (lasted >= max(self.required_s, 1e-9))

    def evidence(self, i: int, t: Tick) -> dict:
        return {"summary": f"reads {t.x[i]:g} (its floor) while "
                           f"{', '.join(t.ctx.names[j] for j in self.live_context[i])} carry on",
                "value": round(float(t.x[i]), 4), "floor": float(t.ctx.floor[i]),
                "normal_level": round(float(t.normal.mean[i]), 4),
                "neighbours": names_values(t, self.live_context[i])}
