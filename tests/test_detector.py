"""The detection rule (agent/detector.py), once for the pipeline, the hot-swap shadow and the baselines."""
from __future__ import annotations

import numpy as np

from agent.config import AlertConfig, ThresholdConfig
from agent.detector import Detector
from agent.threshold import AdaptiveThreshold, calibrate


def detector(accept_after_s: float = 3600.0) -> Detector:
    calm = np.random.default_rng(0).exponential(size=2000)
    thr = AdaptiveThreshold(ThresholdConfig(method="quantile"), calibrate(calm, ThresholdConfig(method="quantile")))
    alerts = AlertConfig(min_duration_ticks=2, clear_ticks=2, cooldown_ticks=0, accept_after_s=accept_after_s)
    return Detector(alerts, "gw", "lab", 10.0, {"numpy": thr})


def run(det: Detector, scores: list[float]):
    learned, decisions = [], []
    for i, s in enumerate(scores):
        d = det.step(10.0 * i, s, "numpy", lambda: {"model_id": "m"},
                     lambda: {"top_sensors": [], "top_steps": [], "origin": None}, learn=lambda i=i: learned.append(i))
        decisions.append(d)
    return learned, decisions


def test_calm_ticks_teach_the_models_and_the_threshold_outside_alerts():
    det = detector()
    limit = det.threshold("numpy")
    high = 10 * limit
    learned, decisions = run(det, [0.1, 0.2, high, high, high, 0.1, 0.1, 0.1])
    assert [d.above for d in decisions] == [False, False, True, True, True, False, False, False]
    assert [e.event for d in decisions for e in d.events] == ["new", "end"]
    # Models learn on every calm tick, also while the alert is open (ticks 5, 6); never on high ones.
    assert learned == [0, 1, 5, 6, 7]
    assert all(d.threshold == limit for d in decisions[:3])


def test_a_change_lasting_accept_after_is_learned_as_the_new_normal():
    det = detector(accept_after_s=30.0)
    high = 10 * det.threshold("numpy")
    learned, decisions = run(det, [0.1] + [high] * 8)
    assert det.tracker.active
    # The alert opened at tick 1 (start 10 s); from 40 s on (≥ 30 s later) high ticks are learned.
    assert learned == [0, 4, 5, 6, 7, 8] and all(d.calm for d in decisions[4:])


def test_close_ends_an_open_alert_once():
    det = detector()
    high = 10 * det.threshold("numpy")
    run(det, [high, high, high])
    assert [e.event for e in det.close(100.0, "numpy", lambda: {}, "shutdown")] == ["end"]
    assert det.close(110.0, "numpy", lambda: {}, "shutdown") == []


def test_quiet_s_keeps_the_ticks_after_an_exceedance_from_teaching_the_threshold():
    """An incident's scores hover about the threshold: the ticks between its peaks are not normal.
    With threshold.quiet_s the threshold learns nothing for that long after a tick above it."""
    calm = np.random.default_rng(0).exponential(size=2000)
    counts = {}
    for quiet_s in (0.0, 50.0):
        cfg = ThresholdConfig(method="quantile", quiet_s=quiet_s)
        thr = AdaptiveThreshold(cfg, calibrate(calm, cfg))
        det = Detector(AlertConfig(min_duration_ticks=3, cooldown_ticks=0), "gw", "lab", 10.0, {"numpy": thr})
        high = 1.1 * det.threshold("numpy")
        learned = []
        for k, s in enumerate([0.1, high, 0.2, high, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]):
            before = thr.n
            d = det.step(10.0 * k, s, "numpy", lambda: {"model_id": "m"},
                         lambda: {"top_sensors": [], "top_steps": [], "origin": None})
            assert not d.events                  # never two ticks in a row above: no alert opens
            learned += [k] if thr.n > before else []
        counts[quiet_s] = learned
    assert counts[0.0] == [0, 2, 4, 5, 6, 7, 8, 9, 10, 11]
    assert counts[50.0] == [0, 8, 9, 10, 11]         # 50 s after the last tick above (30 s)


def test_quiet_s_is_validated():
    import pytest
    from agent import config
    from agent.typed import ConfigError
    with pytest.raises(ConfigError, match=r"threshold\.quiet_s: must be >= 0"):
        config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}], "threshold": {"quiet_s": -1}})
