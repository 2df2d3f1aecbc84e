"""The model tier's normal profile: fitted on the device at warm-up, so each plant gets its own.

Why: a next-step forecaster follows a lasting shift once the shift is in its window, so its
error falls back while the anomaly goes on (SKAB's closed valve, a blocked lane). Methods that
compare the present with *normal* keep scoring for as long as the shift lasts. The frozen int8
graph stays as it is; numpy fits, over the warm-up ticks, where the model's forecasts normally
lie, and scores the distance from there on:

    level_t[s] = Σ_k w_k · forecast_{t−k}[s]          EW mean of the model's recent forecasts
                                                       (half-life `half_life_ticks`, Σw = 1)
    profile_t[s] = |level_t[s] − μ[s]| / σ[s]          μ, σ: mean and std of level over warm-up

`weight` scales the profile's distance before it is compared with the forecast error: the tier's
threshold is calibrated on warm-up ticks whose scores are mostly forecast error, so the weight sets
how far from normal a level must be to alarm, in units of that threshold. `lasting_shift: false`
drops the forecast error's lasting-shift (bias) statistic on the profiled sensors: the profile
already scores a lasting shift, and the bias of an off-plant forecast adds noise to it.

A sensor listed in `drifting` (its level drifts in normal operation, e.g. a motor heating up
over the hours) is judged by its newest forecast error alone: no profile score and no
lasting-shift (bias) statistic, both of which would add the drift up into an alarm. Not given, the list is the
sensors whose `unit` is a temperature (agent/config.py resolves it): a temperature follows a heat balance over
hours, slower than a warm-up.

Defaults (the skab32 round, docs/measured/accuracy-skab.md): with a bundle the profile is on, with
`per_sensor_fraction` 0.3, `trained_wander`, no lasting-shift statistic — configs/skab.yaml's settings
less its pump-specific `drifting` list. With them off (the defaults before), a user's SKAB bundle kept
its threshold above the anomaly the fallback caught (user10, docs/measured/first-week.md).
The profile is fixed after warm-up (the leaderboard methods it is compared with are fitted
once, on each file's first 400 rows).

Fewer than `min_ticks` usable warm-up ticks fit no profile: the tier then scores with its forecast
error and the bundle's own threshold.

`track_half_life_ticks` H > 0: learn only when calm. After warm-up a profiled sensor's μ follows its
level, μ ← μ + (1 − 2^(−1/H))·(level − μ), on every tick whose distance (scored with the μ of before
that tick) is inside the sensor's warm-up range (the largest distance over the warm-up ticks) and
whose window held every one of its readings; outside the range μ stays where it was. Why: a level
fitted on ~400 autocorrelated warm-up ticks is a snapshot of a process whose normal level wanders
on longer time scales (SKAB other/6: accelerometer 1 drifts 6 σ in the 150 ticks after warm-up,
labelled normal); a slow drift moves through the range a little at a time and μ follows it, while
an anomaly's step leaves the range at once and leaves μ where normal was. What it cannot follow: a
drift faster than the range over H ticks, and a level that stays outside (a pump settled off normal
after an anomaly) — it is frozen there, as without tracking. σ stays as warm-up fitted it.

`per_sensor_fraction` f > 0: each sensor judged against its own wander (issue 10, twenty-second round).
One threshold serves every sensor, so a sensor whose normal level wanders (SKAB's flow, accelerometer 2)
cannot be heard less without hearing the others less too. With f > 0 the fit also refits μ', σ' on the
first 1 − f of the warm-up levels and measures, per sensor, how far the last f wanders past that fit's
own range: wander[s] = max(1, max over the last f of d'[s] / max over the first 1 − f of d'[s]). The live
distance of sensor s is divided by wander[s]: a sensor that stays inside its in-sample range out of
sample is scored as before, one that wanders is scored in units of its wander. μ, σ themselves are fitted
on every warm-up level as before; f = 0 (the default) leaves every score as it was, bit for bit.

`trained_wander`: each sensor judged against the training plants' wander (issue 10, twenty-third round).
A warm-up cannot show a wander slower than itself (SKAB's flow stays inside its range through the warm-up
and wanders after it); the converter measures, on the training plants' normal recordings, how far each
sensor's level wanders in the warm-up-length after a warm-up-sized fit (convert/wander.py), and ships it
in the bundle (`profile_wander`). With the key on, the live distance is divided by it (by the larger of it
and the own wander when per_sensor_fraction is on too); off (the default), or a bundle without it: as before.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import fastnp as fnp
from ..typed import doc, rng

#: Absolute σ floor (normalised units): a sensor that never moved during warm-up still gets a
#: finite score. The scorer passes a larger, per-sensor floor from the plant's noise level.
SIGMA_FLOOR = 1e-4


@dataclass
class ProfileConfig:
    enabled: bool = doc("score the model tiers' distance from the warm-up's normal profile too (the warm-up must be "
                        "normal; on by default since the skab32 round: a bundle with its forecast error alone missed "
                        "a SKAB pump's anomaly the fallback caught)", default=True)
    half_life_ticks: float = rng(0.5, 1000.0, default=5.0,
        doc="half-life of the EW mean of recent forecasts that is compared with the profile")
    min_ticks: int = rng(10, None, default=100,
        doc="usable warm-up ticks needed to fit a profile: after a window's context (window.steps − 1) and "
            "3 × half_life_ticks to settle, so a warm-up of min_ticks + window.steps − 1 + ⌈3 × half_life_ticks⌉ "
            "(146 at the defaults and a window of 32)")
    drifting: list[str] | None = doc(
        "sensors whose normal level drifts (judged by their newest forecast error alone, and never holding an alert "
        "open); null (the default): the sensors whose `unit` is a temperature (degC, °C, degF, °F, K, …), which still "
        "hold the numpy fallback's alerts; `[]`: none",
        default=None)
    weight: float = rng(0.05, 10.0, default=1.0,
        doc="the profile distance is multiplied by this before it is compared with the forecast error")
    lasting_shift: bool = doc(
        "keep the forecast error's lasting-shift (bias) statistic on profiled sensors (the profile "
        "scores a lasting shift too)", default=False)
    track_half_life_ticks: float = rng(0.0, 1000000.0, default=0.0,
        doc="after warm-up a profiled sensor's normal level follows its level (EW, this half-life) while its "
            "distance is inside its warm-up range, and stays put outside it (a slow drift of normal is "
            "followed, a step is not); 0: off (the profile stays as warm-up fitted it)")
    scale_half_life_ticks: float = rng(0.0, 1000000.0, default=0.0,
        doc="after warm-up each sensor's forecast-error scale follows the RMS of its forecast error on the ticks "
            "the detector judges calm, by the tier's own score too (EW, this half-life), never below the scale warm-up fitted: a sensor whose "
            "calm error grew (a pump settled a little off its warm-up) is heard in units of it (model_scorer.py); "
            "0: off (the scale stays as warm-up fitted it)")
    scale_after_alert_ticks: int = rng(-1, None, default=-1,
        doc="with scale_half_life_ticks: the scale learns nothing while an alert is open nor for this many ticks "
            "after it ends (a plant under an alert is not one to learn normal from); -1: off (it learns on an open "
            "alert's calm ticks too)")
    per_sensor_fraction: float = rng(0.0, 0.5, default=0.3,
        doc="the last part of the warm-up's levels that measures each sensor's wander past a fit on the rest; "
            "a sensor's distance is divided by its wander (≥ 1); 0: off (one scale for every sensor)")
    trained_wander: bool = doc(
        "divide each sensor's distance by the bundle's `profile_wander` too (how far its level wandered past a "
        "warm-up-sized fit on the training plants' normal data; with per_sensor_fraction, by the larger of the "
        "two); a bundle without it is scored as before", default=True)
    residue_fraction: float = rng(0.0, 0.9, default=0.35,
        doc="with the profile on, an open alert a model tier scores also ends (`subsided`) once, for `window.steps` "
            "ticks in a row, it has been over the threshold only through sensors under this share of their own "
            "largest score in it whose observed level is back under its excursion (`alerts.hold_sigma`, "
            "`hold_fraction`): the residue the profile and a drifting sensor's forecast error keep scoring after an "
            "anomaly; no new alert then opens on those sensors under this share + 0.15 of their peak (the residue drifts "
            "up after the end) until `alerts.subside_release_ticks` calm ticks (agent/alert_residue.py; the skab41 "
            "and skab42 rounds); 0: off; another value at a restart applies from the first tick (the model tier "
            "resumes as it was)")
    # Set by from_dict: whether the config gave `drifting` (a defaulted list leaves the fallback's alert hold
    # alone: skab34 round); not a key.
    drifting_given: bool = field(default=True, init=False, metadata={"internal": "set by from_dict, not a key"})


#: Units that say "a temperature" (compared as `unit_key` spells a unit): such a sensor's level follows a heat
#: balance over hours, slower than any warm-up, so by default it is `drifting` (skab32 round: D1 without it
#: raised SKAB's dev FAR from 8.9 to 17.4 %: the two temperatures' drift).
TEMPERATURE_UNITS = frozenset({"degc", "°c", "celsius", "degcelsius", "degf", "°f", "fahrenheit", "degfahrenheit",
                               "k", "°k", "kelvin"})   # not a bare "c" or "f" (a coulomb, a farad, a frequency):
#: such a temperature is named in `drifting`

#: Words plants write those units with, folded onto TEMPERATURE_UNITS' spelling after `unit_key`'s own folding
#: (user12: a historian's "degrees Celsius" and "deg. C" were taken for no temperature, silently: the sensor was
#: profiled as a level).
_UNIT_WORDS = ((".", ""), ("degrees", "deg"), ("degree", "deg"))


#: Stand-ins for the degree sign on other keyboards: the masculine ordinal º, the ring ˚ and its combining form.
_DEGREE_LIKE = str.maketrans({"\u00ba": "\u00b0", "\u02da": "\u00b0", "\u030a": "\u00b0"})


def unit_key(unit: str) -> str:
    """A unit as TEMPERATURE_UNITS spells it: compatibility forms unfolded (℃ → °C), degree stand-ins made °,
    every space, control and invisible format character (no-break, zero-width, byte-order mark, a YAML block's
    newline) dropped, case folded (qa31: each of these made a pasted temperature no temperature), "degrees" /
    "deg." written as "deg" (user12)."""
    import unicodedata      # (only for a config whose sensors give units)
    unit = unicodedata.normalize("NFKC", unit.translate(_DEGREE_LIKE)).translate(_DEGREE_LIKE)
    key = "".join(c for c in unit if not (c.isspace() or unicodedata.category(c) in ("Cc", "Cf"))).casefold()
    for word, ours in _UNIT_WORDS:
        key = key.replace(word, ours)
    return key


def temperature_sensors(units: list[tuple[str, str | None]]) -> list[str]:
    """The names, of (name, unit) pairs, whose unit is a temperature: `drifting`'s default."""
    return [name for name, unit in units if isinstance(unit, str) and unit_key(unit) in TEMPERATURE_UNITS]


