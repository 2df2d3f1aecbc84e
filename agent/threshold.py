"""Adaptive score threshold: peaks-over-threshold (SPOT, Siffer et al. 2017) or a streaming quantile.

POT: scores above an initial high quantile t are "peaks"; their excesses follow a generalised
Pareto distribution (σ, γ). The threshold with exceedance probability `risk` is

    z = t + σ/γ · ((risk · n / n_peaks)^(-γ) − 1)          (γ ≠ 0)
    z = t − σ · ln(risk · n / n_peaks)                      (γ = 0)

The value is never below t: the tail is fitted above t and says nothing under it, so when the peak
rate falls to the risk (risk · n / n_peaks ≥ 1) the value stays at t and the log says so once
(corridor13; before it the value slid down every 256 calm ticks without end).

The GPD is fitted by the method of moments: cheap enough to refit on every new peak.
`calibrate` does the batch fit (warm-up, or the converter's validation data) and returns a
plain dict that goes into a bundle manifest; `AdaptiveThreshold(cfg, calibration)` resumes it.

Two options let it follow a stream whose scores change after calibration (NAB's bursty Twitter
volumes: variability after the warm-up far above the warm-up's):
- `learn_above` c > 0: outside alerts a score above the threshold teaches it too, counted as
  min(score, c × threshold). Learned only from calm ticks, the fit is censored at the threshold:
  a stream whose scores grew never shows it the exceedances, and keeps alarming for days.
  Inside alerts nothing is learned (tried: the threshold then learns the anomalies themselves
  and misses the next ones).
- `memory_ticks` M > 0: every 256 learned ticks, POT is fitted again on the last M learned
  scores, starting point included, so one burst in the warm-up stops setting the threshold.

A third follows the clock (`recurring_period_s` P > 0, RecurringLevel): a job that spikes every
night at about 03:00 (AWS metrics, a plant's daily purge) raises a score at a time of day that
wanders by half an hour, so neither the seasonal profile's 5-min bins nor the tail fit hold it,
and it alarms every day. The threshold in force at t is at least the score that the stream
reached within ±`recurring_tolerance_s` of t's phase on `recurring_cycles` of the previous
RECURRING_MEMORY_CYCLES periods: what happened at this time on k earlier days is not news. It
learns every tick's score, inside alerts too (the first spike is an alert; the ones after it
are the pattern).

A fourth is a second scale (`likelihood.mean_ticks` h > 0, agent/likelihood.py): the mean of
the last h scores against the long-run spread of such means, HTM's anomaly likelihood. The
threshold in force is the lower of the tick threshold and the score that would put that mean in
its far tail, so a stretch of moderately high scores alerts even when no single tick is rare;
the recurring level still bounds both from below.

A fifth scales the tick threshold by the clock (`clock_scale_period_s`, agent/clock_scale.py):
the fitted value × the typical score at this time of day against the mean over the day, POT
learning score / that factor — a stream whose noise follows the clock (busy afternoons).
"""
from __future__ import annotations

import logging
import math
import sys
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from .checkpoint import array_of
from .clock_scale import ClockScale
from .likelihood import MeanLikelihood
from .quantile import quantile

if TYPE_CHECKING:
    from .config import ThresholdConfig

log = logging.getLogger("stad.threshold")

MAX_PEAKS = 2000
MAX_RECENT = 20000
#: The recurring level looks back this many periods (a week of days).
RECURRING_MEMORY_CYCLES = 7
#: Bins per period: 1 min each, at most this many (a day in 1-min bins; a week in 7-min bins).
RECURRING_MAX_BINS = 1440
#: The largest float: POT's tail extrapolated past it is held there (review46: +inf alerted on nothing and the
#: checkpoint that kept it was refused at the next start).
FLOAT_MAX = sys.float_info.max
#: A mean excess over this is fitted on the excesses over the largest (fit_gpd): under it no moment overflows
#: (Σ(x − m)² ≤ (n·m)², < FLOAT_MAX for any n under 1e14), and the fit is as it always was, bit for bit.
HUGE_MEAN = 1e140


