"""`json_safe`: a value as strict JSON holds it — numpy values as Python's, NaN and ±inf as null.

Why a part of its own: a fault's evidence (agent/faults/tracker.py), the evaluation report
(agent/evaluate/report.py) and every payload the MQTT sink publishes (agent/sinks/mqtt.py `encode_json`) are
built from numpy arithmetic and leave the agent as JSON, which has no numpy types and no NaN; each wrote this
walk for itself (duplicates, review30; the sink's, which also turned arrays into lists, folded in by user17).
Anything with `tolist` (numpy scalars and arrays) is taken as its `tolist()`, as the sink always did: for a
numpy scalar that is its `item()`, what the other two did, and no evidence or report holds an array (each
evidence builder writes Python floats, names and dicts), so no checkpoint nor published payload changes.
"""
from __future__ import annotations

import math


def json_safe(value):
    """`value` with dict keys as strings, tuples as lists, numpy scalars and arrays as Python's numbers and lists
    and non-finite floats as None, all the way down."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):        # numpy scalars and arrays
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
