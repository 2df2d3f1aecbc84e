"""A historian's "long" export — one row per tag and time (`Tagname;Timestamp;Value`) — told apart from the wide one
the replay reads (one column per sensor), before it trains on mixed tags (user38).

PI's and Ignition's exports are often long. The replay reads a CSV column as one sensor: such a file mapped nothing
(`no sensor columns`, and check-config advised naming the columns' sensors in `columns`), and with that advice
followed — `columns: {Value: flow}` — every tag's value became the one sensor's reading, the pump's flow one minute,
its current the next, trained on without a word. Here a file whose header names a tag column (TAG_COLUMNS) that
holds two tags or more is refused, naming the tags and what to write instead.
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
