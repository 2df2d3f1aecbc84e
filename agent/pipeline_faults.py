"""Sensor faults and the alerts, on a tick: what an open alert hears of the faults raised and ended, and
what the tick's score would have been without a faulty sensor.

Why this is a seam of the pipeline (agent/pipeline.py): the fault tracker (agent/faults) and the alert
tracker (agent/alerts.py) each keep their own state, and the tick is where they meet — an alert that opened
on a sensor later found faulty is re-judged without it (faults4), and one open when a fault is raised or
ends hears of it. These are the two ways they meet, given only the parts they read.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .alerts import AlertTracker
    from .faults.events import FaultEvent
    from .faults.tracker import FaultTracker
    from .scorers.base import TickScore
    from .scorers.numpy_fallback import NumpyScorer


def tell_alert(tracker: AlertTracker, faults: list[FaultEvent], louder: list[FaultEvent] = ()) -> None:
    """The alerts hear of each sensor fault raised or ended on this tick (AlertTracker.fault_raised,
    fault_ended) — not of a silence raised (a `source` fault, a `missing` sensor, a station all of whose sensors
    are missing): a sensor with no reading scores 0, so its silence cannot be what an alert was about; an alert
    whose drivers fall silent is held, and ends `no_data` if the silence lasts (AlertTracker's no data).
    `louder` (faults/station.py `take_louder`): a silence a mate joined this tick untold with a kind of its own
    (a `stuck` joining a `missing`), raised to the alerts now — untold, it re-judged no alert (review26). Every
    end is told: it clears only a fault the alerts hold (one made louder ends under its silent kind)."""
    for f in faults:
        if f.event == "fault_end":
            tracker.fault_ended(f.fault_id)
        elif f.event == "fault" and not f.silent():   # (a fault_update: its join reached the alerts by `louder`)
            tracker.fault_raised(f)
    for f in louder:
        tracker.fault_raised(f)


def rejudged(result: TickScore, fault_id: str, health: FaultTracker, fallback: NumpyScorer) -> float:
    """The tick's worst sensor score with the sensors faulty under `fault_id` left out (a station fault's every
    one, mates that joined a lone fault: faults6) and, when the fallback scored it, their mates' fusion part too:
    fusion predicts each of them from the mean of its neighbours with weights learned on all of them, so with one
    masked it predicts from a relation it never learned (faults4). A fault no longer open (its end unseen: a restart;
    an alert journal's fault from a run with other sensors) leaves the score as it is."""
    out = [i for i, held in enumerate(health.ids) if held == fault_id]
    if not out:
        return float(result.score)
    s = np.nan_to_num(np.array(result.sensor_scores, float), nan=0.0)
    s[out] = 0.0
    if result.tier == "numpy":
        # np.setdiff1d's set, sorted, without the import of numpy.ma its np.unique makes (~1.3 MiB, perf62)
        mates = np.array(sorted({int(j) for i in out for j in health.ctx.context[i]} - set(out)), dtype=np.intp)
        s[mates] = np.maximum(s[mates] - fallback.fusion_part[mates], 0.0)
    return float(s.max()) if s.size else 0.0


def judged_at(threshold: float, discord: float | None) -> float:
    """The threshold an alert about to open was judged against (the fault hold-back asks which sensors
    pass it): the tier's (`threshold`), or the discord path's level when that is lower."""
    return threshold if discord is None else min(threshold, discord)


def unheard(names: list[str], index: dict[str, int], arrived_missing: np.ndarray, health: FaultTracker) -> str | None:
    """Whether one of these sensors is not judged on this tick (AlertTracker's no data): "silent" when no reading
    arrived (`arrived_missing`: the row before the mask) or it is in a `missing` fault (masked until that clears,
    though readings are back), "settling" when it is just back from a fault (its score held at 0 until its gap
    leaves the window), else None. A sensor in another fault (stuck, spike, ...) is heard: its readings arrive and
    are judged wrong, which the sensor-fault end deals with."""
    why = None
    for i in map(index.__getitem__, names):
        if arrived_missing[i] or health.kind[i] == "missing":
            return "silent"
        if health.reentry[i]:
            why = "settling"
    return why
