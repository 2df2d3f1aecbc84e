"""The fault journal's open faults checked before a restart goes on with them (agent/resume.py).

Why: the journal is JSON the agent wrote, but read back after a flipped bit, a hand edit or another
release's idea of its keys, an open fault's entry can hold anything. Handed on unchecked, a station
fault's `kinds` that was no mapping stopped the agent at its start (AttributeError: a crash loop under
systemd), a start past any time stopped it where the fault's end was written (OverflowError), and a
sensor kind that is none stopped it at the first tick after (qa31). Each entry is checked here as
FaultTracker.open_faults writes it; one that does not fit is said with its key path and replaced by
the restored checkpoint's entry for it when there is one (that fault goes on under its id and ends),
else left out alone; the rest go on.
"""
from __future__ import annotations

import math

from ..window import MAX_TS
from .events import GROUPED, KINDS


def checked_open(open_faults) -> tuple[dict[str, dict], dict[str, str]]:
    """({name: entry} of the entries that fit, {name: "open.<name>.<key>: why"} of those that do not)."""
    if not isinstance(open_faults, dict):
        return {}, {"open": f"open: expected a mapping, got {type(open_faults).__name__}"}
    kept, problems = {}, {}
    for name, f in open_faults.items():
        why = _problem(f)
        if why is None:
            kept[name] = f
        else:
            problems[name] = f"open.{name}{why}"
    return kept, problems


def _time(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 0.0 <= value < MAX_TS


def _names(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(s, str) and s for s in value)


def _problem(f) -> str | None:
    """'.<key>: why' for an entry that does not fit, else None."""
    if not isinstance(f, dict):
        return f": expected a mapping, got {type(f).__name__}"
    if f.get("kind") not in KINDS:
        return f".kind: {f.get('kind')!r} is no fault kind"
    if not (isinstance(f.get("fault_id"), str) and f["fault_id"]):
        return ".fault_id: missing or empty"
    if not _time(f.get("start")):
        return f".start: {f.get('start')!r} is not a time"
    if not isinstance(f.get("group", ""), str):
        return ".group: not a string"
    if f["kind"] in GROUPED and not _names(f.get("sensors")):
        return ".sensors: expected a non-empty list of sensor names"
    if f["kind"] != "station":
        return None
    kinds, joined = f.get("kinds"), f.get("joined") or {}
    if not isinstance(kinds, dict):
        return f".kinds: expected a mapping of sensor to kind, got {type(kinds).__name__}"
    for s, k in kinds.items():
        if k not in KINDS or k in GROUPED:
            return f".kinds.{s}: {k!r} is no sensor fault kind"
    if any(s not in kinds for s in f["sensors"]):       # (a sensor without its kind would never end the station's)
        return f".kinds: no kind for {', '.join(s for s in f['sensors'] if s not in kinds)}"
    if not isinstance(joined, dict):
        return f".joined: expected a mapping of sensor to time, got {type(joined).__name__}"
    for s, t in joined.items():
        if not _time(t):
            return f".joined.{s}: {t!r} is not a time"
    return None
