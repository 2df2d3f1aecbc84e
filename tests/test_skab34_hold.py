"""A defaulted `scoring.profile.drifting` list leaves the fallback's alert hold alone (skab34 round).

skab32 made the temperature-unit sensors `drifting` by default, for the model tiers' profile; the same list also took
them out of the alert hold's level monitor for every tier, so the numpy fallback let go of an alert about a lasting
temperature shift while the shift went on (SKAB dev: 0.736 / 8.28 → 0.694 / 14.52). Now a defaulted list is left out
of the hold only while a model tier scores (where it is what keeps the tier's FAR at D2's figure); a list the config
gives acts on every tier, as before.
"""
from __future__ import annotations

import numpy as np

from agent import config
from agent.pipeline import Pipeline
from agent.scorers.profile import LevelMonitor
from agent.window import Row

SENSORS = [{"name": "P1_flow", "unit": "l/min"}, {"name": "P1_press", "unit": "bar"}, {"name": "P1_temp", "unit": "degC"}]


def numpy_cfg(profile: dict):
    return config.from_dict({
        "sensors": SENSORS, "sources": [{"type": "stdin"}], "tick_s": 1, "topology": "group",
        "window": {"steps": 16}, "warmup": {"ticks": 300}, "scoring": {"chain": ["numpy"], "profile": profile},
        # accept_after_s: the fallback learns a change that outlasts 20 s, so its score falls back
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 5, "cooldown_ticks": 0, "accept_after_s": 20,
                   "hold_sigma": 3.0, "hold_fraction": 0.3}})


def temp_shift_rows(n: int, lo: int, hi: int, shift: float = 6.0, seed: int = 0) -> list[Row]:
    """AR(1) noise; P1_temp stepped by `shift` noise σ on ticks lo..hi-1: a lasting shift."""
    rng = np.random.default_rng(seed)
    x = np.zeros(len(SENSORS))
    out = []
    for t in range(n):
        x = 0.5 * x + rng.normal(size=len(SENSORS))
        values = 10.0 + x + np.array([0.0, 0.0, shift * 1.15 if lo <= t < hi else 0.0])
        none = np.zeros(len(SENSORS), bool)
        out.append(Row(ts=1e9 + t, values=values, missing=none, carried=none))
    return out


def open_ticks(cfg, rows) -> np.ndarray:
    """Per tick, whether the pipeline's alert tracker had an alert open after it."""
    pipe = Pipeline(cfg)
    return np.array([pipe.step(r) is not None and pipe.alerts.active for r in rows])


def test_the_config_says_whether_it_gave_the_drifting_list():
    defaulted = numpy_cfg({})
    assert defaulted.scoring.profile.drifting == ["P1_temp"] and not defaulted.scoring.profile.drifting_given
    stated = numpy_cfg({"drifting": ["P1_temp"]})
    assert stated.scoring.profile.drifting == ["P1_temp"] and stated.scoring.profile.drifting_given
    assert numpy_cfg({"drifting": []}).scoring.profile.drifting_given


def test_the_level_monitor_leaves_its_excluded_sensors_out_only_while_told_to():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 2))
    model_tier = [True]
    mon = LevelMonitor(["a", "c"], half_life=10.0, excluded=["c"], excluding=lambda: model_tier[0])
    assert mon.fit(z, np.zeros_like(z, bool), steps=32)
    window = rng.standard_normal((32, 2)) + np.array([0.0, 9.0])
    seen = np.zeros((32, 2), bool)
    assert mon.distances(window, seen)[1] == 0.0         # a model tier scores: left out
    model_tier[0] = False
    assert mon.distances(window, seen)[1] > 4.0          # the fallback scores: judged like any sensor


def test_a_defaulted_temperature_holds_the_fallbacks_alert_and_a_stated_one_does_not():
    lo, hi = 400, 700
    rows = temp_shift_rows(800, lo, hi)
    defaulted = open_ticks(numpy_cfg({}), rows)
    stated = open_ticks(numpy_cfg({"drifting": ["P1_temp"]}), rows)
    inside = np.arange(lo + 5, hi)
    assert defaulted[inside].mean() > 0.95               # held for the whole shift, as before skab32
    assert defaulted[hi + 40:].mean() == 0.0             # and it ends once the shift is over
    assert stated[inside].mean() < 0.5                   # a stated drifting sensor never holds
