"""Adaptive score threshold: peaks-over-threshold (SPOT, Siffer et al. 2017) or a streaming quantile.

POT: scores above an initial high quantile t are "peaks"; their excesses follow a generalised
Pareto distribution (σ, γ). The threshold with exceedance probability `risk` is

    z = t + σ/γ · ((risk · n / n_peaks)^(-γ) − 1)          (γ ≠ 0)
    z = t − σ · ln(risk · n / n_peaks)                      (γ = 0)

The GPD is fitted by the method of moments: cheap enough to refit on every new peak.
`calibrate` does the batch fit (warm-up, or the converter's validation data) and returns a
plain dict that goes into a bundle manifest; `AdaptiveThreshold(cfg, calibration)` resumes it.
"""
from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from .checkpoint import array_of

if TYPE_CHECKING:
    from .config import ThresholdConfig

MAX_PEAKS = 2000
MAX_RECENT = 20000


def fit_gpd(excesses: np.ndarray) -> tuple[float, float]:
    """(σ, γ) of a generalised Pareto distribution by the method of moments, γ kept in [-0.5, 0.5]."""
    if excesses.size < 2:
        m = float(excesses.mean()) if excesses.size else 1e-6
        return max(m, 1e-6), 0.0
    m = float(excesses.mean())
    v = float(excesses.var())
    if v <= 1e-12 or m <= 0:
        return max(m, 1e-6), 0.0
    gamma = 0.5 * (1.0 - m * m / v)
    gamma = min(0.5, max(-0.5, gamma))
    sigma = m * (1.0 - gamma)          # mean of a GPD excess is σ / (1 − γ)
    return max(sigma, 1e-9), gamma


def pot_value(init: float, sigma: float, gamma: float, n: int, n_peaks: int, risk: float) -> float:
    if n_peaks == 0 or n == 0:
        return init
    r = risk * n / n_peaks
    if abs(gamma) < 1e-6:
        return init - sigma * math.log(r)
    return init + sigma / gamma * (r ** (-gamma) - 1.0)


def calibrate(scores: np.ndarray, cfg: ThresholdConfig) -> dict:
    """Fit the threshold on calibration scores (assumed mostly normal). `cfg` is a ThresholdConfig."""
    scores = np.asarray(scores, float)
    scores = scores[np.isfinite(scores)]
    if scores.size < 10:
        raise ValueError(f"need at least 10 finite calibration scores, got {scores.size}")
    init = float(np.quantile(scores, cfg.init_quantile))
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
        out["value"] = float(np.quantile(scores, 1.0 - cfg.risk))
        out["recent"] = [float(x) for x in scores[-MAX_RECENT:]]
    out["value"] = max(out["value"], cfg.min_threshold)
    return out


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

    def update(self, score: float) -> None:
        if not self.cfg.adapt or not math.isfinite(score) or score > self.value:
            return
        self.n += 1
        if self.cfg.method == "pot":
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
                self._set(float(np.quantile(np.fromiter(self.recent, float), 1.0 - self.cfg.risk)))

    def _set(self, value: float) -> None:
        self.value = max(value, self.cfg.min_threshold)

    # -- checkpoint (agent/checkpoint.py) ------------------------------------------------------

    def state_dict(self) -> dict:
        return {"init": self.init, "n": self.n, "n_peaks": self.n_peaks, "sigma": self.sigma, "gamma": self.gamma,
                "value": self.value, "peaks": np.fromiter(self.peaks, float, len(self.peaks)),
                "recent": np.fromiter(self.recent, float, len(self.recent))}

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
        thr = cls(cfg, {"init_threshold": numbers["init"], "n": n, "n_peaks": n_peaks, "sigma": numbers["sigma"],
                        "gamma": numbers["gamma"], "value": numbers["value"],
                        "peaks": peaks.tolist(), "recent": recent.tolist()})
        return thr