def fit_gpd(excesses: np.ndarray) -> tuple[float, float]:
    """(σ, γ) of a generalised Pareto distribution by the method of moments, γ kept in [-0.5, 0.5]."""
    if excesses.size < 2:
        m = float(excesses.mean()) if excesses.size else 1e-6
        return max(m, 1e-6), 0.0
    m = float(excesses.mean())
    if not m <= HUGE_MEAN:
        # Excesses near the float's top (review46): the moments overflow (v and m² +inf, their ratio NaN, γ then
        # −0.5 whatever the tail, σ +inf). γ does not depend on the scale: fitted on the excesses over the largest,
        # σ scaled back (held at the largest float). An excess past the largest float (a score's distance from a start
        # far below zero) is held at it and a NaN one (a damaged checkpoint's peaks) left out: the quotient is then at
        # most 1 and the fit below ends (review47: NaN again, the recursion did not end).
        held = np.minimum(excesses[~np.isnan(excesses)], FLOAT_MAX)
        top = float(held.max()) if held.size else 0.0
        if not top > 0:
            return fit_gpd(held)
        sigma, gamma = fit_gpd(held / top)
        return min(sigma * top, FLOAT_MAX), gamma
    v = float(excesses.var())
    if v <= 1e-12 or m <= 0:
        return max(m, 1e-6), 0.0
    gamma = 0.5 * (1.0 - m * m / v)
    gamma = min(0.5, max(-0.5, gamma))
    sigma = m * (1.0 - gamma)          # mean of a GPD excess is σ / (1 − γ)
    return max(sigma, 1e-9), gamma


def pot_value(init: float, sigma: float, gamma: float, n: int, n_peaks: int, risk: float) -> float:
    """POT's value, never below its starting point `init`: the tail is fitted above init and says nothing
    under it. When the risk is at least the peak rate (r = risk · n / n_peaks ≥ 1) the value is init —
    otherwise calm ticks, which raise n and never a peak once the value is under init, lower it every
    256 learned ticks without end (corridor12: 9.74 → 6.25 in two days; corridor13)."""
    if n_peaks == 0 or n == 0:
        return init
    r = risk * n / n_peaks
    if r >= 1.0:
        return init             # (the formula's value at r = 1, without a huge σ/γ's inf × 0 = NaN: review46)
    if abs(gamma) < 1e-6:
        return min(init - sigma * math.log(r), FLOAT_MAX)
    return min(init + sigma / gamma * (r ** (-gamma) - 1.0), FLOAT_MAX)


def calibrate(scores: np.ndarray, cfg: ThresholdConfig) -> dict:
    """Fit the threshold on calibration scores (assumed mostly normal). `cfg` is a ThresholdConfig."""
    scores = np.asarray(scores, float)
    scores = scores[np.isfinite(scores)]
    if scores.size < 10:
        raise ValueError(f"need at least 10 finite calibration scores, got {scores.size}")
    init = float(quantile(scores, cfg.init_quantile))
    with np.errstate(over="ignore"):        # (an excess past the largest float: held there by fit_gpd, review47)
        excess = scores[scores > init] - init
    sigma, gamma = fit_gpd(excess)
    out = {
        "method": cfg.method, "risk": cfg.risk, "init_quantile": cfg.init_quantile,
        "init_threshold": init, "n": int(scores.size), "n_peaks": int(excess.size),
        "sigma": sigma, "gamma": gamma,
        "peaks": [float(x) for x in np.sort(excess)[-MAX_PEAKS:]],
    }
    if cfg.method == "pot":
        out["value"] = pot_value(init, sigma, gamma, scores.size, excess.size, cfg.risk)
    else:
        out["value"] = float(quantile(scores, 1.0 - cfg.risk))
        out["recent"] = [float(x) for x in scores[-MAX_RECENT:]]
    out["value"] = max(out["value"], cfg.min_threshold)
    return out