@functools.lru_cache(maxsize=64)
def level_weights(span: int, half_life: float) -> np.ndarray:
    """(span,) EW weights, oldest first, summing to 1."""
    w = 0.5 ** (np.arange(span - 1, -1, -1) / half_life)
    w = w / w.sum()
    w.setflags(write=False)
    return w


@functools.lru_cache(maxsize=64)
def _known_total(span: int, n: int, half_life: float) -> np.ndarray:
    """ew_level's weight total of a (span, n) run with every entry known: the same expression on
    an all-known mask of that shape, so the same sum in the same order, bit for bit."""
    total = (level_weights(span, half_life)[:, None] * np.ones((span, n), bool)).sum(axis=0)
    total.setflags(write=False)
    return total


def ew_level(forecasts: np.ndarray, known: np.ndarray, half_life: float) -> np.ndarray:
    """(N,) EW mean of a (span, N) run of forecasts (oldest first) over the `known` entries;
    NaN for a sensor with none known.

    A run with every entry known (the usual one: the model tier computes one every tick with the
    profile on) skips the masking: its weights are the level weights themselves (× True), its
    total a constant, and every total is positive (the newest weight is) — the same products and
    sums as the general path, so the same bits, for a quarter of the numpy calls (row-major runs
    only: the layout decides the order numpy sums a column in)."""
    weights = level_weights(len(forecasts), float(half_life))[:, None]
    if (known.ndim == 2 and fnp.count_nonzero(known) == known.size and known.flags.c_contiguous
            and forecasts.flags.c_contiguous):
        return np.add.reduce(weights * forecasts, axis=0) / _known_total(len(forecasts), known.shape[1], float(half_life))
    w = weights * known
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w * np.where(known, forecasts, 0.0)).sum(axis=0) / total, np.nan)


