"""One tick over the threshold that its own station confirms opens the alert at once (`alerts.station_factor`).

Why (corridor27, docs/measured/accuracy-corridor.md): the queued incidents only the fallback finds on the corridor are
tiny queues that a model tier sees at the incident's own station for one tick, which `alerts.min_duration_ticks`
holds. What tells them from a calm tick over the threshold is *where* the excursion is: at the incident's station a
second quantity moves with it (a queue raises occupancy and slows traffic together), while a lone sensor's glitch or a
calm crossing moves one. The corridor neighbours do not tell them apart: a queue under the detector spacing does not
reach the next station, and calm traffic moves every station at once (a demand swing). The rule never lowers the
threshold; it only spares such a tick the wait for a second one, as `alerts.instant_factor` does for a big one.

A station is a sensor's group (agent/topology.py `group_of`: `group`, or the name's prefix before `_`). Only ticks a
model tier scores are judged so (agent/alerts.py): `alerts` is every tier's block, and the numpy fallback keeps the
rule it was measured with.
"""
from __future__ import annotations

from collections.abc import Sequence


class StationMates:
    """Each sensor's station mates, and the test a tick over the threshold takes (`confirms`)."""

    def __init__(self, sensors: Sequence[str], groups: Sequence[str], factor: float):
        by_group: dict[str, list[str]] = {}
        for name, group in zip(sensors, groups):
            by_group.setdefault(group, []).append(name)
        self.mates = {name: [m for m in by_group[group] if m != name] for name, group in zip(sensors, groups)}
        self.factor = factor

    def confirms(self, scores: dict[str, float], threshold: float) -> bool:
        """A sensor is over the threshold and another sensor of its station over `factor` × the threshold."""
        bar = self.factor * threshold
        return any(score > threshold and any(scores.get(m, 0.0) > bar for m in self.mates.get(name, ()))
                   for name, score in scores.items())


def station_mates(factor: float, sensors: Sequence[str], groups: Sequence[str]) -> StationMates | None:
    """The rule for `alerts.station_factor` (None: off, 0)."""
    return StationMates(sensors, groups, factor) if factor > 0 else None
