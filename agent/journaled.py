"""What the journals hold checked before a restart goes on with it (agent/journal_resume.py): the fault journal's open
faults and the alert journal's open alert.

Why: the journal is JSON the agent wrote, but read back after a flipped bit, a hand edit or another
release's idea of its keys, an open fault's entry can hold anything. Handed on unchecked, a station
fault's `kinds` that was no mapping stopped the agent at its start (AttributeError: a crash loop under
systemd), a start past any time stopped it where the fault's end was written (OverflowError), and a
sensor kind that is none stopped it at the first tick after (qa31). Each entry is checked here as
FaultTracker.open_faults writes it; one that does not fit is said with its key path and replaced by
the restored checkpoint's entry for it when there is one (that fault goes on under its id and ends),
else left out alone; the rest go on. A lone fault mates joined (faults6: a sensor's own kind, keyed by
its sensor, with `sensors`, `kinds` and `joined` as a station's) is checked as a station's is: unchecked,
its `kinds` or `joined` that was no mapping stopped the agent at its start too (AttributeError; review25).
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from . import json_read
from .alert_state import OpenAlert
from .faults.events import GROUPED, KINDS
from .json_read import finite_number as _number
from .records import short_repr
from .window import MAX_TS


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


def is_time(value) -> bool:
    """A time as the agent's state files hold it: a finite number (json_read.finite_number: not a bool, not past a
    float's range) of seconds on 1970–2100, as the aligner takes a record's stamp (agent/window.py MAX_TS). The one
    rule for the journals, the checkpoint's header (agent/resume.py) and config-notes.json (agent/start_notes.py)."""
    return _number(value) and 0.0 <= value < MAX_TS


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
    if not is_time(f.get("start")):
        return f".start: {f.get('start')!r} is not a time"
    if not isinstance(f.get("group", ""), str):
        return ".group: not a string"
    joined_lone = f["kind"] not in GROUPED and any(k in f for k in ("sensors", "kinds", "joined"))  # (Grouped.sync)
    if (f["kind"] in GROUPED or joined_lone) and not _names(f.get("sensors")):
        return ".sensors: expected a non-empty list of sensor names"
    updates = f.get("updates", 0)       # (faults13: the fault_updates told; none before them)
    if not (isinstance(updates, int) and not isinstance(updates, bool) and updates >= 0):
        return f".updates: {updates!r} is not a count"
    judged = f.get("kinds_judged") or {}        # (review26; a sensor's own fault handed over: faults15)
    if not isinstance(judged, dict):
        return f".kinds_judged: expected a mapping of sensor to kinds, got {type(judged).__name__}"
    for s, ks in judged.items():
        if not (isinstance(ks, list) and ks and all(k in KINDS and k not in GROUPED for k in ks)):
            return f".kinds_judged.{s}: {ks!r} is no list of sensor fault kinds"
    if f["kind"] != "station" and not joined_lone:
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
        if not is_time(t):
            return f".joined.{s}: {t!r} is not a time"
    return None


#: OpenAlert's plain numbers and counts, read off its fields (a list written out here missed a field added later)
_OPEN_NUMBERS = tuple(f.name for f in fields(OpenAlert) if f.type == "float" and f.name not in OpenAlert.TIME_FIELDS)
_OPEN_COUNTS = tuple(f.name for f in fields(OpenAlert) if f.type == "int")
#: Its per-sensor maps, {sensor: number}: every plain `dict` field but the explanation (checked below) — the level
#: rules' level_peak, the residue rule's score_peak and level_high (a list or a string there stopped the first tick
#: that judged the alert: review31)
_OPEN_SENSOR_NUMBERS = tuple(f.name for f in fields(OpenAlert) if f.type == "dict" and f.name != "explain")
#: Its sensor lists, [sensor, …]: every `list` field — the alert's drivers and those it opened on (a string or a
#: mapping there stopped the tick that added a driver, a number the tick a sensor fault was raised: review32)
_OPEN_SENSOR_LISTS = tuple(f.name for f in fields(OpenAlert) if f.type == "list")


