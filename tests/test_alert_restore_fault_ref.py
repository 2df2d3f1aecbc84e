"""What AlertTracker.restore refuses of a fault reference (review24's finding, after faults6 made the re-judge ask for
the fault's id on every tick): an alert journal's `after_fault` or open alert's `fault` without its id, named by key."""
from __future__ import annotations

import json

import pytest

from agent.alerts import AlertTracker
from agent.config import AlertConfig

TOPS = {"top_sensors": [{"sensor": "a", "score": 9.0, "contribution": 0.9}], "top_steps": [], "origin": None}


def test_a_restored_fault_reference_without_its_id_is_refused_with_its_key():
    """The re-judge asks for a fault's id on every tick (faults6): a journal's `after_fault` or open alert's `fault`
    without one is refused by restore, naming the key, before it could stop a tick (KeyError; review24)."""
    tr = AlertTracker(AlertConfig(), "gw", "site", 1.0)
    for t in range(3):
        tr.observe(float(t), 9.0, 5.0, "numpy", dict, lambda: TOPS)
    assert tr.active
    state = json.loads(json.dumps(tr.state_dict()))
    for where, bad in ((("after_fault",), {"sensor": "a", "kind": "stuck"}),
                       (("open", "fault"), {"sensor": "a", "kind": "stuck", "fault_id": 7})):
        doc = json.loads(json.dumps(state))
        (doc["open"] if where[0] == "open" else doc)[where[-1]] = bad
        with pytest.raises(ValueError, match=r"alerts\." + ".".join(where) + ": expected a fault"):
            AlertTracker(AlertConfig(), "gw", "site", 1.0).restore(doc)
