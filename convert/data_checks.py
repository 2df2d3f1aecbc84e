"""The checks on training data that need no model: decided before torch is imported.

`stad-convert train` runs `checked_windows` on the data it read before importing torch (~2 CPU-s), so a
recording that cannot train is refused in a fraction of a second (suite3: each refusal's process cost 2.2 CPU-s,
torch's import most of it); `convert.train.train` runs the same checks, as the library's entry point.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from agent.window import Normaliser

from .data import Series, TimeSplit, TrainingError, Windows, fit_normaliser, holdout_runs, windows_between

log = logging.getLogger("stad.convert")


@dataclass
class CheckedData:
    """What the checks computed, which training goes on with."""
    split: TimeSplit
    normaliser: Normaliser
    z: np.ndarray                     # (n, N) float32 normalised rows
    train_w: Windows
    val_w: Windows


def checked_windows(series: Series, steps: int, split: TimeSplit | None = None) -> CheckedData:
    """The training and validation windows of `series`, or TrainingError naming what the data lacks: windows of
    `steps` ticks, observed normal targets in each part, every sensor observed in each, something to forecast."""
    split = split or series.split or TimeSplit.of(len(series))
    normaliser = fit_normaliser(series, split)
    z = normaliser.apply(series.raw)
    try:
        train_w = windows_between(z, series.missing, series.anomalous, steps, 0, split.train_end, series.segment)
        val_w = windows_between(z, series.missing, series.anomalous, steps, split.train_end, split.val_end,
                                series.segment)
    except ValueError as exc:
        raise TrainingError(f"not enough data for windows of {steps} ticks: {exc} "
                            f"({len(series)} rows; {minimum_data_text(steps)}){series.rejected_text()}") from None
    check_observed(val_w, "validation", series.rejected_text())
    check_observed(train_w, "training", series.rejected_text())
    for part, w in (("training", train_w), ("validation", val_w)):
        check_sensors_observed(series.sensors, w, part, series.rejected_text())
    check_something_to_forecast(val_w)
    return CheckedData(split=split, normaliser=normaliser, z=z, train_w=train_w, val_w=val_w)


def target_weights(w: Windows) -> np.ndarray:
    """(n, N) 1 where the newest value is observed and the row is usable as a target."""
    return (1.0 - w.missing[:, -1, :]) * w.usable[:, None].astype(np.float32)


def naive_mse(w: Windows) -> float:
    """MSE of repeating the last context value: the baseline the model has to beat."""
    weight = target_weights(w)
    err = (w.values[:, -1, :] - w.values[:, -2, :]) ** 2
    return float((err * weight).sum() / max(weight.sum(), 1.0))


#: A POT threshold fitted on fewer peaks than this rests on noise: the converter then fits it on
#: the training and validation ticks pooled, and fails when even those are too few.
MIN_CALIBRATION_PEAKS = 10


def minimum_calibration_ticks(init_quantile: float) -> int:
    """Scored ticks whose top (1 − init_quantile) share holds MIN_CALIBRATION_PEAKS peaks."""
    return int(np.ceil(MIN_CALIBRATION_PEAKS / (1.0 - init_quantile) - 1e-9))


def minimum_data_text(steps: int, init_quantile: float = 0.98) -> str:
    """The minimum data, said once: where TrainingError messages and the README take it from."""
    ticks = minimum_calibration_ticks(init_quantile)
    return (f"training needs validation windows of {steps} ticks with observed targets, and at least "
            f"{ticks} scored ticks (validation, else training + validation) for {MIN_CALIBRATION_PEAKS} "
            f"threshold peaks above the {init_quantile:g} quantile"
            f" — in one piece, a recording of at least {minimum_recording_ticks(ticks, steps)} "
            f"ticks (each further piece: {2 * (steps - 1)} more)")


def minimum_recording_ticks(scored: int, steps: int) -> int:
    """Ticks of one recording whose training and validation parts (TimeSplit: 70 % + 15 %, each losing
    steps − 1 ticks to its first window) score at least `scored` ticks."""
    n = int(np.ceil((scored + 2 * (steps - 1)) / 0.85))
    while TimeSplit.of(n).val_end - 2 * (steps - 1) < scored:
        n += 1
    return n


def check_observed(w: Windows, part: str, rejected: str = "") -> None:
    if len(w) == 0 or target_weights(w).sum() == 0:
        labelled = int((~w.usable).sum()) if len(w) else 0
        cause = ("e.g. it lies in a gap between recordings, or every row is labelled anomalous" if not labelled else
                 labelled_advice(labelled, len(w)))
        raise TrainingError(f"the {part} part has no observed, normal rows to forecast ({len(w)} windows): "
                            + cause + rejected)


def labelled_advice(labelled: int, windows: int) -> str:
    """What to do when a part's windows end on labelled rows (user21; since review34 a tick without a row inside
    a labelled anomaly is labelled too, so a part wholly inside one has no normal target at all)."""
    return (f"{labelled} of its {windows} windows end on a row labelled anomalous: put labelled anomalies early in "
            "each recording or cut them out (each recording is split 70/15/15 by time, so a late anomaly fills its "
            "validation part), or with 3 recordings or more give `--split recording`")


def check_sensors_observed(sensors: list[str], w: Windows, part: str, rejected: str = "") -> None:
    """Every sensor needs observed, normal targets in the part: without them the model never learns
    to forecast it, and its normaliser (training) or residual scale (validation) is a default, so
    its first real value in the field would score in the millions. `rejected` (what reading
    rejected) ends the message: a column name that does not match the header is the usual cause."""
    unseen = [s for s, n in zip(sensors, target_weights(w).sum(axis=0)) if n == 0]
    if unseen:
        which = f"sensor {unseen[0]} has" if len(unseen) == 1 else f"sensors {', '.join(unseen)} have"
        raise TrainingError(f"{which} no observed, normal value in the {part} part ({len(w)} windows): "
                            "give data where it is observed (is its source's column named as in the files' "
                            "header?), or leave it out of `sensors`" + rejected)


def warn_flat_sensors(sensors: list[str], raw: np.ndarray) -> None:
    """A sensor that never moves in the training rows is kept (a setpoint may be flat), but said:
    its std is the normaliser's floor, so any change of it in the field scores far above threshold."""
    for s, column in zip(sensors, raw.T):
        seen = column[np.isfinite(column)]
        if seen.size and np.ptp(seen) == 0:
            log.warning("sensor %s is constant (%g) in the training part: any change of it will score as an "
                        "anomaly; leave it out of `sensors` unless that is what you want", s, seen[0])


