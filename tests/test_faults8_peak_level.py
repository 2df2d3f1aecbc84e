"""The peak's level: an alert over the threshold does not end as subsided while the sensor that made its peak is
still at its excursion (agent/alert_levels.py `peak_level_holds`; faults8, docs/measured/faults.md).

SKAB other/12 with qa33's ramp rule: the alert's peak was the flow's forecast error as the valve slammed shut (173
against a threshold of 3.6), the lasting shift after it scored 25–60 — under a fifth of that peak — and the alert
ended `subsided` with its score 8 × over the threshold while the flow's level sat at 97 % of its excursion. Real
AlertTrackers driven tick by tick (scores, levels, explanations), and the pipeline's detector built from a config.
"""
from __future__ import annotations

from agent import config
from agent.alerts import AlertTracker
from agent.config import AlertConfig
from agent.pipeline import Pipeline

THRESHOLD = 5.0


def explain_top(sensor: str, score: float, second: str | None = None) -> dict:
    tops = [{"sensor": sensor, "score": score, "contribution": 0.8}]
    if second:
        tops.append({"sensor": second, "score": 6.0, "contribution": 0.2})
    return {"top_sensors": tops, "top_steps": [], "origin": None}


def drive(tracker: AlertTracker, ticks: list[tuple[float, dict, str]], start: int = 0) -> list:
    """`ticks`: (score, levels {sensor: σ}, top sensor) per tick; a second driver "b" rides along the top one."""
    events = []
    for i, (score, levels, top) in enumerate(ticks, start):
        exp = explain_top(top, score, second="b" if top != "b" else None)
        events += tracker.observe(float(i), score, THRESHOLD, "tflite", lambda: {"model_id": "m"}, lambda e=exp: e,
                                  levels=lambda lv=levels: lv)
    return events


def cfg(**over) -> AlertConfig:
    base = dict(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=1000, subside_fraction=0.2,
                hold_sigma=2.0, hold_fraction=0.5)
    return AlertConfig(**{**base, **over})


def onset_then_shift(shift_ticks: int, a_after: float, b_after: float = 0.0) -> list[tuple[float, dict, str]]:
    """Quiet, an onset whose transient (100, sensor a) is the peak, then a lasting shift scored 15 (3 × the
    threshold, under 0.2 × the peak) with a's level at 20 σ (its excursion), then `a_after` / `b_after` σ."""
    quiet = [(1.0, {"a": 0.0, "b": 0.0}, "a")] * 3
    onset = [(30.0, {"a": 5.0, "b": 3.0}, "a"), (100.0, {"a": 20.0, "b": 8.0}, "a")]
    shift = [(15.0, {"a": 20.0, "b": 8.0}, "a")] * shift_ticks
    after = [(15.0, {"a": a_after, "b": b_after}, "a")] * 10
    return quiet + onset + shift + after


def test_the_peaks_sensor_at_its_excursion_keeps_the_shift_alert_open_until_its_level_falls():
    ticks = onset_then_shift(40, a_after=6.0)
    ev = drive(AlertTracker(cfg(), "gw", "site", 1.0), ticks)
    assert [e.event for e in ev if e.event != "update"] == ["new", "end"]
    end = ev[-1]
    # open through the 40 ticks of the shift (ticks 5-44), score 3 x over the threshold all along; a's level falls to
    # 6 sigma (< 0.5 x 20) at tick 45: three ticks under a fifth of the peak, then the subsided end
    assert end.reason == "subsided" and end.ts == 47.0 and end.peak_score == 100.0
    assert end.score == 15.0 > THRESHOLD


def test_without_the_level_the_onsets_peak_ends_the_shift_alert_as_before():
    ticks = onset_then_shift(40, a_after=6.0)
    for tracker, levels in ((AlertTracker(cfg(hold_sigma=0.0, hold_fraction=0.0), "gw", "site", 1.0), True),
                            (AlertTracker(cfg(), "gw", "site", 1.0), False)):
        events = []
        for i, (score, lv, top) in enumerate(ticks):
            exp = explain_top(top, score, "b")
            events += tracker.observe(float(i), score, THRESHOLD, "tflite", lambda: {"model_id": "m"},
                                      lambda e=exp: e, levels=(lambda lv=lv: lv) if levels else None)
        ends = [e for e in events if e.event == "end"]
        assert ends and ends[0].reason == "subsided" and ends[0].ts == 7.0     # 3 ticks into the shift


def test_another_drivers_residue_does_not_hold_the_subsided_end():
    """b rode along as a driver (over the threshold at the opening) and stays at its own excursion; a, whose
    transient made the peak, is back: the shift the peak was about is over, b's level is the residue."""
    ticks = onset_then_shift(10, a_after=1.0, b_after=8.0)
    ev = drive(AlertTracker(cfg(), "gw", "site", 1.0), ticks)
    ends = [e for e in ev if e.event == "end"]
    assert ends and ends[0].reason == "subsided" and ends[0].ts == 17.0     # 3 ticks after a's level fell (tick 15)


def test_a_drifting_sensors_level_never_holds_the_subsided_end():
    """A temperature heats over a test and stays warm after it: its level says nothing of the excursion."""
    ticks = onset_then_shift(40, a_after=6.0)
    ev = drive(AlertTracker(cfg(), "gw", "site", 1.0, drifting=("a",)), ticks)
    ends = [e for e in ev if e.event == "end"]
    assert ends and ends[0].ts == 7.0 and ends[0].reason == "subsided"


def test_an_alert_held_by_its_peaks_level_survives_the_trackers_state_round_trip():
    ticks = onset_then_shift(40, a_after=6.0)
    tracker = AlertTracker(cfg(), "gw", "site", 1.0)
    assert [e.event for e in drive(tracker, ticks[:20])] == ["new"]
    again = AlertTracker(cfg(), "gw", "site", 1.0)
    again.restore(tracker.state_dict())
    for t in (tracker, again):
        ev = drive(t, ticks[20:], start=20)
        assert [(e.event, e.reason, e.ts) for e in ev if e.event == "end"] == [("end", "subsided", 47.0)]


def test_the_pipeline_gives_its_alerts_the_drifting_sensors():
    """Defaulted (the temperatures, by unit) or named, `scoring.profile.drifting` reaches the alert tracker."""
    sensors = [{"name": "P1_flow", "unit": "l/min"}, {"name": "P1_press", "unit": "bar"},
               {"name": "P1_temp", "unit": "degC"}]
    base = {"sensors": sensors, "sources": [{"type": "stdin"}], "tick_s": 1, "topology": "group",
            "window": {"steps": 16}, "warmup": {"ticks": 300}, "scoring": {"chain": ["numpy"]},
            "alerts": {"subside_fraction": 0.2, "hold_sigma": 2}}
    assert Pipeline(config.from_dict(base)).alerts.drifting == {"P1_temp"}
    named = {**base, "scoring": {"chain": ["numpy"], "profile": {"drifting": ["P1_press"]}}}
    assert Pipeline(config.from_dict(named)).alerts.drifting == {"P1_press"}
