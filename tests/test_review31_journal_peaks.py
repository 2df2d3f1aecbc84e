"""An alert journal's open alert whose per-sensor peaks are not {sensor: number} is refused by name (review31).

The alert journal is JSON the agent wrote, read back after a flipped bit or a hand edit (agent/journaled.py): its
open alert's counts, times and explanation are checked before the restart goes on with it (qa31), but not the
per-sensor maps — the level rules' `level_peak` (faults8) and skab41's `score_peak` and `level_high` (the residue
rule, agent/alert_residue.py). One that was a list, or held a string, passed that check and the tracker's restore,
then stopped the agent at the first tick that judged the open alert (AttributeError, TypeError in the tick thread:
at every start, under systemd, a crash loop). A real AlertTracker's state, through the journal's JSON.
"""
from __future__ import annotations

import json

import pytest

from agent.alerts import AlertTracker
from agent.config import AlertConfig
from agent.journaled import open_alert_problem

THRESHOLD = 5.0


def _tracker() -> AlertTracker:
    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=0, instant_factor=1000,
                      hold_sigma=2.0, hold_fraction=0.5)
    return AlertTracker(cfg, "gw", "site", 1.0, window_ticks=8, residue_fraction=0.35)


def _tick(tr: AlertTracker, i: int, scores: dict[str, float], levels: dict[str, float]) -> list:
    tops = [{"sensor": k, "score": v, "contribution": 0.5} for k, v in scores.items()]
    exp = {"top_sensors": tops, "top_steps": [], "origin": None}
    return tr.observe(float(i), max(scores.values()), THRESHOLD, "tflite", lambda: {"model_id": "m"},
                      lambda: exp, levels=lambda: levels, scores=lambda: scores)


def _journaled_open_alert() -> dict:
    """The tracker's state as the alert journal holds it (JSON), an alert open with its peaks tracked."""
    tr = _tracker()
    for i in range(6):
        _tick(tr, i, {"t": 12.0 + i, "f": 8.0}, {"f": 4.0 + i})
    assert tr.open is not None and tr.open.score_peak and tr.open.level_high and tr.open.level_peak
    return json.loads(json.dumps(tr.state_dict()))


DAMAGE = {
    "score_peak a list": ("score_peak", ["t"], "alerts.open.score_peak: expected {sensor: number}, got list"),
    "score_peak's value a string": ("score_peak", {"t": "30"}, "alerts.open.score_peak.t: '30' is not a finite number"),
    "level_high's value none": ("level_high", {"f": None}, "alerts.open.level_high.f: None is not a finite number"),
    "level_peak's value a string": ("level_peak", {"f": "x"}, "alerts.open.level_peak.f: 'x' is not a finite number"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_journaled_open_alerts_damaged_peaks_are_refused_by_name(damage):
    key, bad, said = DAMAGE[damage]
    state = _journaled_open_alert()
    assert open_alert_problem(state) is None          # as the agent wrote it
    state["open"][key] = bad
    # What the check exists for: taken as it is, the next tick that judges the open alert stops.
    taken = _tracker()
    taken.restore(json.loads(json.dumps(state)))
    with pytest.raises((TypeError, AttributeError)):
        _tick(taken, 6, {"t": 8.0, "f": 6.0}, {"f": 5.0})
    assert open_alert_problem(state) == said


def test_a_journal_written_before_the_peaks_existed_fits():
    """A release before skab41 wrote no score_peak or level_high (and one before faults8 no level_peak)."""
    state = _journaled_open_alert()
    for key in ("score_peak", "level_high", "level_peak"):
        del state["open"][key]
    assert open_alert_problem(state) is None


def test_a_peak_past_a_floats_range_is_refused_not_an_overflow():
    """JSON's numbers have no limit: a 400-digit peak made the check itself raise OverflowError (math.isfinite on
    an int past a float's range), a traceback at start instead of the refusal (the lead's review, json_read)."""
    state = _journaled_open_alert()
    state["open"]["score_peak"] = {"t": 10 ** 400}
    assert open_alert_problem(json.loads(json.dumps(state))).startswith("alerts.open.score_peak.t: 1000")


#: review32: the open alert's other fields a rule reads as a type — its sensor lists and the restart gap it will say
FIELDS = {
    "drivers a string": ("drivers", "t", "alerts.open.drivers: expected [sensor, …], got str"),
    "drivers a mapping": ("drivers", {"t": 1}, "alerts.open.drivers: expected [sensor, …], got dict"),
    "opened_on a number": ("opened_on", 5, "alerts.open.opened_on: expected [sensor, …], got int"),
    "opened_on holding a number": ("opened_on", ["t", 5], "alerts.open.opened_on[1]: 5 is not a sensor name"),
    "gap_s a string": ("gap_s", "12.5", "alerts.open.gap_s: '12.5' is not a number of seconds ≥ 0 (or null)"),
    "gap_s negative": ("gap_s", -3.0, "alerts.open.gap_s: -3.0 is not a number of seconds ≥ 0 (or null)"),
    "origin a number": ("origin", 7, "alerts.open.origin: 7 is not a station name (or null)"),
}


@pytest.mark.parametrize("damage", FIELDS, ids=list(FIELDS))
def test_a_journaled_open_alerts_damaged_sensor_lists_and_gap_are_refused_by_name(damage):
    """review32: the sensor lists (`drivers`, `opened_on`), the restart gap to say (`gap_s`) and the origin passed the
    check and the restore; taken as they were, a string or a mapping of drivers stopped the tick whose score made a
    new peak, a number of opened_on the tick a sensor fault was raised, a gap_s that was no number the restart
    (`resumed` adds the next gap to it): TypeError in the tick thread, at every start. A negative gap or an origin
    that is no name went out in the next event, against the alert schema."""
    from conftest import fault_event
    key, bad, said = FIELDS[damage]
    state = _journaled_open_alert()
    state["open"][key] = bad
    taken = _tracker()
    taken.restore(json.loads(json.dumps(state)))
    if key == "drivers":
        with pytest.raises(TypeError):
            _tick(taken, 6, {"t": 60.0, "f": 8.0}, {"f": 5.0})       # a new peak: its drivers are added
    elif key == "opened_on" and not isinstance(bad, list):
        with pytest.raises(TypeError):
            taken.fault_raised(fault_event(6))
    elif key == "gap_s" and isinstance(bad, str):
        with pytest.raises(TypeError):
            taken.resumed(5.0)
    assert open_alert_problem(state) == said
