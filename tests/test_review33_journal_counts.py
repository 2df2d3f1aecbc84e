"""An alert journal's tracker counts and whole-score floors that are no count / no floor are refused by name
(review33).

The alert journal is JSON the agent wrote, read back after a flipped bit or a hand edit (agent/journaled.py). Its open
alert's fields and the residue rule's floors are checked (qa31, review31, review32), but the tracker's own counts and
its whole-score floors went through `int()` / `float()`: a floor of Infinity (Python's json reads it) kept every alert
from opening until a calm tick, a cool-down of 10⁹ ticks counted every alert as suppressed for as long, a negative
count delayed the next alert — silently, the restart saying it resumed. Now AlertTracker.restore refuses them
(ValueError naming the key: the journal is then "tracker not usable", the checkpoint's tracker kept). A real
AlertTracker's state, through the journal's JSON text.
"""
from __future__ import annotations

import json

import pytest

from agent.alerts import AlertTracker
from agent.config import AlertConfig

THRESHOLD = 5.0


def _tracker() -> AlertTracker:
    cfg = AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=5, instant_factor=1000)
    return AlertTracker(cfg, "gw", "site", 1.0, window_ticks=8)


def _tick(tr: AlertTracker, i: int, score: float) -> list:
    exp = {"top_sensors": [{"sensor": "t", "score": score, "contribution": 1.0}], "top_steps": [], "origin": None}
    return tr.observe(float(i), score, THRESHOLD, "tflite", lambda: {"model_id": "m"}, lambda: exp)


def _journaled(**damage) -> dict:
    """A calm tracker's state as the journal's JSON text holds it, with `damage` written into it."""
    tr = _tracker()
    for i in range(3):
        _tick(tr, i, 1.0)
    text = json.dumps({**tr.state_dict(), **damage})
    return json.loads(text)


DAMAGE = {
    "floor Infinity": ({"floor": float("inf")}, "alerts.floor: inf is not a finite number ≥ 0"),
    "level_floor NaN": ({"level_floor": float("nan")}, "alerts.level_floor: nan is not a finite number ≥ 0"),
    "floor a string": ({"floor": "3"}, "alerts.floor: '3' is not a finite number ≥ 0"),
    "cooldown 10⁹": ({"cooldown": 10 ** 9}, None),
    "above negative": ({"above": -40}, "alerts.above: -40 is not a count"),
    "calm a fraction": ({"calm": 2.5}, "alerts.calm: 2.5 is not a count"),
    "held true": ({"held": True}, "alerts.held: True is not a count"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_journaled_trackers_damaged_counts_and_floors_are_refused_or_bounded(damage):
    bad, said = DAMAGE[damage]
    tr = _tracker()
    if said is None:        # a cool-down longer than the config's: the config's (it may have been lowered since)
        tr.restore(_journaled(**bad))
        assert tr.cooldown == tr.cfg.cooldown_ticks
        return
    with pytest.raises(ValueError) as exc:
        tr.restore(_journaled(**bad))
    assert str(exc.value) == said
    assert tr.floor == 0.0 and tr.above == 0 and tr.cooldown == 0       # nothing taken


def test_a_valid_journaled_floor_still_holds_an_alert_back():
    """The check leaves the rule alone: an over-threshold run opens an alert on a fresh tracker; a valid floor
    from the journal still holds it back, as the subsided rule means to."""
    fresh = _tracker()
    assert [e.event for i in range(4) for e in _tick(fresh, i, 9.0)] == ["new"]
    floored = _tracker()
    floored.restore(_journaled(floor=20.0))
    assert [e for i in range(4) for e in _tick(floored, i, 9.0)] == []
    assert floored.floor == 20.0


def test_a_journal_written_before_the_counts_were_checked_fits():
    """What this release and the ones before wrote: ints, and floats for the floors (an integral float count too)."""
    tr = _tracker()
    tr.restore(_journaled(floor=0.0, level_floor=1.5, calm=3.0, above=0))
    assert (tr.floor, tr.level_floor, tr.calm) == (0.0, 1.5, 3)
