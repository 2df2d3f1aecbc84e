"""Alert lifecycle: one incident → exactly one new, bounded updates, one end."""
from agent.alerts import AlertTracker
from agent.config import AlertConfig
from agent.threshold import AdaptiveThreshold, calibrate, fit_gpd
from agent.config import ThresholdConfig

import numpy as np
import pytest


def exp():
    return {"top_sensors": [{"sensor": "S01_speed", "score": 9.0, "contribution": 0.7}], "top_steps": [],
            "origin": "S01"}


def drive(tracker, scores, threshold=5.0, tick=10.0):
    events = []
    for i, s in enumerate(scores):
        events += tracker.observe(i * tick, s, threshold, "numpy", lambda: {"model_id": "m"}, exp)
    return events


def test_one_incident_one_new_bounded_updates_one_end():
    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=3, hysteresis=0.8, cooldown_ticks=5,
                      update_interval_s=50, instant_factor=100)
    tr = AlertTracker(cfg, "gw", "site", 10.0)
    scores = [1] * 10 + list(np.linspace(6, 30, 60)) + [4.5, 6, 1, 1, 1, 1] + [1] * 10
    ev = drive(tr, scores)
    kinds = [e.event for e in ev]
    assert kinds[0] == "new" and kinds[-1] == "end" and kinds.count("new") == 1 and kinds.count("end") == 1
    assert kinds.count("update") <= 60 * 10 / 50 + 1
    assert [e.seq for e in ev] == list(range(len(ev)))
    assert len({e.alert_id for e in ev}) == 1
    new, end = ev[0], ev[-1]
    assert new.start == 100.0 and end.end == 710.0 and end.reason == "cleared"
    assert end.peak_score == 30.0 and new.origin == "S01"
    d = end.to_dict()
    assert d["start"] == "1970-01-01T00:01:40.000Z" and d["schema_version"] == 1 and d["replayed"] is False


def test_single_tick_blip_does_not_open_but_severe_step_does():
    cfg = AlertConfig(min_duration_ticks=3, instant_factor=2.0)
    tr = AlertTracker(cfg, "gw", "site", 10.0)
    assert drive(tr, [1, 6, 1, 6, 6, 1]) == []
    ev = drive(tr, [1, 11, 1])
    assert [e.event for e in ev] == ["new"]


def test_cooldown_suppresses_then_reopens_a_persisting_anomaly():
    cfg = AlertConfig(min_duration_ticks=1, clear_ticks=1, cooldown_ticks=3, instant_factor=100)
    tr = AlertTracker(cfg, "gw", "site", 10.0)
    ev = drive(tr, [9, 1, 9, 9, 9, 9, 9])
    assert [e.event for e in ev] == ["new", "end", "new"]
    assert tr.suppressed == 2


def test_pot_threshold_hits_its_risk_on_calibration_like_data():
    rng = np.random.default_rng(0)
    cfg = ThresholdConfig(method="pot", risk=1e-3, init_quantile=0.98)
    cal = np.abs(rng.standard_normal(20000))
    c = calibrate(cal, cfg)
    fresh = np.abs(rng.standard_normal(200000))
    rate = (fresh > c["value"]).mean()
    assert 2e-4 < rate < 4e-3
    thr = AdaptiveThreshold(cfg, c)
    for s in fresh[:5000]:
        thr.update(float(s))
    assert abs(thr.value - c["value"]) / c["value"] < 0.2
    sigma, gamma = fit_gpd(rng.exponential(2.0, 50000))
    assert abs(sigma - 2.0) < 0.1 and abs(gamma) < 0.05


def test_a_subsided_alert_ends_and_its_residue_does_not_reopen_it():
    """subside_fraction 0.2: after a peak of 100, a lasting residue of 15 (above the threshold 5,
    below 0.2 × 100) ends the alert and opens none; once the score has been under the threshold,
    a new excursion opens a new alert as usual. Off (0), the residue keeps the alert open."""
    import json
    from pathlib import Path

    import jsonschema

    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=100,
                      subside_fraction=0.2)
    tr = AlertTracker(cfg, "gw", "site", 10.0)
    ev = drive(tr, [1] * 5 + [100] * 10 + [15] * 40)
    assert [e.event for e in ev if e.event != "update"] == ["new", "end"]
    assert ev[-1].reason == "subsided" and ev[-1].peak_score == 100.0 and not tr.active
    schema = json.loads((Path(__file__).resolve().parent.parent / "agent" / "schemas" / "alert.schema.json")
                        .read_text())
    jsonschema.validate(ev[-1].to_dict(), schema)
    ev = drive(tr, [1, 12, 12, 12])
    assert [e.event for e in ev] == ["new"]

    off = AlertTracker(AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=100),
                       "gw", "site", 10.0)
    assert [e.event for e in drive(off, [1] * 5 + [100] * 10 + [15] * 40) if e.event != "update"] == ["new"]


def test_a_subsided_residue_that_dips_under_the_threshold_reopens_nothing_until_it_has_stayed_there():
    """subside_release_ticks 4: after a subsided alert (peak 100, residue 15), the residue dipping
    under the threshold for 2 ticks and coming back reopens nothing; 4 calm ticks lift the bar and
    the next excursion opens a new alert. With the default (1), the first dip lifts it."""
    residue = [1] * 5 + [100] * 10 + [15] * 10 + [1, 1] + [15] * 10
    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=100,
                      subside_fraction=0.2, subside_release_ticks=4)
    tr = AlertTracker(cfg, "gw", "site", 10.0)
    assert [e.event for e in drive(tr, residue) if e.event != "update"] == ["new", "end"]
    state = tr.state_dict()
    assert state["calm"] == 0 and state["floor"] == 20.0
    restored = AlertTracker(cfg, "gw", "site", 10.0)
    restored.restore(state)
    for t in (tr, restored):
        assert [e.event for e in drive(t, [1, 1, 1, 12, 12])] == []       # 3 calm ticks: still barred
        assert [e.event for e in drive(t, [1, 1, 1, 1, 12, 12])] == ["new"]

    default = AlertTracker(AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=100,
                                       subside_fraction=0.2), "gw", "site", 10.0)
    assert [e.event for e in drive(default, residue) if e.event != "update"] == ["new", "end", "new"]


def test_subside_release_ticks_is_validated_with_its_key_path():
    from agent.config import from_dict
    from agent.typed import ConfigError
    with pytest.raises(ConfigError, match=r"alerts\.subside_release_ticks: must be >= 1, got 0"):
        from_dict({"sensors": ["a"], "sources": [{"type": "simulate"}], "alerts": {"subside_release_ticks": 0}})


def test_alert_ids_are_unique_per_agent_life_and_sort_by_start():
    """Two runs over the same seeded clock must not reuse ids: subscribers and the outbox de-duplicate
    on (alert_id, seq)."""
    cfg = AlertConfig(min_duration_ticks=1, clear_ticks=1, cooldown_ticks=0)
    scores = [1, 9, 1, 1, 1, 9, 1, 1]
    first = [e for e in drive(AlertTracker(cfg, "gw", "site", 10.0), scores) if e.event == "new"]
    second = [e for e in drive(AlertTracker(cfg, "gw", "site", 10.0), scores) if e.event == "new"]
    assert len(first) == len(second) == 2
    assert not {e.alert_id for e in first} & {e.alert_id for e in second}
    assert [e.alert_id for e in first] == sorted(e.alert_id for e in first)
    assert all(e.alert_id.startswith("gw-19700101T") for e in first)
