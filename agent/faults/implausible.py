"""implausible: a loop-detector station's readings break the physics that ties them together,
for `implausible_s`:

- flow > 0 with occupancy at its floor: vehicles are counted but never occupy the loop — the
  occupancy channel is suspect;
- speed > 0 with flow at its floor: speeds are measured but no vehicle is counted — the flow
  (count) channel is suspect.

It applies to every station (group) that has sensors named `<group>_flow`, `_occ`, `_speed`
(the corridor naming), whatever the topology; others have no relation to check. The default
duration is long: an empty road at night can legitimately hold a last speed for a while.
Once judged, the suspect stays implausible while it reads its floor, whatever its witness reads: an empty road
(flow and speed at theirs too) says nothing of it (faults14: before, its fault ended `cleared` as the road emptied,
and it was paged again when traffic came back). Check on site: the loop pair / channel assignment of the suspect measure, the detector card's
occupancy or count output, a mis-wired lane.
"""
from __future__ import annotations

import numpy as np

from .. import fastnp as fnp
from .config import FaultConfig
from .rule import Held, Tick

SOME = 0.05      # a reading above its floor by this share of its normal level is "> 0"


class Implausible:
    KIND = "implausible"

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        self.required_s = cfg.implausible_s
        self.held = Held(ctx.n, tick_s)
        # (witness, suspect, relation) triples: witness > 0 while suspect at its floor.
        self.pairs: list[tuple[int, int, str]] = []
        for i in range(ctx.n):
            if ctx.quantities[i] not in ("occ", "flow"):
                continue
            station = ctx.station(i)
            if ctx.quantities[i] == "occ" and "flow" in station:
                self.pairs.append((station["flow"], i, "flow > 0 with occupancy at its floor"))
            if ctx.quantities[i] == "flow" and "speed" in station:
                self.pairs.append((station["speed"], i, "speed > 0 with flow at its floor"))
        self.witness = np.array([p[0] for p in self.pairs], int)
        self.suspect = np.array([p[1] for p in self.pairs], int)
        self.relation = {}
        # (rule.rule_quiet: nothing held and no pair, or no sensor at its floor, is the calm below)
        self.quiet_on = "always" if not self.pairs else "at_floor"

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        ctx, normal = t.ctx, t.normal
        none = t.at_floor         # may be suspect: at its floor (dead.AT_FLOOR, the tracker's mask)
        # No sensor at its floor (or no pair to witness one: a skid), nothing held: nothing broken
        if self.held.idle and (not self.pairs or not fnp.count_nonzero(none)):
            return self.held.nothing, self.held.nothing
        cond = np.zeros(ctx.n, bool)
        if self.pairs:
            w, v = self.witness, self.suspect
            above, level = t.above, t.level
            some = t.observed & normal.learned & (above > SOME * level)           # may witness
            broken = some[w] & none[v]
            cond[v[broken]] = True
            for k in np.flatnonzero(broken):
                witness, suspect, relation = self.pairs[k]
                self.relation[suspect] = (witness, relation)
        t.keep_judged(cond, self.KIND, none)       # judged implausible: so while it reads its floor, its witness > 0 or not (faults14)
        lasted = self.held.update(cond, t.observed, t.ts)
        return cond, cond & (lasted >= max(self.required_s, 1e-9))

    def evidence(self, i: int, t: Tick) -> dict:
        witness, relation = self.relation[i]
        return {"summary": f"{relation}: {t.ctx.names[witness]} {t.x[witness]:g}, {t.ctx.names[i]} {t.x[i]:g}",
                "value": round(float(t.x[i]), 4), "witness": t.ctx.names[witness],
                "witness_value": round(float(t.x[witness]), 4)}