def forecast_levels(run: np.ndarray, steps: int, half_life: float) -> np.ndarray:
    """(n, N) level of every tick of a (n, N) run of forecasts (oldest first, NaN = not counted): the
    EW mean over the tick's window of `steps` ticks (the ticks before the run unknown), as the live
    tier computes it tick by tick (ModelScorer.level)."""
    padded = np.concatenate([np.full((steps - 1, run.shape[1]), np.nan), run])
    return np.array([ew_level(padded[i:i + steps], np.isfinite(padded[i:i + steps]), half_life)
                     for i in range(len(run))])


def settle_ticks(n: int, half_life: float) -> int:
    """The first levels of a warm-up that rest on few forecasts (an EW mean over the window), of `n`:
    the profile is fitted on the levels after them."""
    return min(n, int(np.ceil(3 * half_life)))


def ticks_to_fit(cfg: ProfileConfig, steps: int) -> int:
    """The fewest ticks, every sensor read on each, a profile is fitted on: `min_ticks` settled levels after a
    window's `steps` − 1 ticks of context (ModelScorer.fit_profile's first forecast) and `settle_ticks`. The start's
    lines said two other numbers for this one rule (user40: `fewer than 100 warm-up ticks` at warm-up, `the 132 a
    profile is fitted on` at a restore, where 146 is what the demo's window of 32 needs)."""
    return cfg.min_ticks + steps - 1 + settle_ticks(np.iinfo(np.int64).max, cfg.half_life_ticks)


