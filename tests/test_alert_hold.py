"""An open alert held by its driver sensors' level (alerts.hold_sigma, agent/alerts.py; the level:
agent/scorers/profile.py LevelMonitor).

A forecaster's error falls back once a lasting shift is in its window, so an alert about a lasting
shift ended while the shift went on. Held, it stays open — and its ticks keep counting — for as
long as a driver sensor's observed level stays off its warm-up level, and ends once the shift is
over; a sensor that is not what the alert is about holds nothing; `hold_fraction` lets go of the
residue an anomaly leaves; the fitted level survives a checkpoint; bad keys are refused.
"""
from __future__ import annotations


import numpy as np
import pytest

from agent import config
from agent.alerts import AlertTracker
from agent.checkpoint import decode, encode
from agent.config import AlertConfig
from agent.pipeline import Pipeline
from agent.scorers.profile import LevelMonitor
from agent.typed import ConfigError
from agent.window import Row


def explain_a():
    return {"top_sensors": [{"sensor": "a", "score": 9.0, "contribution": 0.8},
                            {"sensor": "b", "score": 1.0, "contribution": 0.2}], "top_steps": [], "origin": None}


def drive(tracker, scores, levels, threshold=5.0):
    """`levels[i]`: the {sensor: σ} the tracker reads on tick i (None: no level given)."""
    events = []
    for i, (s, lv) in enumerate(zip(scores, levels)):
        events += tracker.observe(float(i), s, threshold, "numpy", lambda: {"model_id": "m"}, explain_a,
                                  levels=None if lv is None else (lambda lv=lv: lv))
    return events


def cfg(**over):
    return AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=100, **over)


# ---- the tracker ----------------------------------------------------------------------------------

def test_a_driver_off_its_level_holds_the_alert_and_its_end_moves_on():
    scores = [1, 9, 9, 9] + [1] * 20 + [1] * 6
    levels = [{"a": 0.0, "b": 0.0}] * 4 + [{"a": 4.0, "b": 0.0}] * 20 + [{"a": 1.0, "b": 0.0}] * 6
    ev = drive(AlertTracker(cfg(hold_sigma=3.0), "gw", "site", 1.0), scores, levels)
    assert [e.event for e in ev] == ["new", "end"]
    end = ev[-1]
    assert end.end == 23.0 and end.ts == 26.0 and end.reason == "cleared"   # held to tick 23, then 3 ticks
    assert end.ticks == 3                                                     # ticks above the threshold
    # off (hold_sigma 0), or no level given: the alert ends 3 ticks after the score fell
    for tracker, lv in ((AlertTracker(cfg(), "gw", "site", 1.0), levels),
                        (AlertTracker(cfg(hold_sigma=3.0), "gw", "site", 1.0), [None] * len(levels))):
        ev = drive(tracker, scores, lv)
        assert [e.event for e in ev] == ["new", "end"] and ev[-1].end == 3.0 and ev[-1].ts == 6.0


def test_a_sensor_that_did_not_drive_the_alert_holds_nothing():
    scores = [1, 9, 9, 9] + [1] * 10
    levels = [{"a": 0.0, "b": 0.0}] * 4 + [{"a": 0.5, "b": 8.0}] * 10     # b wandered, a is back
    ev = drive(AlertTracker(cfg(hold_sigma=3.0), "gw", "site", 1.0), scores, levels)
    assert [e.event for e in ev] == ["new", "end"] and ev[-1].end == 3.0


def test_hold_fraction_lets_go_of_a_residue_far_below_the_excursion():
    scores = [1, 9, 9, 9] + [1] * 12
    levels = [{"a": 0.0}, {"a": 20.0}, {"a": 20.0}, {"a": 20.0}] + [{"a": 4.0}] * 12
    held = drive(AlertTracker(cfg(hold_sigma=3.0), "gw", "site", 1.0), scores, levels)
    assert [e.event for e in held] == ["new"]                    # 4 σ ≥ 3: still held at the end
    let_go = drive(AlertTracker(cfg(hold_sigma=3.0, hold_fraction=0.3), "gw", "site", 1.0), scores, levels)
    assert [e.event for e in let_go] == ["new", "end"] and let_go[-1].end == 3.0   # 4 < 0.3 × 20


def test_a_held_alert_survives_the_trackers_state_round_trip():
    tracker = AlertTracker(cfg(hold_sigma=3.0, hold_fraction=0.3), "gw", "site", 1.0)
    drive(tracker, [1, 9, 9, 9, 1], [{"a": 10.0}] * 5)
    state = tracker.state_dict()
    again = AlertTracker(cfg(hold_sigma=3.0, hold_fraction=0.3), "gw", "site", 1.0)
    again.restore(state)
    assert again.open.drivers == ["a"] and again.open.level_peak == {"a": 10.0}
    ev = again.observe(5.0, 1.0, 5.0, "numpy", lambda: {"model_id": "m"}, explain_a, levels=lambda: {"a": 3.5})
    assert ev == [] and again.open.last_above == 5.0             # 3.5 ≥ max(3, 0.3 × 10): held


# ---- the level ------------------------------------------------------------------------------------

