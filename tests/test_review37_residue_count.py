"""The tracker's residue count (`over_without_fault`, journaled as "residue") is read as every other count of it.

review33 refused a journal's damaged counts by name (agent/alert_state.py `_count`), but "residue" kept its own
`int()`: a negative count was taken silently, and with it the residue rule's hold was skipped — the ticks over the
threshold just after a sensor fault ended an alert opened a new alert at once, where the rule holds it for
`fault_ticks` ticks (0 < count < fault_ticks); a fraction was cut, Infinity a bare OverflowError naming no key.
A real AlertTracker's state, through the journal's JSON text (as tests/test_review33_journal_counts.py).
"""
from __future__ import annotations

import json

import pytest

from agent.alerts import AlertTracker
from agent.config import AlertConfig


def _tracker() -> AlertTracker:
    return AlertTracker(AlertConfig(min_duration_ticks=2, clear_ticks=3, cooldown_ticks=5), "gw", "site", 1.0,
                        window_ticks=8)


def _journaled(**damage) -> dict:
    return json.loads(json.dumps({**_tracker().state_dict(), **damage}))


@pytest.mark.parametrize("residue, said", [
    (-3, "alerts.residue: -3 is not a count"),
    (2.5, "alerts.residue: 2.5 is not a count"),
    (True, "alerts.residue: True is not a count"),
    (float("inf"), "alerts.residue: inf is not a count"),
])
def test_a_damaged_residue_count_is_refused_by_name(residue, said):
    tr = _tracker()
    with pytest.raises(ValueError) as exc:
        tr.restore(_journaled(residue=residue))
    assert str(exc.value) == said


def test_a_residue_count_as_written_is_taken():
    tr = _tracker()
    tr.restore(_journaled(residue=2))
    assert tr.over_without_fault == 2
    older = _journaled()
    del older["residue"]            # a journal written before the count existed
    tr.restore(older)
    assert tr.over_without_fault == 0
