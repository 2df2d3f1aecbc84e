"""standstill: one rule for "this loop station's traffic stands still", read by `dead` and `stuck`.

In a standstill queue a live loop reads its speed and flow at the floor (0) while its station's occupancy stands
far over its normal level: that is traffic, not a broken loop. user24 gave `dead` this exception (a strong
incident's queue was paged as dead speed and flow loops); user27 met the same queue paged as `stuck`
(`the same value 0 for 150 s` at K020 during the incident). One rule, here, for both: a station's speed or flow
(the corridor naming: its station's mates by quantity) whose station's occupancy, read, healthy and learned, is
over JAM times its normal level.
"""
from __future__ import annotations

import numpy as np

from .rule import Tick

JAM = 3.0                # a station's occupancy over this many times its normal level: its traffic stands still


class Standstill:
    """Which of a tick's speed / flow sensors belong to a station whose occupancy says its traffic stands still."""

    def __init__(self, ctx):
        pairs = [(i, ctx.station(i)["occ"]) for i in range(ctx.n)
                 if ctx.quantities[i] in ("speed", "flow") and "occ" in ctx.station(i)]
        self.occupancy_of = dict(pairs)
        self.moving = np.array([i for i, _ in pairs], np.intp)       # speed / flow sensors with an occupancy
        self.occ = np.array([o for _, o in pairs], np.intp)          # … and their station's occupancy

    def at(self, i: int, t: Tick) -> bool:
        """Sensor i is a station's speed or flow and its station's occupancy stands over JAM × its normal level."""
        occ = self.occupancy_of.get(i)
        return occ is not None and bool(_jammed(np.array([occ], np.intp), t)[0])

    def among(self, cand: np.ndarray, t: Tick) -> np.ndarray:
        """The sensors of mask `cand` at a standstill (`at`, every one at once): a new mask, all False when
        the config has no loop station."""
        out = np.zeros(cand.size, bool)
        if not self.moving.size:
            return out
        pick = cand[self.moving]
        if not pick.any():
            return out
        out[self.moving[pick]] = _jammed(self.occ[pick], t)
        return out


def _jammed(occ: np.ndarray, t: Tick) -> np.ndarray:
    """Per occupancy sensor in `occ`: read, healthy, learned, and over JAM × its normal level (> 0)."""
    mean = t.normal.mean[occ]
    with np.errstate(invalid="ignore"):
        return t.observed[occ] & t.healthy[occ] & t.normal.learned[occ] & (mean > 0) & (t.x[occ] > JAM * mean)
