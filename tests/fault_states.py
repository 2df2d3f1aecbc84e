"""Fault-rule states as the checkpoint carries them, for the tests that restore or compare them.

Since perf40 a rule's rings and kept runs are arrays in its state() (checkpoint.py writes their raw
bytes), not lists of JSON numbers: a state no longer goes through `json.dumps`. `saved` sends one
through the checkpoint's own encode / decode instead (the arrays narrowed and read back, as a restart
reads them); `text` is a state as comparable text (the arrays as lists, NaN kept as NaN)."""
from __future__ import annotations

import json

import numpy as np

from agent.checkpoint import decode, encode


def saved(state: dict) -> dict:
    """`state` as a restart reads it back from checkpoint.bin."""
    return decode(encode({}, {"state": state}))[1]["state"]


def text(state) -> str:
    """`state` as sorted JSON text: two states compare equal when every value and array is the same."""
    return json.dumps(state, sort_keys=True, default=_plain)


def _plain(x):
    if isinstance(x, np.ndarray):
        return {"array": x.dtype.kind, "shape": list(x.shape), "values": x.tolist()}
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not a state value: {type(x).__name__}")
