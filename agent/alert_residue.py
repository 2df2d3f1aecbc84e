"""The residue a model tier keeps scoring after an anomaly (`scoring.profile.residue_fraction`): an open alert's end,
and the bar after it, judged per sensor against the sensor's own excursion in the alert (agent/alerts.py).

Why: the model tier's profile scores each sensor's distance from its warm-up normal, and a `drifting` temperature's
forecast error is a level statistic too (the forecaster reverts towards the training plants' normal), so after a test
that leaves the pump a little off its warm-up normal — SKAB other/10: the fluid 2 °C warmer, the flow 5 σ up — both keep
scoring 1–2 × the threshold for as long as the plant stays there: the alert runs to the end of the file (171 false rows
a draw, the largest block of the tier alone's false alarms; the skab33–skab41 rounds, docs/measured/accuracy-skab.md).
The subside rule (`alerts.subside_fraction`) compares the whole score with the alert's peak, and there the peak was the
fluid temperature's onset (6 × the threshold) while the anomaly's body scored 0.25–0.35 of it, as its residue does:
nothing in the score says the anomaly is over. Per sensor it does: the body is carried by the flow and the
accelerometer at 0.6–1.0 of their own peaks, the residue by every sensor at under a third of its own. The numpy
fallback has no such residue (its forecasters learn the new level), so the rule judges only ticks a model tier scores,
and only with the profile on (the pipeline passes 0 otherwise: a model tier without it has no profile residue, and
configs that pin the profile off keep their alerts as they were). Its default, 0.35, is the skab41 round's: chosen on
the dev files' traces, judged on them and on all 30 (docs/measured/accuracy-skab.md).

- counted: a sensor counts for the open alert while its score is at least `fraction` × its own largest score in the
  alert, or (with `alerts.hold_sigma`) while its observed level is still at its excursion — `hold_sigma` σ and
  `hold_fraction` of its largest level distance in the alert or more, faults8's test for the peak's sensor, asked of
  every sensor: an onset transient far above what a lasting shift scores after it is not the shift's residue;
- residue: a tick over the threshold with no counted sensor over it. The alert ends (`subsided`) when the residue
  has lasted `window_ticks` ticks in a row (a window: the model has seen nothing but the residue since); those ticks
  are part of it, as ticks above the threshold are;
- floors: after such an end no new alert opens on a sensor under `fraction` + FLOOR_MARGIN of its peak in the
  ended alert (that sensor does not count towards opening), until the score has stayed at or under the threshold for
  `alerts.subside_release_ticks` ticks in a row, as the subside rule's residue bar is lifted. Above the residue's
  share, not at it (the skab42 round): the residue after the end is not what it was in the window that ended the
  alert — it drifts up (SKAB other/10: the accelerometer from 0.26–0.29 of its peak in the window to 0.45–0.46 after
  it, the flow and the fluid's temperature to 0.36–0.38), and at `fraction` × the peak the floors let it open a new
  alert that ran to the end of the file on normal rows (44–165 rows a draw).
- a new model: the peaks and the floors are the scores of the model that scored the alert. A hot swap, a restart
  onto another bundle or profile, and a restart that warms up again (the profile fitted anew) forget them
  (AlertTracker.new_model_scale): the new model's residue is judged against its own scores (review32 — before, the
  old peaks took the new model's scores for residue and the old floors stood until a calm tick).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .json_read import finite_number

if TYPE_CHECKING:
    from .alert_state import OpenAlert
    from .config import AlertConfig

# The floors' share of a sensor's peak over the residue test's `fraction` (floors, above): the smallest round step
# over the drift seen after an end on the dev files (0.11 of the peak: 0.35 → 0.46; skab42, docs/measured/accuracy-skab.md).
FLOOR_MARGIN = 0.15


def scores_by_name(names: list[str], sensor_scores) -> dict[str, float]:
    """A tick's sensor scores as the rule reads them, {sensor: score}, a missing (NaN) score as 0: the live pipeline's
    (agent/pipeline.py) and a hot-swap candidate's in shadow (agent/hotswap.py)."""
    return dict(zip(names, np.nan_to_num(np.asarray(sensor_scores, float)).tolist()))


def residue_lasts(cfg: AlertConfig, a: OpenAlert, fraction: float, scores: dict[str, float], score: float,
                  threshold: float, distance: dict[str, float] | None) -> int:
    """Track each sensor's largest score (and level) in the open alert; count this tick towards the residue when
    it is over the threshold only through sensors under `fraction` of their own peak (and not at their level's
    excursion). Returns the residue's length in ticks in a row (`a.residue_ticks`)."""
    peaks = a.score_peak
    for name, value in scores.items():
        if value > peaks.get(name, 0.0):
            peaks[name] = value
    if distance is not None:
        for name, value in distance.items():
            a.level_high[name] = max(float(value), a.level_high.get(name, 0.0))
    if score > threshold and counted_score(cfg, a, fraction, scores, distance) <= threshold:
        a.residue_ticks += 1
    else:
        a.residue_ticks = 0
    return a.residue_ticks


def counted_score(cfg: AlertConfig, a: OpenAlert, fraction: float, scores: dict[str, float],
                  distance: dict[str, float] | None) -> float:
    """The largest score of the sensors that still count for the open alert (counted, above); 0 when none does."""
    best = 0.0
    for name, value in scores.items():
        if value <= best:
            continue
        if value >= fraction * a.score_peak.get(name, 0.0) or _at_excursion(cfg, a, name, distance):
            best = value
    return best


def _at_excursion(cfg: AlertConfig, a: OpenAlert, name: str, distance: dict[str, float] | None) -> bool:
    if distance is None or cfg.hold_sigma <= 0 or name not in distance:
        return False
    return float(distance[name]) >= max(cfg.hold_sigma, cfg.hold_fraction * a.level_high.get(name, 0.0))


def residue_floors(a: OpenAlert, fraction: float) -> dict[str, float]:
    """Per sensor, the bar a new alert's sensor must pass after this alert ended on its residue (floors, above):
    `fraction` + FLOOR_MARGIN of its peak in the alert, at most the peak."""
    share = min(1.0, fraction + FLOOR_MARGIN)
    return {name: share * peak for name, peak in a.score_peak.items() if peak > 0}


def over_floors(floors: dict[str, float], scores: dict[str, float]) -> float:
    """The largest score of the sensors over their floor (a sensor with no floor is over it); 0 when none is."""
    return max((v for name, v in scores.items() if v > floors.get(name, 0.0)), default=0.0)


def read_floors(value) -> dict[str, float]:
    """The tracker's checkpointed floors ({} absent: written before they existed); ValueError when not
    {sensor: finite number ≥ 0}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("alerts.residue_floor: expected {sensor: a finite number ≥ 0}")
    for k, v in value.items():
        if not (isinstance(k, str) and finite_number(v) and v >= 0):
            raise ValueError(f"alerts.residue_floor.{k}: expected a finite number ≥ 0, got {v!r}")
    return {k: float(v) for k, v in value.items()}
