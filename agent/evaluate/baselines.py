"""Trivial baselines, so every accuracy number has its floor next to it.

- random: i.i.d. uniform scores — what a detector that knows nothing achieves. Through the
  agent's threshold it rarely raises an alert (a POT threshold on uniform scores sits near 1):
  there it is close to the null detector. NAB's own random detector is this score with one
  threshold chosen in hindsight over the corpus (the report's swept NAB figure);
- rolling z-score: per sensor |x − mean| / std over the previous `window` ticks, the tick's
  score being the worst sensor;
- always: an alarm on every scored row (no scores; score_file.run_always).

random and rolling z return (n, N) per-sensor scores for the aligned raw rows; NaN marks "no
score yet". Their scores go through the agent's own threshold and alert lifecycle
(`alert_trace`), so they are judged exactly like the agent's scorers.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..detector import Detector
from ..threshold import AdaptiveThreshold, calibrate
from ..window import std_floor

if TYPE_CHECKING:
    from ..config import AgentConfig

ALWAYS = "always"
BASELINES = ("random", "rolling_z", ALWAYS)


def random_scores(n_rows: int, n_sensors: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n_rows, n_sensors))


def rolling_z_scores(values: np.ndarray, window: int) -> np.ndarray:
    """|x_t − mean(x_{t−w..t−1})| / std(x_{t−w..t−1}) per sensor; NaN inputs are skipped."""
    values = np.asarray(values, float)
    n, n_sensors = values.shape
    out = np.full((n, n_sensors), np.nan)
    finite = np.isfinite(values)
    x = np.where(finite, values, 0.0)
    c = np.vstack([np.zeros(n_sensors), np.cumsum(finite, axis=0)])
    s1 = np.vstack([np.zeros(n_sensors), np.cumsum(x, axis=0)])
    s2 = np.vstack([np.zeros(n_sensors), np.cumsum(x * x, axis=0)])
    t = np.arange(window, n)
    count = c[t] - c[t - window]
    mean = (s1[t] - s1[t - window]) / np.maximum(count, 1)
    var = (s2[t] - s2[t - window]) / np.maximum(count, 1) - mean ** 2
    std = np.maximum(np.sqrt(np.maximum(var, 0.0)), std_floor(mean))
    z = np.abs(values[t] - mean) / std
    out[t] = np.where(finite[t] & (count >= 2), z, np.nan)
    return out


def baseline_scores(name: str, values: np.ndarray, window: int, seed: int = 0) -> np.ndarray:
    if name == "random":
        return random_scores(values.shape[0], values.shape[1], seed)
    if name == "rolling_z":
        return rolling_z_scores(values, window)
    raise ValueError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")


def alert_trace(tick_scores: np.ndarray, ts: np.ndarray, train_ticks: int, cfg: AgentConfig) -> dict:
    """Run baseline tick scores through the agent's Detector (threshold, alert lifecycle).

    The threshold is calibrated on the training ticks only; afterwards it adapts on calm
    ticks as the agent's does. Returns per-tick threshold and the alert events.
    """
    tick_scores = np.asarray(tick_scores, float)
    calib = tick_scores[:train_ticks]
    calib = calib[np.isfinite(calib)]
    thr = AdaptiveThreshold(cfg.threshold, calibrate(calib, cfg.threshold))
    warm = np.isfinite(tick_scores[:train_ticks])
    thr.seen_block(np.asarray(ts[:train_ticks], float)[warm], tick_scores[:train_ticks][warm])
    detector = Detector(cfg.alerts, cfg.node.id, cfg.node.site, cfg.tick_s, {"baseline": thr}, window_ticks=cfg.window.steps)

    def model() -> dict:
        return {"model_id": "baseline"}

    def no_explanation() -> dict:
        return {"top_sensors": [], "top_steps": [], "origin": None}

    thresholds = np.full(tick_scores.size, np.nan)
    events = []
    for i in range(train_ticks, tick_scores.size):
        score = tick_scores[i] if math.isfinite(tick_scores[i]) else 0.0
        decision = detector.step(float(ts[i]), score, "baseline", model, no_explanation)
        thresholds[i] = decision.threshold
        events.extend(decision.events)
    if tick_scores.size:
        events.extend(detector.close(float(ts[-1]), "baseline", model, "end of data"))
    return {"thresholds": thresholds, "events": events}
