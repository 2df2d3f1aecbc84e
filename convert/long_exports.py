"""A historian's "long" export — one row per tag and time (`Tagname;Timestamp;Value`) — and its export of one file
per tag, told apart from the wide one the replay reads (one column per sensor, a file per stretch of time), before
it trains on mixed tags or on sensors never seen together (user38).

PI's and Ignition's exports are often long. The replay reads a CSV column as one sensor: such a file mapped nothing
(`no sensor columns`, and check-config advised naming the columns' sensors in `columns`), and with that advice
followed — `columns: {Value: flow}` — every tag's value became the one sensor's reading, the pump's flow one minute,
its current the next, trained on without a word. Here a file whose header names a tag column (TAG_COLUMNS) that
holds two tags or more is refused, naming the tags and what to write instead.

One CSV per tag (`FT105.csv`, `M101_AMPS.csv`, each `Timestamp;<tag>`) was read as that many recordings of the same
days, each with one sensor observed and the others missing: trained with exit 0, a model that never saw two sensors
at one tick (`missing on: … 66.7 %` was all it said). Files of one folder that cover the same time (longer than a
window) with no sensor observed in both are refused the same way (`per_tag_files`).
"""
from __future__ import annotations

import csv
from pathlib import Path

#: Header names a long export gives its tag column (compared lower case, blanks and `_` removed).
TAG_COLUMNS = ("tagname", "tag", "tagpath", "pointname", "point", "itemid", "item", "signal", "signalname",
               "variable", "sensor", "sensorname", "name")
#: The rows of a file read for its tags: a long export names every tag within a few rows.
ROWS_READ = 2000


def tag_column(header: list[str]) -> str | None:
    """The header's column that names a tag per row, if it has one."""
    return next((c for c in header if c.lower().replace(" ", "").replace("_", "") in TAG_COLUMNS), None)


def long_export_text(name: str, header: list[str], column: str, tags: list[str]) -> str:
    """Why a long export must not be trained on as read, and what to write instead."""
    shown = ", ".join(map(repr, tags[:4])) + (f" and {len(tags) - 4} more" if len(tags) > 4 else "")
    return (f"{name}: a long export — one row per tag and time (header {', '.join(map(repr, header))}; column "
            f"{column!r} names {shown}) — where the replay reads one column per sensor: a value column mapped to a "
            "sensor would read every tag's value as that sensor's. Export it wide (one column per tag, a row per "
            "time: PI DataLink's or Ignition's tag history 'wide' layout), or write JSON lines "
            "{\"ts\": …, \"sensor\": TAG, \"value\": …} with the tags named as in `sensors` (the replay reads them "
            "as they are)")


def tags_in(path: Path, separator: str, header: list[str], column: str) -> list[str]:
    """The distinct cells of `column` in the first ROWS_READ rows under `header` of CSV file `path`."""
    at = header.index(column)
    tags: dict[str, None] = {}
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        rows = csv.reader(f, delimiter=separator)
        seen_header = False
        for n, row in enumerate(rows):
            if n > ROWS_READ:
                break
            if not seen_header:
                seen_header = [c.strip() for c in row] == header
                continue
            if len(row) > at and row[at].strip():
                tags.setdefault(row[at].strip())
    return list(tags)


def long_export(path: Path, name: str, separator: str, header: list[str] | None) -> str | None:
    """long_export_text for CSV file `path` when its header names a tag column holding two tags or more, else None."""
    column = tag_column(header or [])
    if column is None:
        return None
    tags = tags_in(path, separator, header, column)
    return long_export_text(name, header, column, tags) if len(tags) > 1 else None


def per_tag_files(files: list[tuple[str, float, float, set[str]]], overlap_s: float) -> str | None:
    """Why training must not go on when two files — (name, first ts, last ts, the sensors observed in it) — cover
    the same time for longer than `overlap_s` and share no observed sensor: one file per tag; else None."""
    order = sorted(files, key=lambda f: f[1])
    for i, (a, lo_a, hi_a, seen_a) in enumerate(order):
        for b, lo_b, hi_b, seen_b in order[i + 1:]:
            if lo_b >= hi_a:
                break
            if min(hi_a, hi_b) - lo_b > overlap_s and seen_a and seen_b and not seen_a & seen_b:
                return (f"{a} and {b} cover the same time ({min(hi_a, hi_b) - lo_b:.0f} s) with no sensor in common "
                        f"({', '.join(sorted(seen_a))} in one, {', '.join(sorted(seen_b))} in the other): one file "
                        "per tag? The replay reads each file of a folder as a recording of its own, so the model "
                        "would never see those sensors at one tick. Join them into one file with a column per tag and "
                        "a row per time (or export the tags together), then train")
    return None
