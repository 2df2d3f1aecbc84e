"""`loads`: json.loads for the agent's own state files, with JSON nested too deep refused as any other bad JSON is.

Why a part of its own: json.loads raises RecursionError — not ValueError — for arrays or objects nested past the
interpreter's recursion limit (~1000 deep; 100 000 `[` make one of 100 KB). Every reader of a state file at start
(the journals and their spares, active-bundle.json, feedback.json, a checkpoint's header) catches ValueError to say
the file is unusable and start without it; the RecursionError went past them all and the agent did not start (qa36).
Feedback messages from MQTT caught it already (agent/feedback.py `parse`).
"""
from __future__ import annotations

import json

#: What a refusal says of such a document.
NESTED_TOO_DEEP = "nested too deep"


def loads(text: str | bytes | bytearray):
    """json.loads(text); ValueError (NESTED_TOO_DEEP) where it raised RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(NESTED_TOO_DEEP) from None


__all__ = ["NESTED_TOO_DEEP", "loads"]
