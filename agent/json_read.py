"""`loads`: json.loads for the agent's own state files, with JSON nested too deep refused as any other bad JSON is.

Why a part of its own: json.loads raises RecursionError — not ValueError — for arrays or objects nested past the
interpreter's recursion limit (~1000 deep; 100 000 `[` make one of 100 KB). Every reader of a state file at start
(the journals and their spares, active-bundle.json, feedback.json, a checkpoint's header) catches ValueError to say
the file is unusable and start without it; the RecursionError went past them all and the agent did not start (qa36).
Feedback messages from MQTT caught it already (agent/feedback.py `parse`).

`too_deep` refuses such a document before json.loads recurses into it (final_load42): reaching the interpreter's
limit is itself the hazard — a garbage collection that runs at that depth calls finalizers (a socket's, a
generator's) that then overflow too, "Exception ignored" on whatever thread parsed it (paho's for a feedback
message, a source's for a record). Nothing the agent reads or writes nests past a few levels.
"""
from __future__ import annotations

import json
import math
import re

#: What a refusal says of such a document.
NESTED_TOO_DEEP = "nested too deep"
#: The deepest nesting of arrays and objects read (the agent's own documents: a few levels).
MAX_DEPTH = 200

_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def too_deep(text: str | bytes | bytearray) -> bool:
    """Whether JSON `text` nests arrays or objects more than MAX_DEPTH deep (brackets inside strings not counted).
    Linear; a text with no more than MAX_DEPTH opening brackets is answered by two counts."""
    if isinstance(text, (bytes, bytearray)):
        if text.count(b"[") + text.count(b"{") <= MAX_DEPTH:
            return False
        text = bytes(text).decode("utf-8", "replace")
    elif text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for c in _NOT_BRACKETS.sub("", _STRINGS.sub("", text)):
        depth += 1 if c in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def loads(text: str | bytes | bytearray):
    """json.loads(text); ValueError (NESTED_TOO_DEEP) for a document nested past MAX_DEPTH (too_deep), and where
    json.loads raised RecursionError."""
    if too_deep(text):
        raise ValueError(NESTED_TOO_DEEP)
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


__all__ = ["MAX_DEPTH", "NESTED_TOO_DEEP", "finite_number", "loads", "too_deep"]
