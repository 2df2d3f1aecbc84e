"""Timestamps and JSON lines, shared by the udp, stdin and replay sources.

A JSON line is one object in any of three shapes, each with an optional "label" (0/1, or true/false)
and "event" (string):

    {"ts": 1767592800, "sensor": "S01_flow", "value": 4200.0}
    {"ts": "2026-01-05T06:00:00Z", "values": {"S01_flow": 4200.0, "S01_speed": 98.1}}
    {"ts": 1767592800.5, "S01_flow": 4200.0, "S01_speed": 98.1}

In the first two shapes the readings are named — `sensor` with `value`, or the `values` object — and every other
key at the top is what the sender says about them, never a reading: `{"ts": …, "sensor": "a", "value": 1, "b": 2}`
reads a alone, and `b` is passed over uncounted, a number or not (chaos6, deciding chaos5's "seen, left"). Such keys
are metadata in the feeds these shapes come from: a unit or a quality flag (text), and as often a number — a sequence
counter, a signal strength, a battery level. Read as readings, a working feed's every line would count an `unknown
sensor` (or, where one shares a sensor's name, set it from the wrong field), and counted as rejects a reject on every
line of a device that numbers its messages. What is lost is not unsaid: a configured sensor sent only that way is never
read, and the agent says it by name (warm-up: "b: no reading in this warm-up", then its `missing` fault). Only the
third, flat shape reads the top level as readings — there nothing else names them.

A byte-order mark ahead of a line (a file saved by Windows Notepad, a PowerShell pipe, a device that
starts each datagram with one) is no part of it: json rejected it, and a replay lost its first line.

A key twice in one object (`{"value": 1, "value": 2}`) rejects the record as `duplicate key`, naming
the key: json keeps the last silently, and which reading the device meant cannot be known — the same
rule as the YAML config's loader. Checked in json's object_pairs_hook (see `loads_object`).
"""
from __future__ import annotations

import json
import math
import re
import time
from datetime import datetime, timezone
from typing import Callable

from ..json_read import MAX_DEPTH, NESTED_TOO_DEEP, too_deep
from ..label_names import JSON_LABELS
from ..records import Record, Rejects, short_repr, shorten

RESERVED_KEYS = {"ts", "sensor", "value", "values", "label", "event"}
BOM = "\ufeff"


class DuplicateKey(ValueError):
    """A JSON object holding one key twice; `key` is the first repeated one."""

    def __init__(self, key: str):
        super().__init__(f"key {short_repr(key)} appears more than once in one object")
        self.key = key


def _unique_pairs(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):          # the common case costs one dict() and a len compare
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj


def loads_object(text: str):
    """json.loads that raises DuplicateKey (a ValueError) for an object holding a key twice, and RecursionError
    for a document nested past json_read.MAX_DEPTH before parsing it (json_read.too_deep says why)."""
    if too_deep(text):
        raise RecursionError(NESTED_TOO_DEEP)
    return json.loads(text, object_pairs_hook=_unique_pairs)


def parse_time(value: object, time_format: str | None = None) -> float:
    """Epoch seconds (number or numeric string) or an ISO-8601 string; naive times are UTC.

    Raises ValueError for anything else, including non-finite numbers.
    """
    return parse_stamp(value, time_format)[0]


