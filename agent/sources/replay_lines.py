"""How the replay reads a recording's lines, and a CSV line's fields: one line at a time, never one longer than
MAX_LINE_CHARS held (`bounded_lines`), never a field across lines (`csv_fields`), the header found by one rule
(`first_header`) — and what is said of a header the replay cannot read (past the line bound, a separator
mistaken).

Apart from the replay source because check-config (agent/preflight.py `csv_header`) and the converter
(convert/data.py, convert/file_checks.py) read a recording's header by these same rules: a second reading of the
same file is how check-config passed what `run` refused (review39).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..records import short_repr
from .lines import parse_number, parse_time


MAX_LINE_CHARS = 2**20      # as stdin's max_line_bytes and the MQTT source's max_payload_bytes
#: How a line read ends: a CSV is read untranslated (newline=""), so '\r' alone (a spreadsheet's
#: 'CSV (Macintosh)') ends one too — reading past a long line to the next '\n' took the whole rest.
ENDS = ("\n", "\r")


TIME_COLUMN_FALLBACKS = ("timestamp", "datetime", "time", "ts")
# how a comment line starts in the files users export; the replay reads such a line above the header as the header
# (no comment syntax in CSV), so check-config and the converter say to remove it when it maps nothing
COMMENT_MARKS = ("#", "//", ";")


def units_line(row: list[str], time_i: int, value_cols, time_format: str | None) -> str | None:
    """The sensors' cells of a row shown short ('A', 'V', 'bar', …) when the row is a historian's units line: its time
    cell no time and every sensor's cell text, none a number (some may be empty); else None. user29: an export's
    `;A;V;bar;…` under its header was told `missing time — empty time field (column 1)`, which read as a fault of the
    data."""
    try:
        parse_time(row[time_i].strip(), time_format)
        return None
    except ValueError:
        pass
    cells = [row[i].strip() for i, _, _ in value_cols]
    texts = [c for c in cells if c]
    for c in texts:
        try:
            parse_number(c)
            return None
        except ValueError:
            pass
    if not texts:
        return None
    return ", ".join(repr(c[:12]) for c in texts[:3]) + (", …" if len(texts) > 3 else "")


class LongLine(str):
    """The line `bounded_lines` gives for one it read past: empty to every reader (the numbering of the lines after it
    stays right), and known for what it is to `csv_fields`, so that `first_header` can tell it from a blank line.
    `head`: its first HEAD_CHARS, for the replay to tell a header again in it (chaos8)."""
    head = ""


class LongRow(list):
    """`csv_fields`'s row of a line read past as too long: no fields, and no blank line either — `first_header`
    stops at it (chaos7). `header_again`: the line began as a header (LONG_HEADER_AGAIN)."""
    header_again = False


#: How much of a line read past is kept to tell a header again in it
HEAD_CHARS = 65536
#: A header again past the line bound, as `ReplaySource._bounded` gives it to `csv_fields`
LONG_HEADER_AGAIN = LongLine("\n")


def long_header_again_said(head: str, separator: str) -> str:
    """A header again mid-file past the line bound: chaos7 left the rows after it read by the header before it — the
    columns of another recording read as this one's. Such a header is never the one in force (that one was read,
    under the bound), so its rows are skipped, not read by it."""
    first = separator.join(c.strip() for c in head[:200].split(separator)[:4])
    return (f"a header again ({short_repr(first + ',…', 60)}) past {MAX_LINE_CHARS:,} characters, unread: the rows "
            "after it are skipped up to the next header (write fewer columns)")


def bounded_lines(f, too_long: Callable[[int], None]) -> Iterator[str]:
    """A text file's lines; one longer than MAX_LINE_CHARS is read past in pieces, told to `too_long` (its line
    number) and given as a LongLine, an empty line (the numbering of the lines after it stays right)."""
    n = 0
    while True:
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith(ENDS):
            while (rest := f.readline(65536)) and not rest.endswith(ENDS):
                pass
            too_long(n)
            head, line = line[:HEAD_CHARS], LongLine("\n")
            line.head = head
        yield line


def header_fields(row: list[str]) -> list[str]:
    """A CSV row's fields as a header is compared: stripped, a BOM before the first gone (a second file's, a
    spreadsheet's export)."""
    fields = [c.strip() for c in row]
    if fields:
        fields[0] = fields[0].removeprefix("\ufeff")
    return fields