class RecurringLevel:
    """The score a stream reached at about this phase of the period on k earlier cycles.

    A ring of RECURRING_MEMORY_CYCLES + 1 cycles (the current one too) × bins of the period holds
    each bin's largest score; `level(ts)` takes, for each of the previous cycles, the largest score
    within ±tolerance of ts's phase (across the cycle boundary too), and returns the k-th largest
    of those (0 while fewer than k cycles reached anything there)."""

    def __init__(self, period_s: float, tolerance_s: float, cycles: int):
        self.period = float(period_s)
        self.bins = int(min(RECURRING_MAX_BINS, max(1, self.period // 60)))
        self.width = self.period / self.bins
        self.reach = int(math.ceil(tolerance_s / self.width))
        self.k = int(cycles)
        slots = RECURRING_MEMORY_CYCLES + 1
        self.peak = np.zeros((slots, self.bins))
        self.cycle = np.full(slots, -1, dtype=np.int64)
        self._key: tuple[int, int] | None = None
        self._level = 0.0

    def _locate(self, ts: float) -> tuple[int, int]:
        c = math.floor(ts / self.period)
        return c, min(int((ts - c * self.period) // self.width), self.bins - 1)

    def learn(self, ts: float, score: float) -> None:
        if not (math.isfinite(ts) and math.isfinite(score)):
            return
        c, b = self._locate(ts)
        slot = c % len(self.cycle)
        if self.cycle[slot] != c:
            if self.cycle[slot] > c:
                return                              # older than what the slot holds
            self.peak[slot] = 0.0
            self.cycle[slot] = c
        if score > self.peak[slot, b]:
            self.peak[slot, b] = score

    def level(self, ts: float) -> float:
        if not math.isfinite(ts):
            return 0.0
        c, b = self._locate(ts)
        if (c, b) == self._key:                     # earlier cycles do not change within a bin
            return self._level
        back = np.arange(1, RECURRING_MEMORY_CYCLES + 1)[:, None]
        idx = (c - back) * self.bins + b + np.arange(-self.reach, self.reach + 1)[None, :]
        cyc, bn = np.divmod(idx, self.bins)
        slot = cyc % len(self.cycle)
        held = np.where(self.cycle[slot] == cyc, self.peak[slot, bn], 0.0).max(axis=1)
        ranked = np.sort(held)[::-1]
        self._key, self._level = (c, b), float(ranked[self.k - 1])
        return self._level

    def shift_time(self, delta: float) -> None:
        """The time base moved by `delta` s (agent/timebase.py): the cycles held move by whole cycles,
        one more rather than one fewer, so the new base's cycle is never older than one held."""
        dc = math.floor(delta / self.period)
        peak, cycle = np.zeros_like(self.peak), np.full_like(self.cycle, -1)
        for c, row in zip(self.cycle.tolist(), self.peak):
            if c >= 0 and c + dc >= 0:
                cycle[(c + dc) % len(cycle)], peak[(c + dc) % len(cycle)] = c + dc, row
        self.peak, self.cycle, self._key = peak, cycle, None

    def state_dict(self) -> dict:
        return {"peak": self.peak.copy(), "cycle": self.cycle.copy()}

    def restore(self, state: dict, name: str) -> None:
        peak = array_of(state["peak"], f"{name}.peak", np.float64, 2)
        cycle = array_of(state["cycle"], f"{name}.cycle", np.int64, 1)
        if peak.shape != self.peak.shape or cycle.shape != self.cycle.shape:
            raise ValueError(f"{name}.peak: shape {peak.shape} does not fit {self.peak.shape} "
                             "(the recurring settings or the tick changed)")
        if not np.isfinite(peak).all():
            raise ValueError(f"{name}.peak: not finite")
        self.peak, self.cycle, self._key = peak, cycle, None


class AdaptiveThreshold:
    """The live threshold. `update(score)` is called once per tick; anomalous scores do not teach it."""

    def __init__(self, cfg: ThresholdConfig, calibration: dict):
        self.cfg = cfg
        self.init = float(calibration["init_threshold"])
        self.n = int(calibration["n"])
        self.peaks: deque[float] = deque(calibration.get("peaks", []), maxlen=MAX_PEAKS)
        # n_peaks may exceed the kept peaks; keep the ratio n_peaks / n as calibrated.
        self.n_peaks = int(calibration.get("n_peaks", len(self.peaks)))
        self.sigma = float(calibration.get("sigma", 1.0))
        self.gamma = float(calibration.get("gamma", 0.0))
        self.recent: deque[float] = deque(calibration.get("recent", []), maxlen=MAX_RECENT)
        self.value = max(float(calibration["value"]), cfg.min_threshold)
        # memory_ticks: the last learned scores, the POT refit's data.
        self.window: deque[float] = deque(calibration.get("window", []), maxlen=max(cfg.memory_ticks, 1))
        self.recurring = (RecurringLevel(cfg.recurring_period_s, cfg.recurring_tolerance_s, cfg.recurring_cycles)
                          if cfg.recurring_period_s > 0 else None)
        self.floor = 0.0            # the recurring level at the tick last judged
        self.mean = MeanLikelihood(cfg.likelihood) if cfg.likelihood.mean_ticks > 0 else None
        self.mean_level = math.inf  # the mean path's score level at the tick last judged
        self.clock = (ClockScale(cfg.clock_scale_period_s, cfg.clock_scale_bins, cfg.clock_scale_raise_only,
                                 cfg.clock_scale_max_ratio)
                      if cfg.clock_scale_period_s > 0 else None)
        self.ratio = 1.0            # the clock's factor on the fitted value at the tick last judged
        self.judge_by_clock = self.clock is not None and cfg.clock_scale_mode == "judge"
        self.said_held = False      # pot_value held the starting point and the log said so (once)
        self.tier = ""              # whose threshold it is, for the log (the Detector names it: its key)
        # Read once (the config does not change under a live threshold; a new one is built from it): the
        # per-tick calls test these flags, not the config's fields (perf55: ~1.8 µs of the tick in at + update).
        self._fixed = self.recurring is None and self.mean is None and self.clock is None
        self._current = (None, 0.0)  # (the value object, current then): `at`'s answer while _fixed
        self._adapt, self._learn_above = cfg.adapt, cfg.learn_above
        self._pot = cfg.method == "pot"
        self._pot_memory = self._pot and cfg.memory_ticks > 0
        self._memory_ticks = cfg.memory_ticks

    @property
    def learns_warmup(self) -> bool:
        """The recurring level, the mean path or the clock's scale is on: `seen_block` wants the
        warm-up's scores (each tier's own), or the pattern of the warm-up days counts for nothing."""
        return self.recurring is not None or self.mean is not None or self.clock is not None

    @property
    def current(self) -> float:
        """The threshold in force at the tick last judged: the fitted value or the mean path's
        level, whichever is lower, and at least the recurring level."""
        # The builtins: written out as comparisons they saved ~0.5 µs, not seen in the whole tick (review11)
        if self._fixed:             # no recurring level, mean path or clock: it changes only with `value`
            value = self.value
            kept, current = self._current
            if value is not kept:   # (the same float object: the same answer, bit for bit)
                current = max(min(value * self.ratio, self.mean_level), self.floor, self.cfg.min_threshold)
                self._current = (value, current)
            return current
        if self.judge_by_clock:
            return max(min(self.value, self.mean_level) * self.ratio, self.floor, self.cfg.min_threshold)
        return max(min(self.value * self.ratio, self.mean_level), self.floor, self.cfg.min_threshold)

    def at(self, ts: float) -> float:
        """The threshold in force at tick time ts (the Detector judges each tick against it)."""
        if self._fixed:             # nothing here moves with time
            return self.current
        if self.recurring is not None:
            self.floor = self.recurring.level(ts)
        if self.mean is not None:
            self.mean_level = self.mean.level(self.init)
        if self.clock is not None:
            self.ratio = self.clock.ratio(ts)
        return self.current

    def seen(self, ts: float, score: float) -> None:
        """Every judged tick's score, alert or not: the recurring level's and the mean path's data."""
        if self._fixed:             # (none of the three)
            return
        if self.recurring is not None:
            self.recurring.learn(ts, score)
        if self.mean is not None:
            self.mean.learn(score, self.init)
        if self.clock is not None:
            self.clock.learn(ts, score, self.value * self.ratio if not self.judge_by_clock else self.value)

    def seen_block(self, ts: np.ndarray, scores: np.ndarray) -> None:
        """Warm-up scores with their tick times, so a pattern of the warm-up days counts."""
        if self.mean is not None:
            self.mean.learn_block(scores, self.init)
        if self.clock is not None:
            for t, s in zip(np.asarray(ts, float).tolist(), np.asarray(scores, float).tolist()):
                self.clock.learn(t, s, self.value)
        if self.recurring is None:
            return
        for t, s in zip(np.asarray(ts, float).tolist(), np.asarray(scores, float).tolist()):
            self.recurring.learn(t, s)

    def update(self, score: float) -> None:
        """Learn one tick's score (the Detector calls it outside alerts: on calm ticks, and on
        every tick when `learn_above` is set)."""
        if not self._adapt or not math.isfinite(score):
            return
        if self.clock is not None and not self.judge_by_clock:     # (without a clock the ratio is 1.0)
            score /= self.ratio         # clock_scale `fit`: POT fits the score against its time of day
        if score > self.value:
            if self._learn_above <= 0:
                return
            score = min(score, self._learn_above * self.value)
        self.n += 1
        if self._pot_memory:
            self.window.append(score)
            if self.n % 256 == 0 and len(self.window) == self._memory_ticks:
                self._refit(np.fromiter(self.window, float))
                return
        if self._pot:
            if score > self.init:
                self.peaks.append(score - self.init)
                self.n_peaks += 1
                self.sigma, self.gamma = fit_gpd(np.fromiter(self.peaks, float))
                self._set(pot_value(self.init, self.sigma, self.gamma, self.n, self.n_peaks, self.cfg.risk))
            elif self.n % 256 == 0:
                # Calm ticks lower the peak rate, so z drifts slowly down toward the risk target.
                self._set(pot_value(self.init, self.sigma, self.gamma, self.n, self.n_peaks, self.cfg.risk))
        else:
            self.recent.append(score)
            if self.n % 256 == 0:
                self._set(float(quantile(np.fromiter(self.recent, float), 1.0 - self.cfg.risk)))

    def _refit(self, scores: np.ndarray) -> None:
        """POT afresh on these scores: starting point, peaks, tail and value."""
        fit = calibrate(scores, self.cfg)
        self.init, self.n, self.n_peaks = fit["init_threshold"], fit["n"], fit["n_peaks"]
        self.sigma, self.gamma = fit["sigma"], fit["gamma"]
        self.peaks = deque(fit["peaks"], maxlen=MAX_PEAKS)
        self._set(fit["value"])

    def _set(self, value: float) -> None:
        self.value = max(value, self.cfg.min_threshold)
        if self.cfg.method == "pot" and not self.said_held and self.n_peaks and \
                self.cfg.risk * self.n / self.n_peaks >= 1.0:
            # Said once: the live peak rate fell to the risk, so pot_value holds the starting point.
            self.said_held = True
            log.warning("%sthreshold.risk %g is above the rate at which the learned scores exceed POT's starting "
                        "point %.4g (%d of %d): the threshold stays at that starting point instead of sliding "
                        "below it; threshold.memory_ticks re-takes the starting point on the recent scores",
                        f"{self.tier} tier: " if self.tier else "", self.cfg.risk, self.init, self.n_peaks, self.n)

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        return {"init": self.init, "n": self.n, "n_peaks": self.n_peaks, "sigma": self.sigma, "gamma": self.gamma,
                "value": self.value, "peaks": np.fromiter(self.peaks, float, len(self.peaks)),
                "window": np.fromiter(self.window, float, len(self.window)),
                "recent": np.fromiter(self.recent, float, len(self.recent)),
                **({} if self.recurring is None else {"recurring": self.recurring.state_dict()}),
                **({} if self.mean is None else {"likelihood": self.mean.state_dict()}),
                **({} if self.clock is None else {"clock_scale": self.clock.state_dict()})}

    @classmethod
    def restored(cls, cfg: ThresholdConfig, state: dict, name: str = "threshold") -> "AdaptiveThreshold":
        """A threshold resumed from its state_dict(); ValueError naming the key when it is not one."""
        numbers = {k: float(state[k]) for k in ("init", "sigma", "gamma", "value")}
        bad = [k for k, v in numbers.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"{name}.{bad[0]}: not finite")
        n, n_peaks = int(state["n"]), int(state["n_peaks"])
        if n < 0 or n_peaks < 0:
            raise ValueError(f"{name}.n: negative count")
        peaks = array_of(state["peaks"], f"{name}.peaks", np.float64, 1)
        recent = array_of(state["recent"], f"{name}.recent", np.float64, 1)
        # A checkpoint from before memory_ticks existed has no window: the refit waits for a full one.
        window = array_of(state.get("window", np.zeros(0)), f"{name}.window", np.float64, 1)
        if not np.isfinite(window).all():
            raise ValueError(f"{name}.window: not finite")
        thr = cls(cfg, {"init_threshold": numbers["init"], "n": n, "n_peaks": n_peaks, "sigma": numbers["sigma"],
                        "gamma": numbers["gamma"], "value": numbers["value"],
                        "peaks": peaks.tolist(), "recent": recent.tolist(), "window": window.tolist()})
        # A checkpoint without the recurring level (older, or taken with it off) starts it empty.
        if thr.recurring is not None and isinstance(state.get("recurring"), dict):
            thr.recurring.restore(state["recurring"], f"{name}.recurring")
        if thr.mean is not None and isinstance(state.get("likelihood"), dict):
            thr.mean.restore(state["likelihood"], f"{name}.likelihood")
        if thr.clock is not None and isinstance(state.get("clock_scale"), dict):
            thr.clock.restore(state["clock_scale"], f"{name}.clock_scale")
        return thr
