"""What each file of a replayed recording gave training, said by the file's name (convert6).

The replay source reads a folder file by file and counts what it rejects; training used to look only at the
totals. A file of a folder that the replay skipped whole (a comment line above its header, a binary file named
.csv, rows with one field more than the header) left its day out of the model with exit 0 and one `rejected`
count in the summary; a file whose second half was written in another time layout, or newest first, lost those
rows the same way; a file of only a header, or shorter than a window, added nothing, unsaid; a sensor whose column
one file lacked was trained as missing there, said only as a share over all files. Here each file's reading is
judged on its own (FileRejects keeps the rejects per file):

- none of its rows read, something rejected: refused (exit 2), naming the file, its first rejected line and why;
- more than MAX_LOST_SHARE of its rows, and more than one, lost to reading (`LOST_REASONS`: a time that cannot be
  read or lies outside 1970–2100, a row older than the one before, a row of the wrong width, no CSV row or JSON
  object), or skipped after a header again that maps no sensor (`cat a.csv b.csv` of two recordings of other
  columns; the replay counts the header once and says the rows on the log — chaos7: train read half the file, the
  half said only on the log): refused the same way;
- no row at all (empty, a header only), or fewer ticks than a window: said, not refused (nothing is lost);
- a sensor never observed in one file (no column for it, or every cell blank or no number): said with the
  header's unmapped columns (a renamed column is the usual cause).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.alerts import iso
from agent.records import Detail, Record, Rejects, worded
from agent.sources.replay_lines import COMMENT_MARKS

#: Rejects that mean a file's rows are not read as the user thinks (two time layouts, newest first, a trailing
#: separator on the rows): more than this share of a file's rows lost to them refuses training.
LOST_REASONS = ("bad time", "bad timestamp", "missing time", "late", "wrong column count", "bad csv", "bad json",
                "line too long")
MAX_LOST_SHARE = 0.01
#: Of those, the aligner's: their rows are among the records read (the others' never were).
ALIGNER_REASONS = ("late", "bad timestamp")
#: Rejects that skip a file whole at its header.
HEADER_REASONS = ("missing time column", "no sensor columns", "duplicate column")


@dataclass
class FileRejects(Rejects):
    """Rejects (counted and logged as ever) that also keep, per file, the count and the first of each reason:
    `file` names the file being read or aligned (None: not a file's)."""
    file: str | None = None
    by_file: dict = field(default_factory=dict)     # name -> (Counter, {reason: (where, detail)})
    skipped: dict = field(default_factory=dict)     # name -> (where, rows): ReplaySource.skipped, rows after a
                                                    # header again that maps no sensor (not rejects: said on the log)

    def add(self, reason: str, where: str, detail: Detail = "") -> None:
        super().add(reason, where, detail)
        self._keep(reason, where, detail, 1)

    def add_many(self, reason: str, where: str, n: int, detail: Detail = "") -> None:
        super().add_many(reason, where, n, detail)
        if n > 0:
            self._keep(reason, where, detail, n)

    def _keep(self, reason: str, where: str, detail: Detail, n: int) -> None:
        if self.file is None:
            return
        counts, first = self.by_file.setdefault(self.file, (Counter(), {}))
        counts[reason] += n
        if reason not in first:
            first[reason] = (where, worded(detail))

    def of(self, name: str) -> tuple[Counter, dict]:
        return self.by_file.get(name, (Counter(), {}))


@dataclass
class FileRead:
    """One file of the recording as training got it."""
    name: str
    records: list[Record]
    ticks: int                      # aligned ticks (0: none)
    header: list[str] | None        # its first header as the replay reads it (CSV), else None


def _first(first: dict, reasons) -> tuple[str, str, str] | None:
    """(reason, where, detail) of the first reject among `reasons` (in their order)."""
    return next(((r, *first[r]) for r in reasons if r in first), None)


def refusal(f: FileRead, rejects: FileRejects) -> str | None:
    """Why training must not go on with file `f`, naming it, its first rejected line and why; else None."""
    counts, first = rejects.of(f.name)
    if not f.records and counts:
        # The reason that took most of its rows is why none was read: a units line under the header (`bad time`,
        # one line, "nothing to do") was named where every row had decimal commas (user38)
        reason, where, detail = _first(first, (*HEADER_REASONS, *sorted(
            first, key=lambda r: (-counts[r], r not in LOST_REASONS))))
        said = ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
        hint = ""
        if reason == "missing time column" and f.header and f.header[0].lstrip().startswith(COMMENT_MARKS):
            hint = (" (its first line that is not blank is the header, as the replay reads it: remove the comment "
                    "line(s) above the header)")
        return (f"{f.name}: none of its rows could be read ({said}; the first: {where}: {reason} — {detail}): "
                f"training would leave the file out; correct it or move it out of the folder{hint}")
    lost = sum(counts.get(r, 0) for r in LOST_REASONS)
    rows = len(f.records) + sum(counts.get(r, 0) for r in LOST_REASONS if r not in ALIGNER_REASONS)
    skipped_at, skipped = rejects.skipped.get(f.name, ("", 0))
    if skipped and lost + skipped > max(1, MAX_LOST_SHARE * (rows + skipped)):
        header = _first(first, HEADER_REASONS)
        detail = header[2] if header else ""
        return (f"{f.name}: {skipped} of its {rows + skipped} rows were skipped after a header again whose columns map "
                f"no sensor ({skipped_at}{': ' + detail if detail else ''}): a second recording of other columns joined "
                "to this one? map its columns to the sensors with the source's `columns`, or move its rows to a file "
                "of their own. Training would leave them out")
    if lost > max(1, MAX_LOST_SHARE * rows):
        reason, where, detail = _first(first, LOST_REASONS)
        why = {"bad time": "a second time layout in the file? set the source's time_format to it, or write every "
                           "time in one layout",
               "bad timestamp": "times the agent does not take (1970 to 2100)",
               "missing time": "rows without a time",
               "late": "rows older than the ones before them: a file written newest first? sort it oldest first",
               "wrong column count": "rows with more or fewer fields than the header (a separator at the end of "
                                     "each row?)",
               "bad json": "lines that are no JSON object"}.get(reason, "lines that are no CSV row")
        return (f"{f.name}: {lost} of its {rows} rows could not be read ({', '.join(f'{counts[r]} {r}' for r in LOST_REASONS if counts.get(r))}; "
                f"the first: {where}: {reason} — {detail}): {why}. Training would leave them out")
    return None


def notes(f: FileRead, sensors: list[str], steps: int, src) -> list[str]:
    """What is said, not refused, of file `f` (read by the replay source config `src`): no row, fewer ticks than a
    window, a sensor never observed."""
    if not f.records:
        return [f"{f.name}: no data rows (empty, or a header only): nothing of it is trained on"]
    out = []
    if f.ticks < steps:
        rows = len(f.records)
        out.append(f"{f.name}: {rows} row{'s' if rows != 1 else ''} read, {f.ticks} tick{'s' if f.ticks != 1 else ''} "
                   f"aligned: fewer than a window of {steps} ticks, nothing of it is trained on")
    seen = {s for r in f.records for s, v in r.values.items() if math.isfinite(v)}
    unseen = [s for s in sensors if s not in seen]
    if unseen and f.ticks >= steps:
        which = f"sensor {unseen[0]}" if len(unseen) == 1 else f"sensors {', '.join(unseen)}"
        if f.header is None:
            where = ""
        else:
            # `columns` maps whether or not this header has the column: only what it has feeds a sensor (user31:
            # a column added on day 3 was said "blank" on the days before it)
            mapped = {c: s for c, s in src.sensor_columns(f.header, sensors).items() if c in f.header}
            absent = [s for s in unseen if s not in mapped.values()]
            others = src.other_columns(f.header, sensors)
            others = [c for c in others if c != src.time_column_of(f.header) and c not in src.label_columns]
            where = (f" (no column for {', '.join(absent)} in its header {', '.join(map(repr, f.header))}"
                     + (f"; read for no sensor: {', '.join(map(repr, others))} — a renamed column? map it with "
                        "the source's `columns`" if others else "") + ")" if absent
                     else " (its column is blank or no number on every row)")
        out.append(f"{f.name}: {which} never observed in it{where}: its {f.ticks} ticks train with "
                   f"{'it' if len(unseen) == 1 else 'them'} missing (the model masks a missing value)")
    return out


#: A sensor silent over at least this share of its file's end, a column read for no sensor starting where it stops
#: (within RENAMED_WITHIN_S): a tag the historian renamed part way through the export (user38).
RENAMED_TAIL_SHARE = 0.1
RENAMED_WITHIN_S = 3600.0


def renamed_mid_file(f: FileRead, sensors: list[str], steps: int, src, first_numbers) -> list[str]:
    """A line per sensor whose readings stop for good before the last RENAMED_TAIL_SHARE of file `f` (and a window)
    where a column of its header read for no sensor has its first number: the historian renamed the tag part way, the
    two names two half-empty columns of one export (user38: trained as the sensor missing from Thursday noon on, said
    only as `missing on: flow 20.8 %`). `columns` maps one column to a sensor (review38), so the file is to be split.
    `first_numbers(columns)`: {column: the time of its first number in the file} (convert.data.first_numbers)."""
    if f.header is None or f.ticks < steps or not f.records:
        return []
    others = [c for c in src.other_columns(f.header, sensors)
              if c != src.time_column_of(f.header) and c not in src.label_columns]
    stamps = np.sort(np.array([r.ts for r in f.records]))
    first, end = float(stamps[0]), float(stamps[-1])
    stopped = {}
    for s in sensors:
        last = max((r.ts for r in f.records if math.isfinite(r.values.get(s, math.nan))), default=None)
        if (last is not None and end - last >= RENAMED_TAIL_SHARE * (end - first)
                and stamps.size - np.searchsorted(stamps, last, side="right") >= steps):
            stopped[s] = last
    if not stopped or not others:
        return []
    starts = first_numbers(others)
    out = []
    for s, last in stopped.items():
        new = [c for c, t in starts.items() if t > first and 0 < t - last <= RENAMED_WITHIN_S]
        if not new:
            continue
        column = next((c for c, m in src.sensor_columns(f.header, sensors).items() if m == s and c in f.header), s)
        out.append(f"{f.name}: sensor {s} (column {column!r}) has no reading after {iso(last)}, where column "
                   f"{new[0]!r}, read for no sensor, has its first — a tag renamed part way through the export? "
                   f"{s} is trained as missing over the last {100 * (end - last) / (end - first):.0f} % of the file: "
                   f"split the file at the rename and swap the two names in the later part's header ({column!r} ↔ "
                   f"{new[0]!r}: the old column is blank there; one sensor is one column's)")
    return out


def header_of(path: Path, separator: str) -> list[str] | None:
    """A CSV file's first header as the replay reads it (agent.preflight.csv_header: replay_lines.first_header)."""
    from agent.preflight import csv_header
    return csv_header(path, separator)