def open_alert_problem(state) -> str | None:
    """'alerts.open.<key>: why' when the alert journal's tracker `state` holds an open alert whose fields the
    events it will send cannot be made of (AlertTracker.restore checks its keys, not their values): a start that
    was no time stopped the agent at its next event (TypeError, OverflowError), an explanation without its
    sensors at its next update (KeyError) — qa31; a per-sensor peak that was no number at the first tick that
    judged it (TypeError, AttributeError — review31); a list of drivers that was none at the tick that added one,
    a restart gap that was no number at the restart (TypeError — review32), a peak since a model change that was
    no number at the tick that judged it (TypeError — review33). None when it fits, or no alert is open."""
    a = state.get("open") if isinstance(state, dict) else None
    if not isinstance(a, dict):
        return None
    for key in OpenAlert.TIME_FIELDS:
        if key in a and not is_time(a[key]):
            return f"alerts.open.{key}: {a[key]!r} is not a time"
    for key in _OPEN_NUMBERS:
        if key in a and not _number(a[key]):
            return f"alerts.open.{key}: {a[key]!r} is not a finite number"
    for key in _OPEN_COUNTS:
        if key in a and not (isinstance(a[key], int) and not isinstance(a[key], bool) and a[key] >= 0):
            return f"alerts.open.{key}: {a[key]!r} is not a count"
    for key in _OPEN_SENSOR_NUMBERS:
        per_sensor = a.get(key, {})
        if not isinstance(per_sensor, dict):
            return f"alerts.open.{key}: expected {{sensor: number}}, got {type(per_sensor).__name__}"
        for sensor, value in per_sensor.items():
            if not _number(value):
                return f"alerts.open.{key}.{sensor}: {value!r} is not a finite number"
    for key in _OPEN_SENSOR_LISTS:
        names = a.get(key, [])
        if not isinstance(names, list):
            return f"alerts.open.{key}: expected [sensor, …], got {type(names).__name__}"
        for i, name in enumerate(names):
            if not isinstance(name, str):
                return f"alerts.open.{key}[{i}]: {name!r} is not a sensor name"
    gap = a.get("gap_s")        # the restart's unseen seconds the next event says (`resumed` adds a later one to it)
    if gap is not None and not (_number(gap) and gap >= 0):
        return f"alerts.open.gap_s: {gap!r} is not a number of seconds ≥ 0 (or null)"
    peak = a.get("model_peak")  # the subsided rule's peak since a model change (null: none since it opened)
    if peak is not None and not _number(peak):
        return f"alerts.open.model_peak: {peak!r} is not a finite number (or null)"
    if a.get("origin") is not None and not isinstance(a["origin"], str):
        return f"alerts.open.origin: {a['origin']!r} is not a station name (or null)"
    exp = a.get("explain")
    if not isinstance(exp, dict) or not isinstance(exp.get("top_sensors"), list) \
            or not isinstance(exp.get("top_steps"), list):
        return "alerts.open.explain: expected {top_sensors: [...], top_steps: [...]}"
    if "by_score" in exp and not isinstance(exp["by_score"], list):     # (explain2: the score's order, when named by where)
        return "alerts.open.explain.by_score: expected [{sensor, score, contribution}, …]"
    for key in ("top_sensors", "by_score"):
        for i, t in enumerate(exp.get(key, ())):
            if not (isinstance(t, dict) and isinstance(t.get("sensor"), str) and _number(t.get("score"))
                    and _number(t.get("contribution"))):
                return f"alerts.open.explain.{key}[{i}]: expected {{sensor, score, contribution}}"
    for i, t in enumerate(exp["top_steps"]):
        if not (isinstance(t, dict) and is_time(t.get("ts")) and _number(t.get("weight"))):
            return f"alerts.open.explain.top_steps[{i}]: expected {{ts, weight}}"
    return None


def event_problem(event) -> str | None:
    """'event.<key>: why' when a journal's last alert event (AlertEvent's fields as the journal holds them, this
    release's or another's), or the JSONL sink's last alert line read back (agent/sinks/jsonl.py alert_from_line),
    has a seq, a time or a threshold a restart cannot compute with: it compares the event's `ts` with the
    checkpoint's, ends the alert it left open at `ts` under `seq` + 1 against its `threshold`, and says `start`.
    None when they fit. Why (review37): unchecked, another release's journal whose event held a seq of 1e999, a
    `ts` of 400 digits, NaN or a string, this release's whose threshold was none (with no checkpoint), or a JSONL
    line whose seq was a string, stopped `Agent(...)` at every start (OverflowError, ValueError, TypeError outside
    any try: a crash loop under systemd); a seq of -4 ended its alert as #-3, one of 1e999 as #Infinity (no JSON)."""
    if not isinstance(event, dict):
        return f"event: expected a mapping, got {type(event).__name__}"
    seq = event.get("seq")
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0):      # (an alert's `new` is #0)
        return f"event.seq: {short_repr(seq)} is not a count"
    for key in ("ts", "start"):
        if not is_time(event.get(key)):
            return f"event.{key}: {short_repr(event.get(key))} is not a time"
    end = event.get("end")
    if end is not None and not is_time(end):
        return f"event.end: {short_repr(end)} is not a time (or null)"
    if not _number(event.get("threshold")):         # (the restart's end event is judged against it)
        return f"event.threshold: {short_repr(event.get('threshold'))} is not a finite number"
    return None


def journal_ts(doc: dict) -> float:
    """A journal's `tracker.ts`, the tick its tracker state was taken at (which of it and the checkpoint is newer,
    the time an open fault or alert is ended at when the restart cannot judge it); ValueError naming the key when
    it is no time. Why (review37): the three readers took it with float() — a 400-digit integer raised a bare
    OverflowError that the fault journal's reader did not catch (`Agent(...)` failed at every start while the file
    was there), a NaN was newer and older than no checkpoint (the open faults ended at NaN), a string of digits
    was taken."""
    ts = doc["tracker"]["ts"]
    if not is_time(ts):
        raise ValueError(f"tracker.ts: {short_repr(ts)} is not a time")
    return float(ts)


def other_version(path: Path, version: int) -> dict | None:
    """The journal at `path` when it is another format version's ({"version", "event", "tracker"}: another
    release's, a downgrade), else None. EventJournal ignores it whole (its keys may mean other things), as
    before; a restart without a checkpoint still ends what it held open (reason restart: agent/journal_resume.py), or a
    subscriber fed by MQTT alone held that alert or fault open for good (qa31's leftover, faults7)."""
    try:
        doc = json_read.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and doc.get("version") != version and isinstance(doc.get("event"), dict) \
            and isinstance(doc.get("tracker"), dict):
        return doc
    return None
