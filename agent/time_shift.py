"""Moving the agent's stored times onto a new time base: `shift_times`.

Why a part of its own: when the time base moved back — the data stepped back (agent/timebase.py
`TimeBaseRules._step_back`), or the host clock since a checkpoint was written (agent/resume.py
`_rebase_time`) — or moved with a step of this host's clock (agent/host_clock_step.py), every clock that
compares a tick's time with a stored one would stand still for as long as the step: a fault hold whose `since`
lies ahead, the threshold's quiet time after a peak, a spike's return window, the recurring level's cycle.
`shift_times` moves that state onto the new base (Pipeline.rebase): each class that stores such times names
them in `TIME_FIELDS` (floats, arrays or lists of seconds; NaN and ±inf stay as they are), or, where a time is
kept in other units, has `shift_time(delta)`. It walks the agent's own objects from one root and moves each
once, so a new field is moved by naming it where it is declared, not by a list kept here. It reads no clock
and judges nothing: the rules that decide a move are the aligner's (agent/timebase.py); this is what moves
with it.
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
