"""Moving the state that holds times of an old time base onto a new one (Pipeline.rebase).

When the time base moves back — the data stepped back (window.Aligner), or the host clock since a
checkpoint was written (service._rebase_time) — every clock that compares a tick's time with a
stored one would stand still for as long as the step: a fault hold whose `since` lies ahead, the
threshold's quiet time after a peak, a spike's return window, the recurring level's cycle. Each
class that stores such times names them in `TIME_FIELDS` (floats, arrays or lists of seconds;
NaN and ±inf stay as they are), or, where a time is kept in other units, has `shift_time(delta)`.
`shift_times` walks the agent's own objects from one root and moves each once, so a new field is
moved by naming it where it is declared, not by a list kept here.
"""
from __future__ import annotations

import numpy as np


def shift_times(root, delta: float) -> int:
    """Add `delta` seconds to every stored time under `root`; the number of objects moved."""
    seen: set[int] = set()
    moved = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            stack.extend(o for o in obj if _ours(o) or isinstance(o, (list, tuple, dict)))
            continue
        if isinstance(obj, dict):
            stack.extend(o for o in obj.values() if _ours(o) or isinstance(o, (list, tuple, dict)))
            continue
        if not _ours(obj):
            continue
        if hasattr(obj, "shift_time"):
            obj.shift_time(delta)
            moved += 1
        for name in getattr(type(obj), "TIME_FIELDS", ()):
            if hasattr(obj, name):          # (a part a configuration leaves out is not made)
                setattr(obj, name, _shifted(getattr(obj, name), delta))
                moved += 1
        for value in _attrs(obj):
            if _ours(value) or isinstance(value, (list, tuple, dict)):
                stack.append(value)
    return moved


def _ours(obj) -> bool:
    return type(obj).__module__.startswith("agent.") and not isinstance(obj, type)


def _attrs(obj):
    d = getattr(obj, "__dict__", None)
    if d is not None:
        yield from d.values()
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(obj, name):
                yield getattr(obj, name)


def _shifted(value, delta: float):
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return value + delta                    # NaN and ±inf stay
    if isinstance(value, list):
        return [v + delta for v in value]
    return float(value) + delta
