"""An open alert released when the plant's level is back near normal (alerts.release_fraction,
agent/alerts.py; the level: agent/scorers/profile.py LevelMonitor).

After an anomaly a plant often settles a little off its warm-up level (SKAB's pump after a test),
and a profile score keeps the alert open on that residue, above the threshold, for as long as it
lasts. Released, the alert ends once every sensor's level is under `release_fraction` of the
largest distance reached during it, and the residue opens no new alert until the level moves
again past that bar or the score has been calm; a plant that never moved is never released; the
state survives a checkpoint; the key needs `hold_sigma` and is validated.
"""
from __future__ import annotations

import pytest

from agent import config
from agent.alerts import AlertTracker
from agent.config import AlertConfig
from agent.typed import ConfigError


def explain_a():
    return {"top_sensors": [{"sensor": "a", "score": 9.0, "contribution": 0.8},
                            {"sensor": "b", "score": 1.0, "contribution": 0.2}], "top_steps": [], "origin": None}


def drive(tracker, scores, levels, threshold=5.0, start=0):
    """`levels[i]`: the {sensor: σ} the tracker reads on tick start + i."""
    events = []
    for i, (s, lv) in enumerate(zip(scores, levels)):
        events += tracker.observe(float(start + i), s, threshold, "numpy", lambda: {"model_id": "m"}, explain_a,
                                  levels=lambda lv=lv: lv)
    return events


def cfg(**over):
    return AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=100, hold_sigma=2.0,
                       **over)


# An excursion of sensor a to 20 σ, then a residue: a's level back to 4 σ (0.2 of it), b wandering at 3 σ,
# the score still above the threshold (5) all along.
EXCURSION = [1, 9, 9, 9, 9]
EXCURSION_LEVELS = [{"a": 0.0, "b": 0.0}] + [{"a": 20.0, "b": 1.0}] * 4
RESIDUE = [6.0] * 20
RESIDUE_LEVELS = [{"a": 4.0, "b": 3.0}] * 20


def test_an_alert_on_a_residue_ends_once_the_levels_are_back_under_the_fraction():
    released = AlertTracker(cfg(release_fraction=0.3), "gw", "site", 1.0)
    ev = drive(released, EXCURSION + RESIDUE, EXCURSION_LEVELS + RESIDUE_LEVELS)
    assert [e.event for e in ev] == ["new", "end"]
    assert ev[-1].reason == "subsided" and ev[-1].ts == 7.0       # 3 ticks under 0.3 × 20 = 6 σ
    # off (0), or a fraction the residue is not under (4 σ ≥ 0.15 × 20): open to the end
    for fraction in (0.0, 0.15):
        ev = drive(AlertTracker(cfg(release_fraction=fraction), "gw", "site", 1.0), EXCURSION + RESIDUE,
                   EXCURSION_LEVELS + RESIDUE_LEVELS)
        assert [e.event for e in ev] == ["new"]


def test_the_residue_opens_no_new_alert_until_the_level_moves_again_or_the_score_is_calm():
    tracker = AlertTracker(cfg(release_fraction=0.3, subside_release_ticks=5), "gw", "site", 1.0)
    ev = drive(tracker, EXCURSION + RESIDUE, EXCURSION_LEVELS + RESIDUE_LEVELS)
    assert [e.event for e in ev] == ["new", "end"]                   # the rest of the residue: nothing
    assert tracker.level_floor == pytest.approx(6.0)
    again = drive(tracker, [9, 9, 9], [{"a": 7.0, "b": 3.0}] * 3, start=25)
    assert [e.event for e in again] == ["new"]                       # a moved past the bar: a new alert

    calm = AlertTracker(cfg(release_fraction=0.3, subside_release_ticks=5), "gw", "site", 1.0)
    drive(calm, EXCURSION + RESIDUE, EXCURSION_LEVELS + RESIDUE_LEVELS)
    drive(calm, [1] * 5, RESIDUE_LEVELS[:5], start=25)               # 5 calm ticks lift the bar
    assert calm.level_floor == 0.0
    assert [e.event for e in drive(calm, RESIDUE[:3], RESIDUE_LEVELS[:3], start=30)] == ["new"]


def test_an_alert_whose_plant_never_moved_is_not_released():
    levels = [{"a": 1.5, "b": 0.2}] * 25                              # under hold_sigma (2) throughout
    ev = drive(AlertTracker(cfg(release_fraction=0.9), "gw", "site", 1.0), EXCURSION + RESIDUE, levels)
    assert [e.event for e in ev] == ["new"]


def test_a_release_in_progress_and_its_bar_survive_the_trackers_state_round_trip():
    tracker = AlertTracker(cfg(release_fraction=0.3), "gw", "site", 1.0)
    drive(tracker, EXCURSION + RESIDUE[:2], EXCURSION_LEVELS + RESIDUE_LEVELS[:2])
    assert tracker.open.level_top == 20.0 and tracker.open.spent == 2
    again = AlertTracker(cfg(release_fraction=0.3), "gw", "site", 1.0)
    again.restore(tracker.state_dict())
    ev = drive(again, RESIDUE[:1], RESIDUE_LEVELS[:1], start=7)
    assert [e.event for e in ev] == ["end"] and again.level_floor == pytest.approx(6.0)
    later = AlertTracker(cfg(release_fraction=0.3), "gw", "site", 1.0)
    later.restore(again.state_dict())
    assert later.level_floor == pytest.approx(6.0)
    assert drive(later, RESIDUE[:3], RESIDUE_LEVELS[:3], start=8) == []


def test_release_fraction_is_validated_and_needs_hold_sigma():
    base = {"sensors": ["a"], "sources": [{"type": "stdin"}]}
    with pytest.raises(ConfigError) as err:
        config.from_dict({**base, "alerts": {"release_fraction": 1.5}})
    assert "alerts.release_fraction" in str(err.value)
    with pytest.raises(ConfigError) as err:
        config.from_dict({**base, "alerts": {"release_fraction": 0.4}})
    assert "alerts.release_fraction" in str(err.value) and "hold_sigma" in str(err.value)
    ok = config.from_dict({**base, "alerts": {"release_fraction": 0.4, "hold_sigma": 2}})
    assert ok.alerts.release_fraction == 0.4