def check_something_to_forecast(val_w: Windows) -> None:
    """Refuse before training when every normal validation target repeats the tick before it (repeating the
    last value is exact: no model can beat it). qa37: readings 2 min apart at tick_s 1, each carried forward.
    user21: SKAB valve files whose validation part (70–85 % of each) lies wholly in their labelled anomaly —
    the normal targets left were the ticks without a row of their own, carried forward; train said "set
    tick_s to the recordings' period" after seven minutes of training, when the labels were the cause."""
    if naive_mse(val_w) != 0:
        return
    labelled = int((~val_w.usable).sum())
    if labelled:
        advice = (labelled_advice(labelled, len(val_w)) + "; the normal targets left repeat the tick before them "
                  "(carried forward, window.carry_forward_s): recordings sparser than tick_s: set tick_s to their "
                  "period")
    else:
        advice = ("readings further apart than tick_s, carried forward (window.carry_forward_s), or sensors that "
                  "never change — set tick_s to the recordings' period (and the gateway's with it)")
    raise TrainingError("nothing to learn: any model would be no better than repeating the last value on "
                        f"validation: every validation target repeats the tick before it ({len(val_w)} windows): "
                        + advice)


def calm_holdout_runs(series: Series, steps: int, windows: int) -> list[tuple[int, int]]:
    """The held-out runs verify reads (convert.data.holdout_runs), or TrainingError when labels leave none: no
    test part holds a window without a labelled anomaly (too little data is not said here: training says it)."""
    runs = holdout_runs(series, steps, windows)
    unlabelled = dataclasses.replace(series, anomalous=np.zeros_like(series.anomalous))
    if not runs and holdout_runs(unlabelled, steps, 1):
        raise TrainingError(f"no calm held-out window for verify: no test part (the last 15 % of each recording, or "
                            f"the newest recording) "
                            f"holds {steps} consecutive rows without a labelled anomaly; cut the anomalies out of "
                            "the recordings' ends, or add a recording of normal running")
    return runs