def parse_stamp(value: object, time_format: str | None = None) -> tuple[float, bool]:
    """(parse_time's seconds, whether the stamp was written as a date: ISO-8601 or `time_format`, not a number).
    A date out of the aligner's years is no clock read in milliseconds (window.unit_hint's guess for a number): the
    record carries which it was (Record.ts_text), so its `bad timestamp` says what fits (chaos6)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite(parse_number(value), value), False
    if not isinstance(value, str):          # said as JSON writes it: null, true, [1] (was Python's None, True)
        raise ValueError(f"not a time: {_as_json(value)}")
    written = value.strip()
    try:
        if time_format is not None:
            ts = _as_utc(datetime.strptime(written, time_format)).timestamp()
        else:
            try:
                number = parse_number(written)
            except ValueError:
                ts = _offset_as_written(from_iso(written), written).timestamp()
            else:
                return _finite(number, value), False
    except ValueError as exc:
        raise _time_said(exc, written) from None
    return _finite(ts, value), True


def _as_json(value: object) -> str:
    try:
        return shorten(json.dumps(value, ensure_ascii=False), 60)
    except (TypeError, ValueError):
        return short_repr(value)


def _finite(ts: float, value: object) -> float:
    if not math.isfinite(ts):
        raise ValueError(f"not a finite time: {value!r}")
    return ts


#: The UTC offset ending a written time (±HH, ±HHMM, ±HH:MM, with seconds and a fraction as Python reads them)
_OFFSET_AT_END = re.compile(r"[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?$")


class NotATime(ValueError):
    """A text that is neither a number nor an ISO-8601 time: another layout (a source's time_format) may read it."""


def _time_said(exc: ValueError, text: str) -> ValueError:
    """`exc` as said to a user (chaos6): Python's "Invalid isoformat string" as what a time is read as; an offset of a
    day or more (`+99:00`, `+24:00`) — Python's own `offset must be a timedelta strictly between
    -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=4, …)` (chaos5, left) — as the offset
    written and the limit."""
    if str(exc).startswith("Invalid isoformat string"):
        if (offset := _bad_offset(text)) is not None:
            return ValueError(f"the UTC offset {shorten(offset, 40)} is malformed: write it ±HH:MM (+05:30, -08:00), "
                              "±HHMM or ±HH, or Z for UTC")
        return NotATime(f"neither a number nor an ISO-8601 time such as 2026-01-05T06:00:00Z: {short_repr(text)}")
    if not str(exc).startswith("offset must be a timedelta"):
        return exc
    found = _OFFSET_AT_END.search(text)
    offset = found.group(0) if found else "its offset"
    return ValueError(f"the UTC offset {offset} is out of range: an offset is less than 24:00 either way (real ones "
                      "lie from -12:00 to +14:00)")


#: A time to the minute or second and what follows it, when that begins as an offset would (a sign, or a Z with more)
_TIME_THEN_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*([+-].*|[Zz].+)")


def _bad_offset(text: str) -> str | None:
    """The offset of a written time whose date and time read but whose offset does not (`+5:00`, `+1`, `+05:00Z`,
    `+0530 IST`), else None: such a stamp was "neither a number nor an ISO-8601 time", the date found wrong too."""
    found = _TIME_THEN_OFFSET.fullmatch(text)
    if found is None:
        return None
    try:
        from_iso(found.group(1))
    except ValueError:
        return None
    return found.group(2)


#: An ISO-8601 time as Python 3.10's fromisoformat does not read it and 3.11's does: (date, time to the second, the
#: fraction's digits, the offset: Z, ±HH, ±HHMM or ±HH:MM)
_ISO_310 = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}(?::?\d{2})?)?")