def first_header(rows: Iterable[tuple[int, list[str] | None]]) -> tuple[int, list[str]] | None:
    """(line number, fields) of a CSV file's header among its (line number, fields or None: no CSV row) lines: the
    first CSV row with a field that is not blank. One rule for the replay and check-config (preflight.csv_header):
    check-config read a line with a quote left open as the header (one field) where the replay skips it (`bad csv`),
    and passed a first line of blank fields (` , `) that the replay took for its header, the file skipped whole as
    one without a time column (review39). None too when a line read past as too long (LongRow) comes first: it may
    be the header — one of 200,000 columns — and the row after it was taken for one, the file refused for a missing
    time column said of a data row (chaos6, left; `long_header` says it)."""
    for n, row in rows:
        if isinstance(row, LongRow):
            return None
        if row and any(c.strip() for c in row):
            return n, row
    return None


def long_header(path: Path, separator: str) -> int | None:
    """The line number of a CSV file's first line with fields when it is longer than MAX_LINE_CHARS (the replay
    cannot read its header, `first_header`), else None: check-config's word (`long_header_problems`)."""
    found = []
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
            for n, line in enumerate(bounded_lines(f, found.append), 1):
                try:
                    row = csv_fields(line, separator)
                except ValueError:
                    continue
                if isinstance(row, LongRow) or (row and any(c.strip() for c in row)):
                    break
    except OSError:
        return None                 # said as the file that cannot be read, where it is read
    return found[0] if found else None


def long_header_said(n: int) -> str:
    return (f"line {n}, its first line with fields, is longer than {MAX_LINE_CHARS:,} characters: that is its header "
            "(or something above it), and the replay reads no line so long — the file is skipped; write fewer columns "
            "(the time and the sensors' are enough), or put the header on the file's first line")


def csv_fields(line: str, separator: str) -> list[str]:
    """One line of a CSV file (read untranslated: newline="") as its fields, as the replay reads every line: on its
    own, so that a field never spans lines; ValueError saying why for a line that is no CSV row (a quote opened and
    not closed on it). convert/data.py reads label-like columns by it too: its one reader over the whole file let a
    stray quote take the lines after it into one field, up to the csv module's limit, whose error ended `stad-convert
    train` (review38)."""
    import csv          # here: JSON-lines replays and other sources do not need it
    if isinstance(line, LongLine):
        row = LongRow()
        row.header_again = line is LONG_HEADER_AGAIN
        return row
    if not line.endswith(ENDS):
        line += "\n"            # the last line's quote left open shows as below, too
    try:
        row = next(csv.reader((line,), delimiter=separator), [])
    except csv.Error as exc:
        raise ValueError(str(exc)) from None
    if row and row[-1].endswith(ENDS):    # the line's end inside a field: a quote not closed
        raise ValueError("a quote opened on this line is not closed on it; the line is skipped (a field never "
                         "spans lines)")
    return row


#: Field separators a CSV is written with, for separator_hint.
SEPARATORS = (",", ";", "\t", "|")


def separator_hint(header: list[str], separator: str) -> str:
    """'' or, for a header read as one column that holds another usual separator (a `;` file read with the default
    `,`: `['timestamp;a;b']`), what the source's `separator` should be (review34: train said only that the time
    column was missing)."""
    if len(header) != 1:
        return ""
    found = [s for s in SEPARATORS if s != separator and s in header[0]]
    return (f" — the header is one column: its fields look separated by {found[0]!r}, set the source's "
            f"separator: {found[0]!r}" if found else "")