def too_few(cfg: ProfileConfig, steps: int, held: int, ticks: str) -> str | None:
    """Why `held` ticks are too few to fit a profile on, in the words every start line and check-config use
    (`ticks_to_fit`); None when they are not."""
    need = ticks_to_fit(cfg, steps)
    return f"{held} {ticks}, fewer than the {need} a profile is fitted on" if held < need else None


class NormalProfile:
    """μ, σ of each sensor's forecast level over warm-up; `scores` is the distance from them."""

    def __init__(self, cfg: ProfileConfig, sensors: list[str], trained: np.ndarray | None = None):
        self.cfg = cfg
        # the bundle's per-sensor wander (≥ 1), used only with trained_wander on
        self.trained = np.asarray(trained, np.float64) if cfg.trained_wander and trained is not None else None
        self.used = np.array([s not in set(cfg.drifting or ()) for s in sensors])
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.ticks = 0
        self.normal: np.ndarray | None = None       # per sensor, the largest distance over warm-up
        self._tracked: tuple = (None, None)         # (tick, mean before it): track_half_life_ticks
        self.wander: np.ndarray | None = None       # per sensor, ≥ 1: per_sensor_fraction (None: off)

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    def bias_kept(self) -> np.ndarray | bool:
        """Where the forecast error's lasting-shift statistic still counts once the profile is
        fitted: never on drifting sensors; on profiled ones unless `lasting_shift` is off."""
        return self.used if self.cfg.lasting_shift else False

    def fit(self, levels: np.ndarray, floor: np.ndarray | float = SIGMA_FLOOR) -> bool:
        """Fit on (n, N) warm-up levels (NaN = unknown); σ is at least `floor` (per sensor) and
        SIGMA_FLOOR. False (and unfitted) when too few ticks."""
        levels = np.asarray(levels, np.float64)
        counts = np.isfinite(levels).sum(axis=0)
        self.ticks = int(counts.min()) if counts.size else 0
        if self.ticks < self.cfg.min_ticks:
            self.mean = self.std = None
            return False
        self.wander = None
        self.mean, self.std = mean_and_std(levels, floor)
        if self.cfg.per_sensor_fraction > 0:
            self.wander = own_wander(levels, self.cfg.per_sensor_fraction, floor)
        if self.trained is not None:
            self.wander = self.trained if self.wander is None else np.maximum(self.wander, self.trained)
        with np.errstate(invalid="ignore"):
            self.normal = np.nan_to_num(np.nanmax(self.scores(levels), axis=0), nan=0.0)
        self._tracked = (None, None)
        return True

    def scores(self, level: np.ndarray) -> np.ndarray:
        """(…, N) non-negative distances of levels from the profile (0 for excluded/unknown)."""
        if self.mean is None:
            return np.zeros_like(np.asarray(level, np.float64))
        d = self.cfg.weight * np.abs(np.asarray(level, np.float64) - self.mean) / self.std
        if self.wander is not None:
            d = d / self.wander
        return np.where(self.used & np.isfinite(d), d, 0.0)

    def forget_last_tick(self) -> None:
        """The state was replaced (a checkpoint restore): the next tick is no retry of the last one."""
        self._tracked = (None, None)

    def track(self, level: np.ndarray, distance: np.ndarray, tick: float,
              missing: np.ndarray | None = None) -> None:
        """After scoring tick `tick` (its `distance`, from `scores(level)`), let μ follow the level where
        the sensor is calm (`track_half_life_ticks`, above); the next tick is scored with the new μ.
        Scoring the same tick again starts from the μ before it, so it gives the same."""
        half_life = self.cfg.track_half_life_ticks
        if half_life <= 0 or self.mean is None or self.normal is None:
            return
        if self._tracked[0] == tick:
            self.mean = self._tracked[1]
        self._tracked = (tick, self.mean)
        read = np.ones(len(distance), bool) if missing is None else ~np.asarray(missing, bool).any(axis=0)
        level = np.asarray(level, np.float64)
        calm = self.used & read & np.isfinite(level) & (distance <= self.normal)
        if calm.any():
            rate = 1.0 - 0.5 ** (1.0 / half_life)
            self.mean = np.where(calm, self.mean + rate * (np.where(calm, level, 0.0) - self.mean), self.mean)

    def describe(self) -> dict:
        return {"fitted": self.fitted, "ticks": self.ticks, "half_life_ticks": self.cfg.half_life_ticks,
                "drifting": list(self.cfg.drifting or ()), "weight": self.cfg.weight,
                "lasting_shift": self.cfg.lasting_shift, "track_half_life_ticks": self.cfg.track_half_life_ticks,
                "scale_half_life_ticks": self.cfg.scale_half_life_ticks,
                "per_sensor_fraction": self.cfg.per_sensor_fraction, "trained_wander": self.cfg.trained_wander,
                "wander": None if self.wander is None else [round(float(w), 3) for w in self.wander]}


