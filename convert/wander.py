"""Each sensor's profile wander on the training plants: shipped in the bundle as `profile_wander`.

Why (issue 10, twenty-third round): the model tier's normal profile is fitted on the device over its
warm-up (agent/scorers/profile.py), and one threshold serves every sensor. A sensor whose normal
level wanders on a longer time scale than the warm-up (SKAB's flow: inside its warm-up range through
the warm-up, out of it soon after) alarms on its own normal wander; a scale measured inside the
warm-up (`per_sensor_fraction`) cannot see a wander slower than the warm-up. The training plants'
normal recordings can: here, on every stretch of normal training rows long enough for a warm-up-sized
fit and as many ticks again after it, the fit is made exactly as the agent makes it (the model's
forecasts, this stretch's forecast offset and error scale, the EW level, its settle ticks, μ and σ
with the same floor), and per sensor the ratio of the largest distance after the fit to the largest
inside it is taken (agent.scorers.profile.wander_ratio). The bundle's value is the median over the
stretches: a typical plant's wander, not its worst. A bundle whose training data has no such stretch
gets no `profile_wander` (the agent then scores as before).

Bounded (convert5): the pass forecasts each window of the stretches it measures once, and on a long 1-s
history that is every training window — 691,200 for 10 days, ~10 min on one thread after the sampled
epochs, hours for a month (user25), unbounded by `--windows-per-epoch`. Above MAX_WINDOWS training
windows only as many stretches as MAX_WINDOWS windows hold are measured, evenly spread over all the
stretches of the training range (same length, same fit, same horizon: only fewer of them in the
median). At or below it nothing changes: the demo bundle (36,292 training rows) and SKAB's (15,130)
are built as before, byte for byte.
"""
from __future__ import annotations

import numpy as np

from agent.manifest import PROFILE_WANDER_VERSION, ProfileWander
from agent.scorers.model_scorer import PROFILE_FLOOR_OF_RESIDUAL, plant_fit
from agent.scorers.profile import forecast_levels, settle_ticks, wander_ratio

from .data import window_arrays


#: Windows forecast per call (a multiple of convert.train.predict's batch of 1024: the same batches as one call).
FORECAST_CHUNK = 8192

#: The most windows the pass forecasts (convert5, by its rule: the smallest of 100,000 / 200,000 / 400,000 whose
#: per-sensor wander on the pump's 10 days at 1 s is within 10 % of the full pass's excess over 1 — fewer stretches
#: move the median of a sensor whose stretches pile up at 1.0 by up to half its excess; ~3 min on one thread at
#: low load). The demo's and SKAB's training ranges are below it. A warm-up longer than half of it still gets one
#: stretch (2 × warm-up rows).
MAX_WINDOWS = 400_000


def segment_runs(segment: np.ndarray | None, end: int) -> list[tuple[int, int]]:
    """[start, stop) of each run of rows of one segment in [0, end) (the whole range without segments)."""
    if segment is None:
        return [(0, end)] if end > 0 else []
    seg = np.asarray(segment[:end])
    cuts = [0, *(np.flatnonzero(seg[1:] != seg[:-1]) + 1).tolist(), end]
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def stretches(anomalous: np.ndarray, start: int, stop: int, length: int, step: int) -> list[int]:
    """First rows of every stretch of `length` rows in [start, stop), one every `step` rows, that
    holds no row labelled anomalous."""
    return [a for a in range(start, stop - length + 1, step) if not anomalous[a:a + length].any()]


