"""A recording stamped in local time without a UTC offset, told by its change of daylight saving time (user38).

A historian (PI, Ignition) exports the plant's wall clock, `25.10.2026 02:30:00`, without a zone; the replay reads a
stamp without an offset as UTC (docs/converter.md). Nothing in one stamp shows it — but a week that holds a change of
daylight saving time does: on a Sunday night the clock steps back an hour from 02:59 to 02:00 (autumn), or jumps from
01:59 to 03:00 (spring). user38's weekly export said only `its time steps back at tick 8821 … trained as separate
pieces` — and with a `window.carry_forward_s` of an hour or more the repeated hour's rows were `late` instead, under
1 % of the file and unsaid. What it means is that every time of the recording is an hour or two off the UTC a live
feed stamps: the gateway's daily profile, warmed up on it, is shifted by as much. Said once per file, with what to
do; not refused (the model itself reads no clock).
"""
from __future__ import annotations

import time

from agent.records import Record

HOUR_S = 3600.0


def clock_change(records: list[Record], tick_s: float) -> tuple[str, str] | None:
    """("back" | "ahead", where — its line and the wall-clock times) of the first step of `records`' stamps, in file
    order, that a change of daylight saving time written in local time makes: on a Sunday, back an hour from the 2
    o'clock hour into it, or ahead an hour from the 1 or 2 o'clock hour to the 3 o'clock hour; else None."""
    for prev, cur in zip(records, records[1:]):
        step = cur.ts - prev.ts
        if not (-HOUR_S - tick_s <= step <= -HOUR_S + 2 * tick_s or HOUR_S < step <= HOUR_S + 2 * tick_s):
            continue                # (the usual step: no calendar looked at)
        a, b = time.gmtime(prev.ts), time.gmtime(cur.ts)
        sunday = b.tm_wday == 6
        if sunday and -HOUR_S - tick_s <= step <= -HOUR_S + 2 * tick_s and a.tm_hour == 2 and b.tm_hour == 2:
            kind = "back"
        elif sunday and HOUR_S < step <= HOUR_S + 2 * tick_s and a.tm_hour in (1, 2) and b.tm_hour == 3:
            kind = "ahead"
        else:
            continue
        return kind, (f"{cur.origin or '?'} ({time.strftime('%a %Y-%m-%d %H:%M:%S', a)} → "
                      f"{time.strftime('%H:%M:%S', b)})")
    return None


def clock_change_text(name: str, kind: str, where: str) -> str:
    """The line said of a recording whose stamps change daylight saving time."""
    what = ("steps back an hour: the end of daylight saving time" if kind == "back" else
            "jumps an hour ahead: the start of daylight saving time")
    return (f"{name}: its clock {what}, at {where} — its times are local, written without a UTC offset, and read as "
            "UTC: every time of it is off UTC by the local offset (a live feed stamps UTC: a gateway warmed up on "
            "it has its daily profile shifted by as much)"
            + (", and its repeated hour is trained as a piece of its own, or lost as late rows with a "
               "window.carry_forward_s of an hour or more" if kind == "back" else "")
            + ". Export UTC, or stamps with their offset (2026-10-25 02:30:00+01:00)")
