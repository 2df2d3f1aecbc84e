"""The alert tracker's two counts renamed to say what they are (review26), their checkpoint keys kept.

`held` (ticks a new alert's opening was held back) read as the `held` level rule (agent/alert_levels.py: an alert
held open by its drivers' levels); `residue` (ticks in a row the score re-judged without the fault an alert ended
with was over the threshold) as the rule texts' residue (what a subsided alert leaves). Now `held_back` and
`over_without_fault` in the code; the checkpoint keeps "held" and "residue", so a release before the rename reads
this one's checkpoint and the other way round (no re-warm after an upgrade or a downgrade). A checkpoint written
before (tests/fixtures/alerts_99c4dae.ckpt, main 99c4dae's own state_dict, made by
tests/fixtures/make_review26_fixture.py) restores to the same counts and the same next event: the alert held back
while the residue lasted opens on the tick it did, with its true start; and is written back with the same keys."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.alerts import AlertTracker
from agent.checkpoint import decode
from agent.config import AlertConfig

FIXTURE = Path(__file__).parent / "fixtures" / "alerts_99c4dae.ckpt"
TOPS = {"top_sensors": [{"sensor": "a", "score": 9.0, "contribution": 0.9},
                        {"sensor": "b", "score": 1.0, "contribution": 0.1}], "top_steps": [], "origin": None}


def _tracker() -> AlertTracker:
    return AlertTracker(AlertConfig(), "gw", "site", 10.0, hold_ticks=3, fault_ticks=3)


def test_a_checkpoint_with_the_old_keys_restores_the_counts_and_the_next_event():
    meta, saved = decode(FIXTURE.read_bytes())
    old, nxt = saved["alerts"], saved["next"]
    assert meta["made_by"] == "main 99c4dae" and (old["held"], old["residue"]) == (1, 2)      # the old keys
    tr = _tracker()
    tr.restore(old)
    assert (tr.held_back, tr.over_without_fault) == (1, 2)
    again = json.loads(json.dumps(tr.state_dict()))
    # the format unchanged but for keys added since, each empty on that checkpoint (skab41: the residue's floors)
    assert set(again) == set(old) | {"residue_floor", "tier", "aside"} and again["residue_floor"] == {}
    assert again["tier"] is None        # (review34: the tier it last judged; none on that checkpoint)
    assert again["aside"] == [None, 0.0]    # (review35: what a tier step put aside; nothing on that checkpoint)
    assert (again["held"], again["residue"]) == (1, 2)
    [new] = tr.observe(10.0 * nxt["t"], nxt["score"], 5.0, "numpy", dict, lambda: TOPS,
                       rejudge=lambda f: nxt["rejudged"])
    assert (new.event, new.start) == ("new", 190.0)        # as faults6's run opened it, its true start
    fresh = _tracker()
    fresh.restore(again)                                   # read back the same
    assert (fresh.held_back, fresh.over_without_fault) == (1, 2)


def test_a_checkpoint_without_the_count_is_refused_naming_its_key():
    state = _tracker().state_dict()
    del state["held"]
    with pytest.raises(KeyError, match="held"):
        _tracker().restore(state)