def test_the_level_monitor_scores_a_shifted_window_and_not_an_excluded_sensor():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 3))
    missing = np.zeros_like(z, bool)
    mon = LevelMonitor(["a", "b", "c"], half_life=10.0, excluded=["c"])
    assert mon.fit(z, missing, steps=32) and mon.fitted
    window = rng.standard_normal((32, 3)) + np.array([3.0, 0.0, 9.0])
    d = mon.distances(window, np.zeros((32, 3), bool))
    assert d[0] > 3 * d[1] and d[0] > 4.0
    assert d[2] == 0.0                                   # excluded (a drifting sensor)
    gone = np.zeros((32, 3), bool)
    gone[:, 0] = True
    assert mon.distances(window, gone)[0] == 0.0         # nothing observed: nothing to hold on
    short = LevelMonitor(["a", "b", "c"], 10.0)
    assert not short.fit(z[:35], missing[:35], steps=32) and (short.distances(window, gone) == 0).all()


def test_the_level_state_is_checked_before_it_is_used():
    mon = LevelMonitor(["a", "b"], 10.0)
    with pytest.raises(ValueError, match="level: expected 2 sensors"):
        mon.restore({"mean": [0.0], "std": [1.0]})
    with pytest.raises(ValueError, match=r"level\.std: not positive"):
        mon.restore({"mean": [0.0, 0.0], "std": [1.0, 0.0]})
    assert not mon.fitted
    mon.restore({"mean": [0.0, 1.0], "std": [1.0, 2.0]})
    assert mon.fitted and mon.state_dict()["std"].tolist() == [1.0, 2.0]


# ---- through the daemon's pipeline ----------------------------------------------------------------

SENSORS = ["P1_flow", "P1_press", "P1_temp"]


def pipeline_cfg(alerts: dict):
    return config.from_dict({
        "sensors": SENSORS, "sources": [{"type": "stdin"}], "tick_s": 1, "topology": "group",
        "window": {"steps": 16}, "warmup": {"ticks": 300}, "scoring": {"chain": ["numpy"]},
        # accept_after_s: the models learn a change that outlasts 20 s, so their score falls back
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 5, "cooldown_ticks": 0, "accept_after_s": 20,
                   **alerts}})


def shifted_rows(n: int, lo: int, hi: int, shift: float, seed: int = 0) -> list[Row]:
    """AR(1) noise; P1_flow stepped by `shift` (in units of its noise σ) on ticks lo..hi-1: a lasting shift."""
    rng = np.random.default_rng(seed)
    x = np.zeros(len(SENSORS))
    out = []
    for t in range(n):
        x = 0.5 * x + rng.normal(size=len(SENSORS))
        values = 10.0 + x + np.array([shift * 1.15 if lo <= t < hi else 0.0, 0.0, 0.0])
        none = np.zeros(len(SENSORS), bool)
        out.append(Row(ts=1e9 + t, values=values, missing=none, carried=none))
    return out


def alert_ticks(cfg, rows) -> tuple[np.ndarray, Pipeline]:
    """Per tick, whether an alert was open (from the tick it was raised to its end event's `end`)."""
    pipe = Pipeline(cfg)
    events = []
    for r in rows:
        events += pipe.step(r).alerts
    events += pipe.close(rows[-1].ts, "end of data")
    t = np.array([r.ts for r in rows])
    active = np.zeros(len(rows), bool)
    raised = None
    for ev in events:
        if ev.event == "new":
            raised = ev.ts
        elif ev.event == "end":
            active |= (t >= raised) & (t <= ev.end)
    return active, pipe


def test_a_lasting_shift_keeps_its_alert_open_with_the_hold_and_not_without():
    lo, hi, n = 400, 700, 800
    rows = shifted_rows(n, lo, hi, shift=6.0)
    held, pipe = alert_ticks(pipeline_cfg({"hold_sigma": 3.0, "hold_fraction": 0.3}), rows)
    plain, _ = alert_ticks(pipeline_cfg({}), rows)
    assert pipe.level is not None and pipe.level.fitted
    inside = np.arange(lo + 5, hi)
    assert held[inside].mean() > 0.95              # the whole shift, not just its onset
    assert plain[inside].mean() < 0.5              # the forecaster followed the new level
    assert held[hi + 40:].mean() == 0.0            # and it ends once the shift is over


def test_a_restored_pipeline_holds_like_one_that_kept_running():
    cfg = pipeline_cfg({"hold_sigma": 3.0})
    rows = shifted_rows(600, 400, 520, shift=6.0)
    running = Pipeline(cfg)
    for r in rows[:450]:
        running.step(r)
    assert running.alerts.active
    restarted = Pipeline(cfg)
    restarted.restore(decode(encode({"config": {}}, running.state_dict()))[1])
    assert np.array_equal(restarted.level.mean, running.level.mean)
    for r in rows[450:]:
        a, b = running.step(r), restarted.step(r)
        assert [e.event for e in a.alerts] == [e.event for e in b.alerts]
        assert running.alerts.active == restarted.alerts.active


def test_hold_keys_are_validated_with_their_key_paths():
    base = {"sensors": ["a"], "sources": [{"type": "stdin"}]}
    with pytest.raises(ConfigError) as err:
        config.from_dict({**base, "alerts": {"hold_sigma": -1, "hold_fraction": 2, "hold_half_life_ticks": 0}})
    text = str(err.value)
    assert "alerts.hold_sigma" in text and "alerts.hold_fraction" in text and "alerts.hold_half_life_ticks" in text
    ok = config.from_dict({**base, "alerts": {"hold_sigma": 3, "hold_fraction": 0.3}})
    assert (ok.alerts.hold_sigma, ok.alerts.hold_fraction, ok.alerts.hold_half_life_ticks) == (3.0, 0.3, 10.0)