def mean_and_std(levels: np.ndarray, floor: np.ndarray | float = SIGMA_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """Per sensor of (n, N) `levels` (NaN = unknown): the mean, and the std at least `floor` and SIGMA_FLOOR."""
    return np.nanmean(levels, axis=0), np.maximum(np.maximum(np.nanstd(levels, axis=0), floor), SIGMA_FLOOR)


def own_wander(levels: np.ndarray, fraction: float, floor: np.ndarray | float = SIGMA_FLOOR) -> np.ndarray:
    """(N,) ≥ 1: how far each sensor's level in the last `fraction` of (n, N) warm-up `levels` wanders
    past a fit (μ', σ') on the rest (`wander_ratio`)."""
    cut = int(round(len(levels) * (1.0 - fraction)))
    return wander_ratio(levels[:cut], levels[cut:], floor)


def wander_ratio(fit: np.ndarray, held: np.ndarray, floor: np.ndarray | float = SIGMA_FLOOR) -> np.ndarray:
    """(N,) ≥ 1: how far each sensor's (n, N) levels `held` (NaN = unknown) wander past a fit (μ', σ')
    on the levels `fit` before them, as a multiple of that fit's own largest distance there (in sample).
    1 where the held-out part stays inside the in-sample range, or where either part is empty.
    What `per_sensor_fraction` measures inside the warm-up, and the converter over a training plant's
    normal recording (convert/wander.py: the bundle's `profile_wander`)."""
    if not len(fit) or not len(held):
        return np.ones(np.shape(fit)[1])
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)         # an all-NaN sensor: ratio NaN → 1
        mean, std = mean_and_std(fit, floor)
        inside = np.nanmax(np.abs(fit - mean) / std, axis=0)
        outside = np.nanmax(np.abs(held - mean) / std, axis=0)
        ratio = outside / np.maximum(inside, SIGMA_FLOOR)
    return np.maximum(np.nan_to_num(ratio, nan=1.0, posinf=1.0), 1.0)


