"""Sensor levels deciding an open alert's end (agent/alerts.py): held, the peak's level, released, and the level
bar after one released.

The levels are each sensor's recent observed level distance from its warm-up level, in σ (`levels() ->
{sensor: σ}`, agent/scorers/profile.py LevelMonitor); the tracker calls these on every tick of an open alert.

- held (`hold_sigma` h > 0): a tick under the threshold does not count towards ending an open alert,
  and still counts as part of it (its `end` moves on), while the recent observed level of one of
  the alert's *driver* sensors — those above the threshold when it opened or at a new peak (or
  its top sensor then) — stays h σ or more off that sensor's warm-up level (`levels`,
  agent/scorers/profile.py LevelMonitor) and at least `hold_fraction` of the largest distance that sensor reached during the alert.
  Why: a forecaster's error falls back once a lasting shift is in its window (and the fallback
  learns the new level), so without it an alert about a lasting shift — a closed valve — ends
  while the shift goes on; the level keeps saying so. Only the drivers hold it: another sensor
  that has wandered off its warm-up level is not what the alert is about, and the fraction lets
  go of the residue an anomaly leaves once it is over (a pump settled a little off its warm-up).
- the peak's level (with `subside_fraction`, agent/alerts.py): an alert over the threshold whose score is under
  `subside_fraction` × its peak does not count towards its subsided end while the sensor that made that peak
  (the top sensor of the alert's explanation at its peak) is still `hold_sigma` σ or more off its warm-up level
  and at least `hold_fraction` of the largest distance it reached during the alert. Why: the peak is often the
  onset's transient — a forecaster's error as a valve slams shut, 173 on SKAB other/12 against a threshold of
  3.6 — far above what the lasting shift after it scores (25–60); the peak's own sensor at its excursion says
  the excursion has not subsided (faults8, docs/measured/faults.md: ended so, the alerts covered 53 of
  other/12's 309 anomalous rows instead of 213). Only that sensor: another driver's level at half its own small
  excursion is the residue the subside rule is there to cut (faults8's C1, held by any driver, kept an alert
  49 rows past a valve test on accelerometer 2's residue). And never a `scoring.profile.drifting` sensor (the
  temperatures by default), whichever tier scores: its level drifts in normal operation, so it cannot say the
  excursion goes on (faults8's C2, without this: the fallback's alert on SKAB other/10, made by the fluid's
  temperature, stayed open 171 rows past the anomaly while the fluid stayed warm). The level hold under the
  threshold keeps its own rule for them (held, above).
- released (`release_fraction` r > 0, with `hold_sigma`): an open alert during which some sensor's
  level went `hold_sigma` σ or more off warm-up ends (reason `subsided`) once, for `clear_ticks`
  ticks in a row, every sensor's level is under r × the largest level distance reached during it —
  even with the score still above the threshold — and no new alert opens while every sensor's level
  stays under that bar (lifted like the subside residue, after `subside_release_ticks` calm ticks).
  Why: a profile of normal levels keeps scoring the residue a lasting anomaly leaves (the pump
  settled 5 σ off its warm-up after a 20-σ test) above the threshold for as long as it lasts, so
  the score cannot say the anomaly is over; the level, back to a fraction of its excursion, can.
  All sensors are judged, not only the drivers: an alert opened on one sensor's spike is often
  carried by another sensor's lasting shift that never made a new peak.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .alert_events import by_score

if TYPE_CHECKING:
    from .alert_state import OpenAlert
    from .config import AlertConfig


def track_levels(cfg: AlertConfig, a: OpenAlert, levels) -> dict[str, float] | None:
    """Every sensor's level distance this tick (None: no level, or holding off); each driver's largest
    distance during the alert, and the largest of any sensor, are tracked on every tick of it."""
    if cfg.hold_sigma <= 0 or levels is None or not a.drivers:
        return None
    distance = levels()
    for name in a.drivers:
        a.level_peak[name] = max(float(distance.get(name, 0.0)), a.level_peak.get(name, 0.0))
    a.level_top = max(a.level_top, max(distance.values(), default=0.0))
    return distance


def level_holds(cfg: AlertConfig, a: OpenAlert, score: float, threshold: float, distance: dict[str, float] | None) -> bool:
    """Under the threshold, but a driver sensor's level is still off its warm-up normal (held, above)."""
    if distance is None or score > threshold:
        return False
    return any(float(distance.get(name, 0.0)) >= max(cfg.hold_sigma, cfg.hold_fraction * a.level_peak[name])
               for name in a.drivers)


def peak_level_holds(cfg: AlertConfig, a: OpenAlert, distance: dict[str, float] | None,
                     drifting: frozenset[str] = frozenset()) -> bool:
    """The sensor that made the alert's peak is still off its warm-up level, at `hold_fraction` of its excursion
    or more (the peak's level, above): the alert does not end as subsided meanwhile. Never a sensor in `drifting`."""
    if distance is None:
        return False
    tops = by_score(a.explain)
    if not tops or tops[0]["sensor"] in drifting:
        return False
    name = tops[0]["sensor"]
    return float(distance.get(name, 0.0)) >= max(cfg.hold_sigma, cfg.hold_fraction * a.level_peak.get(name, 0.0))


def level_released(cfg: AlertConfig, a: OpenAlert, distance: dict[str, float] | None) -> bool:
    """Some sensor's level moved (`hold_sigma` σ or more) during the alert and every level is now back
    under `release_fraction` of the largest distance reached: the lasting part of it is over."""
    if distance is None or cfg.release_fraction <= 0:
        return False
    top = a.level_top
    return top >= cfg.hold_sigma and max(distance.values(), default=0.0) < cfg.release_fraction * top


def under_level_floor(level_floor: float, levels) -> bool:
    """After a released alert: every sensor's level is still under the residue bar (`level_floor`)."""
    if level_floor <= 0 or levels is None:
        return False
    return max(levels().values(), default=0.0) < level_floor