def from_iso(text: str) -> datetime:
    """datetime.fromisoformat as Python 3.11 reads it, on 3.10 too (pyproject's requires-python): 3.10 takes no `Z`,
    no fraction of other than 3 or 6 digits, no offset without its colon — every `"ts": "…Z"` line was a `bad time`
    there, and the demo config's simulate start refused (review38). The 3.11 reading where it reads one; else a time
    given to the second (as feeds and RFC 3339 write it, its lowercase `z` too) put in the form 3.10 reads, and that
    read. 3.11's shorter forms (`T06Z`, `20260105T060000`) stay 3.11's alone."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        found = _ISO_310.fullmatch(text)
        if found is None:
            raise
    base, fraction, offset = found.groups()
    if offset in ("Z", "z"):
        offset = "+00:00"
    elif offset is not None and len(offset) == 3:
        offset += ":00"
    elif offset is not None and ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    return datetime.fromisoformat(base + (f".{(fraction + '000000')[:6]}" if fraction else "") + (offset or ""))


def _offset_as_written(moment: datetime, text: str) -> datetime:
    """`moment` in UTC, once its offset is the one `text` writes: Python reads `+12:60` as +13:00 and `+05:99` as
    +06:39 (minutes and seconds past 59 carried), a stamp an hour off unsaid (chaos6, left). The written offset is
    looked at only when it is not what the parsed one writes (`+05:30` ends a `+05:30` stamp): a `Z`, no offset, or
    one in range costs a string compare."""
    offset = moment.utcoffset()
    if offset is None:
        return moment.replace(tzinfo=timezone.utc)
    if text[-1:] in "Zz" or not offset:
        return moment
    seconds = int(offset.total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    if text.endswith((f"{hours:02d}:{rest // 60:02d}", f"{hours:02d}{rest // 60:02d}")) and not rest % 60:
        return moment
    found = _OFFSET_AT_END.search(text)
    if found is not None:
        parts = re.findall(r"\d{2}", found.group(0).split(".")[0].split(",")[0])
        for name, part in zip(("minutes", "seconds"), parts[1:]):
            if int(part) > 59:
                raise ValueError(f"the UTC offset {found.group(0)} is out of range: its {name} {part} are past 59 "
                                 f"(write ±HH:MM, such as +05:30)")
    return moment


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def parse_number(value: object) -> float:
    """A JSON or CSV reading as a float; raises ValueError (booleans and null are not numbers). The one rule of what a
    written number is, for every source (a CSV cell, a JSON string, an MQTT plain payload, a time written as a number):
    ASCII decimal — sign, digits, point, exponent — with ASCII blanks around it, or `nan`/`inf`/`infinity` as numpy,
    printf and Java write them (read, and refused by the aligner as a `non-finite value`, by sensor). Python's float()
    takes more that no sender writes: `1_000` (underscores) and every script's digits (`１２`, `١٢`) were read as 1000
    and 12, unsaid (chaos8); they are refused, said as written."""
    if isinstance(value, bool) or value is None:    # said as JSON writes them (was Python's None, True: chaos7)
        raise ValueError(f"not a number: {json.dumps(value)}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"number out of range: {value!r}") from None
    if isinstance(value, str):
        text = value.strip(ASCII_BLANKS)
        try:
            if text.isascii() and "_" not in text:      # what float() takes past this: nothing a sender writes
                return float(text)
        except ValueError:
            pass
        raise ValueError(f"not a number: {short_repr(value)}{number_hint(text)}") from None
    raise ValueError(f"not a number: {JSON_KINDS.get(type(value), type(value).__name__)}")


#: The blanks a written number may stand between (a CSV's `1, 2`); float() took every script's (a no-break space too)
ASCII_BLANKS = " \t\r\n\f\v"


def number_hint(text: str) -> str:
    """What a written number that is none looks like, said after it ("" when nothing fits): `1,5`, `1_000`, `0x10`,
    `１２`. The MQTT source asks it of a plain payload that is neither a number nor JSON."""
    if _DECIMAL_COMMA.fullmatch(text):
        return " (a decimal comma? write a point)"
    if "_" in text and _UNDERSCORED.fullmatch(text):
        return f" (an underscore: write the digits alone, {text.replace('_', '')})"
    if _HEX.fullmatch(text):
        return " (hexadecimal: write it in decimal)"
    if not text.isascii() and any(c.isdigit() and not c.isascii() for c in text):
        return " (digits other than 0–9)"
    if not text.isascii() and text.strip():
        try:
            float(text)
        except ValueError:
            return ""
        return " (a blank other than a space or tab around it)"
    return ""


_UNDERSCORED = re.compile(r"[+-]?[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?")
_HEX = re.compile(r"[+-]?0[xX][0-9a-fA-F]+")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
#: A parsed JSON value's type as JSON names it (a reject said "expected an object, got NoneType" of a line `null`)
JSON_KINDS = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
              bool: "true or false", type(None): "null"}


#: A byte that is not UTF-8, as a text read with errors="surrogateescape" holds it (U+DC80–U+DCFF)
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def not_utf8_said(line: str, sender: str = "the file's text encoding? save it as UTF-8") -> str | None:
    """What a line read with errors="surrogateescape" holds that is not UTF-8 — its first such byte and where, as the
    UDP and MQTT sources say it — or None. stdin and the replay read such bytes as U+FFFD and carried on: `unknown
    sensor '��c'`, `not a number: '1�5'`, the byte unsaid (chaos8). An ASCII line costs one isascii()."""
    if line.isascii() or (found := _ESCAPED_BYTE.search(line)) is None:
        return None
    at = len(line[:found.start()].encode("utf-8")) + 1
    return byte_not_utf8_said(ord(found.group()) - 0xDC00, at, "line", sender)


#: What a network sender is told to do of a line or payload that is not UTF-8 (the udp and mqtt sources)
SEND_UTF8 = "the sender's text encoding? send UTF-8"


def byte_not_utf8_said(byte: int, at: int, of: str, hint: str) -> str:
    """The one wording of a byte that is not UTF-8, `at` its 1-based place in the `of` (line, payload): every
    source says it so (udp, mqtt, stdin and the replay)."""
    return f"not UTF-8: byte {byte:#04x} at byte {at} of the {of} ({hint})"


def as_replaced(line: str) -> str:
    """A surrogateescape'd line with each byte that is not UTF-8 as U+FFFD (what errors="replace" reads): text that
    can be written out again (a log line, a JSON payload), for a CSV header read on after it is said."""
    return _ESCAPED_BYTE.sub("\ufffd", line)


def parse_json_line(text: str, where: str, rejects: Rejects, live: bool = False, what: str = "line",
                    label_word: Callable[[str, str], None] | None = None) -> Record | None:
    """One JSON line as a Record, or None after counting why it was rejected.

    A missing "ts" is stamped with the wall clock when `live`, rejected otherwise. A bad
    reading drops only that reading; a line left with no readings is rejected. `what` the text is, in a
    message: an MQTT message is a payload, not a line (user33: `… at the line's end (cut short?)` of a payload).
    """
    try:
        obj = loads_object(text.lstrip(BOM))
    except DuplicateKey as exc:
        rejects.add("duplicate key", where, exc.__str__)
        return None
    except RecursionError:
        rejects.add("bad json", where, f"{NESTED_TOO_DEEP}: arrays or objects inside one another past {MAX_DEPTH} "
                                       "deep")
        return None
    except json.JSONDecodeError as exc:         # (each detail worded only when it is said: qa54)
        rejects.add("bad json", where, lambda: json_error_said(exc, what))
        return None
    except ValueError as exc:
        rejects.add("bad json", where, lambda: str(exc)[:120])
        return None
    if not isinstance(obj, dict):
        rejects.add("bad json", where, lambda: f"a {what} is one JSON object {{\"ts\": …, …}}; this one is "
                                               f"{JSON_KINDS.get(type(obj), type(obj).__name__)}")
        return None

    ts_text = False
    if "ts" in obj:
        try:
            ts, ts_text = parse_stamp(obj["ts"])
        except ValueError as exc:
            rejects.add("bad time", where, lambda: f"field 'ts': {said_with_value(exc, obj['ts'])}")
            return None
    elif live:
        ts = time.time()
    else:
        rejects.add("missing time", where, "no 'ts' field")
        return None

    read = _readings(obj, where, rejects)
    if read is None:
        return None
    values, bad = read
    if not values:
        if not bad:                     # a line whose readings were all bad numbers is counted once, above
            rejects.add("no values", where, f"no readings in the {what}")
        return None
    label = _parse_label(obj.get("label"), where, rejects, label_word)     # only a kept line's bad label is counted
    event = obj.get("event") if isinstance(obj.get("event"), str) else None
    return Record(ts=ts, values=values, label=label, event=event, origin=where, arrival_stamped="ts" not in obj,
                  ts_text=ts_text)


def json_error_said(exc: json.JSONDecodeError, what: str = "line") -> str:
    """json's error at its place in the line (or payload), not json's "line 1 column 25 (char 24)"; its message as
    json words it less a trailing "at" ("Invalid control character at": said "… at at character 26", chaos7)."""
    at = (f"at the {what}'s end (cut short?)" if exc.pos >= len(exc.doc.rstrip()) else
          f"at character {exc.pos + 1} of the {what}")
    return f"{exc.msg.removesuffix(' at')} {at}"


def said_with_value(exc: ValueError, value: object) -> str:
    """`exc` with the value it is about in front where it does not show it: a written time's calendar error said
    "field 'ts': day is out of range for month", not which day."""
    text = str(exc)
    shown = short_repr(value)
    return text if not isinstance(value, str) or repr(value) in text or shown in text else f"{shown}: {text}"


def _readings(obj: dict, where: str, rejects: Rejects) -> tuple[dict[str, float], int] | None:
    """(the good readings, how many were bad numbers), or None after counting a malformed line."""
    if "sensor" in obj:
        sensor = obj["sensor"]
        if not isinstance(sensor, str) or not sensor:
            rejects.add("bad sensor", where, lambda: f"field 'sensor': {short_repr(sensor)}")
            return None
        if "value" not in obj:          # said as such: "not a number: None" sent users looking at the sensor
            rejects.add("bad number", where, lambda: f"sensor {short_repr(sensor)} comes without a 'value' field (a "
                                                     "line is {\"ts\": …, \"sensor\": …, \"value\": …})")
            return {}, 1
        raw = {sensor: obj.get("value")}
    elif "values" in obj:
        raw = obj["values"]
        if not isinstance(raw, dict):
            rejects.add("bad json", where, lambda: f"field 'values': expected an object {{\"<sensor>\": <number>, "
                                                   f"…}}, got {JSON_KINDS.get(type(raw), type(raw).__name__)}")
            return None
    else:
        raw = {k: v for k, v in obj.items() if k not in RESERVED_KEYS}
    values: dict[str, float] = {}
    bad = []
    for sensor, value in raw.items():
        try:
            values[sensor] = parse_number(value)
        except ValueError as exc:
            bad.append((short_repr, sensor, exc))
    count_bad_numbers(rejects, where, bad)
    return values, len(bad)


def count_bad_numbers(rejects: Rejects, where: str, bad: list[tuple]) -> None:
    """One "bad number" per record, however many of its fields are bad (the first three said, each `bad` one
    (how its field is written, the field, parse_number's error), worded only when said: qa54)."""
    if bad:
        rejects.add("bad number", where, lambda: "; ".join(f"field {shown(field)}: {shorten(str(exc), 120)}"
                                                          for shown, field, exc in bad[:3])
                    + (f"; … ({len(bad)} fields)" if len(bad) > 3 else ""))


def label_flag(value: object) -> int:
    """A label cell or field as the row's flag: 1 for a non-zero number, 0 for zero; ValueError for what is no
    finite number (`TRUE`, a blank, NaN, inf). The one rule of the replay's CSV labels, a JSON line's `label` and the
    converter's scan for label-like columns: NaN, being no zero, marked its row anomalous (review38)."""
    number = parse_number(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return 1 if number != 0 else 0


def _parse_label(value: object, where: str, rejects: Rejects,
                 label_word: Callable[[str, str], None] | None = None) -> int | None:
    """A line's `label` as its flag — a number, or JSON's true (1) / false (0) — a bad one counted `bad label`.
    `label_word` (the replay's) is handed a label written as text, to say a file of such labels once with what to write
    (qa52: each line was `bad label` alone, as qa51 found of a CSV's label column of words). qa53: true/false were bad
    labels too, and training, evaluate and the replay read such a recording as unlabelled."""
    if value is None:
        return None
    if isinstance(value, bool):         # JSON's true/false: true marks the line anomalous (label_names.JSON_LABELS)
        return JSON_LABELS[value]
    try:
        return label_flag(value)
    except ValueError:
        rejects.add("bad label", where, lambda: f"field 'label': {short_repr(value)}")
        if label_word is not None and isinstance(value, str):      # (true/false are labels: above)
            label_word("label", value.strip())
        return None