#: A level σ is at least this share of the sensor's own warm-up spread: a sensor whose recent mean
#: hardly wandered during warm-up (a set-point) does not hold an alert on its noise.
LEVEL_FLOOR_OF_SPREAD = 0.25


class LevelMonitor:
    """How far each sensor's recent *observed* level is from its warm-up level, in σ — what
    `alerts.hold_sigma` judges an open alert's driver sensors by (agent/alerts.py).

        level_t[s] = EW mean of the window's observed values of s (half-life `half_life`)
        distance_t[s] = |level_t[s] − μ[s]| / σ[s]     μ, σ: over the warm-up windows' levels

    Why a second, model-free level: a forecaster's error falls back once a lasting shift is in its
    window, and the fallback's forecasters learn the new level, so an alert about a lasting shift
    (a closed valve) ends while the shift goes on. The observed level keeps saying "unlike warm-up"
    for as long as the shift lasts, whichever tier scores. Sensors in `excluded` (the profile's
    `drifting` ones, whose level drifts in normal operation) never hold an alert — or, with `excluding`, only
    while it says so (a defaulted `drifting` list: while a model tier scores, not the fallback; skab34). Fitted once at
    warm-up, like the profile; no state per tick (the level is read from the window).
    """

    def __init__(self, sensors: list[str], half_life: float, excluded: list[str] | tuple[str, ...] | None = (),
                 excluding: Callable[[], bool] | None = None):
        self.sensors = list(sensors)
        self.half_life = float(half_life)
        self.used = np.array([s not in set(excluded or ()) for s in self.sensors])
        self.excluding = excluding      # None: `excluded` always left out; else only while it says True
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    def fit(self, z: np.ndarray, missing: np.ndarray, steps: int, min_windows: int = 10) -> bool:
        """Fit on warm-up rows (normalised z, missing; oldest first) as windows of `steps` rows; False
        (and unfitted) when fewer than `min_windows` windows have every sensor observed somewhere."""
        z = np.asarray(z, np.float64)
        known = ~np.asarray(missing, bool)
        filled = np.where(known, z, 0.0)
        levels = np.array([ew_level(filled[i - steps + 1:i + 1], known[i - steps + 1:i + 1], self.half_life)
                           for i in range(steps - 1, len(z))]).reshape(-1, z.shape[1])
        counts = np.isfinite(levels).sum(axis=0)
        if not counts.size or counts.min() < min_windows:
            self.mean = self.std = None
            return False
        spread = np.nanstd(np.where(known, z, np.nan), axis=0)
        self.mean = np.nanmean(levels, axis=0)
        self.std = np.maximum(np.maximum(np.nanstd(levels, axis=0), LEVEL_FLOOR_OF_SPREAD * spread), SIGMA_FLOOR)
        return True

    def distances(self, values: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """(N,) σ-distances of a window's (T, N) observed level from warm-up's; 0 where excluded,
        unknown or unfitted."""
        if self.mean is None:
            return np.zeros(len(self.sensors))
        known = ~np.asarray(missing, bool)
        level = ew_level(np.where(known, values, 0.0), known, self.half_life)
        d = np.abs(level - self.mean) / self.std
        used = self.used if self.excluding is None or self.excluding() else True
        return np.where(used & np.isfinite(d), d, 0.0)

    def state_dict(self) -> dict | None:
        return None if self.mean is None else {"mean": self.mean, "std": self.std}

    def restore(self, state: dict | None, where: str = "level") -> None:
        """Resume from state_dict(); ValueError naming the key when it does not fit (nothing changed)."""
        if state is None:
            self.mean = self.std = None
            return
        n = len(self.sensors)
        mean = np.asarray(state["mean"], np.float64).reshape(-1)
        std = np.asarray(state["std"], np.float64).reshape(-1)
        if mean.shape != (n,) or std.shape != (n,):
            raise ValueError(f"{where}: expected {n} sensors, got {mean.size} / {std.size}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError(f"{where}.std: not positive and finite")
        self.mean, self.std = mean, std