def spread_plan(plan: list[tuple[int, int, list[int]]], length: int, steps: int,
                max_windows: int) -> list[tuple[int, int, list[int]]]:
    """The plan cut to as many stretches as `max_windows` forecast windows hold (at least one), evenly spread
    over all the plan's stretches in row order; each run of rows the kept stretches cover is forecast once, so
    its windows (rows − steps + 1) are at most the kept stretches' (length − steps + 1 each)."""
    every = [a for _, _, starts in plan for a in starts]
    keep = max(1, max_windows // (length - steps + 1))
    picked = sorted({every[i] for i in np.linspace(0, len(every) - 1, min(keep, len(every))).round().astype(int)})
    runs: list[tuple[int, int, list[int]]] = []
    for a in picked:
        if runs and a < runs[-1][1]:            # overlaps the run before (same segment: segment runs are disjoint)
            runs[-1] = (runs[-1][0], a + length, runs[-1][2] + [a])
        else:
            runs.append((a, a + length, [a]))
    return runs


def stretch_wander(forecasts: np.ndarray, z: np.ndarray, missing: np.ndarray, steps: int, fit_ticks: int,
                   half_life: float) -> np.ndarray:
    """(N,) ≥ 1: one stretch's wander. `z`, `missing` (n, N) its rows, `forecasts` (n − T + 1, N) the
    model's forecasts of its rows from the T-th on; the first `fit_ticks` rows are the warm-up the
    profile is fitted on, the rest are measured."""
    forecasts = np.asarray(forecasts, np.float64)
    newest, newest_missing = np.asarray(z[steps - 1:], np.float64), np.asarray(missing[steps - 1:], bool)
    warm = fit_ticks - steps + 1                     # forecast ticks of the warm-up
    offset, _, residual = plant_fit(newest[:warm], newest_missing[:warm], forecasts[:warm])
    run = np.where(newest_missing, np.nan, forecasts + offset)
    levels = forecast_levels(run, steps, half_life)
    settle = settle_ticks(warm, half_life)
    return wander_ratio(levels[settle:warm], levels[warm:], PROFILE_FLOOR_OF_RESIDUAL * residual)


def profile_wander(forecast, sensors: list[str], z: np.ndarray, missing: np.ndarray, anomalous: np.ndarray,
                   segment: np.ndarray | None, end: int, steps: int, fit_ticks: int,
                   half_life: float, progress=None, max_windows: int = MAX_WINDOWS) -> ProfileWander | None:
    """The bundle's `profile_wander` from the normal rows [0, end) (the training rows): stretches of
    a warm-up-sized fit (`fit_ticks`) and as many ticks after it, one starting every `fit_ticks` rows
    of a segment; per sensor the median of their wander. `forecast(values, missing)`: the model's
    (k, N) forecasts of the newest row of (k, T, N) windows (each window is forecast once). None when
    no stretch fits. `progress(done, total)`, when given, is called after each chunk of FORECAST_CHUNK windows:
    every training window is forecast once, which on a month of 1-s rows takes far longer than the training's
    sampled epochs, and `train` said nothing meanwhile (user25: 10 silent minutes after the last epoch). Above
    `max_windows` windows, the stretches are thinned evenly to what that many hold (spread_plan)."""
    length = 2 * fit_ticks
    if fit_ticks <= steps + settle_ticks(fit_ticks, half_life):
        return None
    plan = [(lo, hi, starts) for lo, hi in segment_runs(segment, end)
            if (starts := stretches(anomalous, lo, hi, length, fit_ticks))]
    total = sum(max(0, hi - lo - steps + 1) for lo, hi, _ in plan)
    measured_of = None
    if total > max_windows:
        measured_of = sum(len(starts) for _, _, starts in plan)
        plan = spread_plan(plan, length, steps, max_windows)
        total = sum(hi - lo - steps + 1 for lo, hi, _ in plan)
    done = 0
    ratios = []
    for lo, hi, starts in plan:
        values, missing_w = window_arrays(z[lo:hi], missing[lo:hi], steps)
        chunks = []
        for i in range(0, len(values), FORECAST_CHUNK):
            chunks.append(forecast(values[i:i + FORECAST_CHUNK], missing_w[i:i + FORECAST_CHUNK]))
            done += len(chunks[-1])
            if progress is not None:
                progress(done, total)
        forecasts = np.concatenate(chunks)          # forecasts[j]: the window of rows lo + j … lo + j + T − 1
        ratios += [stretch_wander(forecasts[a - lo:a - lo + length - steps + 1], z[a:a + length],
                                  missing[a:a + length], steps, fit_ticks, half_life) for a in starts]
    if not ratios:
        return None
    median = np.median(ratios, axis=0)
    return ProfileWander(
        version=PROFILE_WANDER_VERSION, sensors={s: round(float(v), 4) for s, v in zip(sensors, median)},
        fit_ticks=int(fit_ticks), held_ticks=int(fit_ticks), chunks=len(ratios), half_life_ticks=float(half_life),
        statistic=("per sensor, the median over stretches of normal training rows of: the largest profile distance "
                   "in the held ticks after a warm-up-sized fit ÷ the largest inside it (≥ 1)"
                   + ("" if measured_of is None else
                      f"; {len(ratios)} of the {measured_of} stretches, evenly spread (at most {max_windows:,} "
                      "windows forecast)")))
