"""`json_safe`: a value as strict JSON holds it — numpy scalars as Python's, NaN and ±inf as null.

Why a part of its own: a fault's evidence (agent/faults/tracker.py) and the evaluation report
(agent/evaluate/report.py) are built from numpy arithmetic and leave the agent as JSON, which has no numpy
types and no NaN; each wrote this walk for itself (duplicates, review30). Arrays are left as they are: neither
puts one in (the MQTT sink's encoder, agent/sinks/mqtt.py, turns arrays into lists for the payloads it sends).
"""
from __future__ import annotations

import math

import numpy as np


def json_safe(value):
    """`value` with dict keys as strings, tuples as lists, numpy scalars as Python's and non-finite floats as
    None, all the way down."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
