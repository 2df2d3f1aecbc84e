"""One JSON walk for the agent's JSON (agent/json_safe.py): the MQTT sink's encoder (`encode_json`, every payload it
publishes), a fault's evidence and the evaluation report. The sink had its own, which also turned arrays into lists
(review30 left it, user17 folded it in): arrays and numpy scalars are taken as their `tolist()`, non-finite floats
as null, keys as strings, tuples as lists — what the sink's walk did, so no published payload changes."""
from __future__ import annotations

import json

import numpy as np

from agent.json_safe import json_safe
from agent.sinks.mqtt import encode_json


def test_numpy_values_arrays_and_non_finite_floats_become_strict_json():
    value = {"score": np.float32(2.5), "n": np.int64(7), "up": np.bool_(True), "gone": float("nan"),
             "row": np.array([1.0, np.nan, np.inf]), 3: (np.uint16(5), "a"), "grid": np.zeros((2, 1)),
             "nested": [{"v": np.array(4.0)}, np.float64("-inf")]}
    want = {"score": 2.5, "n": 7, "up": True, "gone": None, "row": [1.0, None, None], "3": [5, "a"],
            "grid": [[0.0], [0.0]], "nested": [{"v": 4.0}, None]}
    assert json_safe(value) == want
    text = encode_json(value)
    assert text == json.dumps(want, separators=(",", ":"), allow_nan=False)
    assert type(json_safe(np.float32(2.5))) is float and type(json_safe(np.int64(7))) is int
