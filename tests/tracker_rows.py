"""One tick row fed to a Pipeline's fault tracker, every event it gives checked against the shipped fault schema:
shared by the tests that drive the tracker tick by tick through a story (faults14's dead and implausible cases)."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np

from agent.window import Row

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "agent/schemas/fault.schema.json").read_text())


def observed(tracker, ts: float, values: np.ndarray) -> list:
    """The fault events of one tick with every sensor read (none missing, none carried)."""
    n = len(values)
    events = tracker.observe(Row(ts=ts, values=values, missing=np.zeros(n, bool), carried=np.zeros(n, bool)))
    for ev in events:
        jsonschema.validate(ev.to_dict(), SCHEMA)
    return list(events)
