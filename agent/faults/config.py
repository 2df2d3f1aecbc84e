"""The `faults:` section: how long each fault condition must last before a sensor is judged faulty.

Every duration is in seconds, not ticks, so one config reads the same at 1-s and 30-s ticks. A
condition that has held for n ticks has lasted n × tick_s; 0 decides on the first tick. Kept
apart from agent/config.py so that the fault rules and their keys are read together.

Every duration is at most LONGEST_S (30 days): past it a value is a typo, not a fault rule, and some crashed every
start while check-config said ok (review39: `flatline_s` or `drift_window_s` 1e300). `flatline_s` is held as a ring
of flatline_s / tick_s rows made at the start (`flatline_ring_bytes`): preflight refuses one past the host's memory,
as it does the warm-up's rows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..typed import doc, rng
from .holdback import ticks_of

LONGEST_S = 30 * 86_400.0      # every duration's upper bound: 30 days
FLAT_MIN_TICKS = 20            # a flatline is judged over at least this many ticks (stuck.py)


@dataclass
class FaultConfig:
    enabled: bool = doc("false: no fault rules, no masking, no hold-back", default=True)
    mask: bool = doc("a faulty sensor's readings are withheld from model and fallback", default=True)
    missing_s: float = rng(0, LONGEST_S, default=0.0,
                            doc="missing past the carry-forward bound this long")
    stuck_s: float = rng(0, LONGEST_S, default=90.0,
                          doc="the same value this long (longer for a sensor that often repeats)")
    flatline_s: float = rng(0, LONGEST_S, default=600.0,
                             doc="tick-to-tick change collapsed for this long…")
    flatline_ratio: float = rng(0.0, 1.0, default=0.02,
                                 doc="…below this share of its normal relative change")
    dead_s: float = rng(0, LONGEST_S, default=60.0,
                         doc="at its floor while its neighbours carry on")
    out_of_range_s: float = rng(0, LONGEST_S, default=0.0,
                                 doc="outside the sensor's configured min / max")
    implausible_s: float = rng(0, LONGEST_S, default=600.0,
                                doc="breaks a physical relation (corridor stations)")
    drift_s: float = rng(0, LONGEST_S, default=300.0,
                          doc="departed from its neighbours, they calm, this long")
    drift_window_s: float = rng(1, LONGEST_S, default=120.0,
                                 doc="half-life of the departure's running mean")
    drift_z: float = rng(1.0, None, default=6.0,
                          doc="departure from what its neighbours predict, in its normal spreads")
    drift_moved_alone: bool = doc("a loop station's broken relation with no mate judged (the first queue seen) blames "
                                  "the mate that moved against its neighbours alone", default=False)
    drift_jump_back: bool = doc("a loop station's relation, past half its limit, restored in one tick by one mate's "
                                "jump, or a sensor without one (the pump's), past the limit in the last 3 ticks or past "
                                "half of it for drift_s, jumping back onto what its neighbours predict: that sensor "
                                "was drifting (decided as it ends)", default=True)
    drift_station_hold: bool = doc("a loop station's relation past half its limit with no mate leaning its way: every "
                                   "mate is a drift candidate (alerts they drive alone wait)", default=True)
    drift_station_early: bool = doc("a loop station's relation past a quarter of its limit (not a step), a mate leaning "
                                    "its way or not: every mate is a drift candidate (the first morning's drifts; "
                                    "with drift_station_hold only)",
                                    default=True)
    drift_ramp_s: float = rng(0, LONGEST_S, default=600.0,
                               doc="a sensor without a station relation, past half drift_z with its context calm, its "
                                   "departure still growing (by a quarter), this long: a drift below drift_z (0: off)")
    drift_every_s: float = rng(0, LONGEST_S, default=0.0,
                                doc="judge drift only this often, on each sensor's mean of the readings since (0: every tick; its "
                                    "durations and counts stay in seconds): cheaper at short ticks, some drifts found later")
    spike_s: float = rng(0, LONGEST_S, default=0.0,
                          doc="a jump its neighbours do not share, this long (0: on the tick)")
    spike_z: float = rng(2.0, None, default=8.0,
                          doc="a jump: this many times the sensor's normal tick-to-tick change")
    clear_s: float = rng(0, LONGEST_S, default=60.0,
                          doc="a fault ends after its condition is gone this long (a whole source's outage: on its first "
                              "reading back)")
    holdback_s: float = rng(0, LONGEST_S, default=90.0,
                             doc="an alert driven by one suspect sensor waits this long")
    drift_holdback_s: float = rng(0, LONGEST_S, default=600.0,
                                   doc="an alert driven by one drift candidate waits this long (at least holdback_s)")
    lone_holdback_s: float = rng(0, LONGEST_S, default=0.0,
                                  doc="an alert driven by one sensor while all it moves with stay calm (or read what their "
                                      "neighbours predict) waits this long (at least holdback_s)")
    lone_corroborate: float = rng(0.0, 1.0, default=0.5,
                                   doc="a neighbour ends a lone driver's wait by scoring over this share of the threshold "
                                       "(not an echo, not reading what its own neighbours predict)")
    station_join_s: float = rng(0, LONGEST_S, default=300.0,
                                 doc="a sensor judged faulty this long after its station / machine mate's fault began "
                                     "joins that mate's page (a station fault, or a mate's lone fault), told by a "
                                     "fault_update of it, no new page (0: only mates judged on the same tick are one "
                                     "fault; a sensor the open fault stands for, judged again, joins it at any age)")
    learn_s: float = rng(0, LONGEST_S, default=3600.0,
                          doc="normal behaviour learned over about this long")

    def flatline_ticks(self, tick_s: float) -> int:
        """The rows of stuck's flatline ring (agent/faults/stuck.py): `flatline_s` in ticks, at least FLAT_MIN_TICKS."""
        return max(FLAT_MIN_TICKS, int(math.ceil(self.flatline_s / tick_s)))

    def flatline_ring_bytes(self, tick_s: float, sensors: int) -> int:
        """What that ring takes, made at the start (agent/faults/rule.py RecentMean: a float and two flags a
        sensor, three flag bytes a row)."""
        return self.flatline_ticks(tick_s) * (sensors * 10 + 3) if self.enabled else 0

    def hold_ticks(self, tick_s: float) -> int:
        """The longest an alert waits for a fault decision, in ticks (holdback.py)."""
        return ticks_of(max(self.holdback_s, self.drift_holdback_s, self.lone_holdback_s), tick_s)
