"""`loads`: json.loads for the agent's own state files, with JSON nested too deep refused as any other bad JSON is.

Why a part of its own: json.loads raises RecursionError — not ValueError — for arrays or objects nested past the
interpreter's recursion limit (~1000 deep; 100 000 `[` make one of 100 KB). Every reader of a state file at start
(the journals and their spares, active-bundle.json, feedback.json, a checkpoint's header) catches ValueError to say
the file is unusable and start without it; the RecursionError went past them all and the agent did not start (qa36).
Feedback messages from MQTT caught it already (agent/feedback.py `parse`).
"""
from __future__ import annotations

import json
import math

#: What a refusal says of such a document.
NESTED_TOO_DEEP = "nested too deep"


def loads(text: str | bytes | bytearray):
    """json.loads(text); ValueError (NESTED_TOO_DEEP) where it raised RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(NESTED_TOO_DEEP) from None


def finite_number(x: object) -> bool:
    """A finite int or float, not a bool — what a number read from JSON must be to be used as one. An int past a
    float's range (JSON has no limit: a 400-digit number) is none: math.isfinite raised OverflowError on it, a
    traceback from the reader that asked (qa37: the manifest; the alert journal's per-sensor peaks and the
    residue floors asked the same way)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


__all__ = ["NESTED_TOO_DEEP", "finite_number", "loads"]
