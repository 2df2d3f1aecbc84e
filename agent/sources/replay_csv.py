"""The CSV half of the replay source: a CSV file's rows read into records by its header's columns, a header again
mid-file read as one (or its rows skipped up to the next one it can read), and the header in force at a tail read's
start found (`header_before`).

A mixin of ReplaySource (replay.py), as drift_judge.py and its kin are of faults/drift.py's Drift: apart so that
each reads in one sitting. It uses the source's `cfg`, `sensors`, `rejects`, `_stop`, `_lines_read`, `skipped`,
`_label_words`, `name_of`, `_bounded` (the lines of a file of either format, bounded; its CSV branch asks
`_reads_as_header` here) and the label words' `_label_word` and `_said_label_words`; the lines and fields themselves
are read by replay_lines.py's rules.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Callable, Iterator

from ..records import Record, short_repr
from .lines import NotATime, count_bad_numbers, label_flag, parse_number, parse_stamp
from .replay_lines import (HEAD_CHARS, MAX_LINE_CHARS, TIME_COLUMN_FALLBACKS, LongRow, csv_fields, first_header,
                           header_fields, long_header_again_said, separator_hint, units_line)

log = logging.getLogger("stad.replay")

#: The bytes `header_before` reads at a time, searching back from a tail read's start.
HEADER_SCAN_BYTES = 2**20


class CsvReading:
    """A mixin of ReplaySource: its CSV files read (the module's docstring)."""

    def _reads_as_header(self, text: str) -> bool:
        """Whether a CSV line (or the start of one: its first HEAD_CHARS) names the time column as a field."""
        try:
            fields = header_fields(csv_fields(text[:HEAD_CHARS], self.cfg.separator))
        except ValueError:
            return False
        return self.cfg.time_column_of(fields) in fields

    def _csv(self, path: Path, name: str, start: int = 0) -> Iterator[Record]:
        self._label_words = {}
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
            size = os.fstat(f.fileno()).st_size
            seeking = [True]        # (the header not found yet: a line too long is it, `first_header`)
            rows = self._csv_lines(f, name, header=lambda: seeking[0])
            found = first_header(rows)
            seeking[0] = False
            if found is None:
                return
            n, header = found
            layout = self._layout([h.strip() for h in header], f"{name}:{n}")
            if layout is None:
                return
            under = n + 1           # the line under the header, where an export puts its units
            again = None
            if start > f.tell():    # the header read from the top; the rows from `start` (a line's start)
                again = self.header_before(path, f.tell(), start)
                f.seek(start)
                rows = self._csv_lines(f, name)
                under = None
            time_i, value_cols, label_cols = layout
            header = [h.strip() for h in header]
            skipped = None          # (the header's place, rows skipped since) after a header again it cannot read

            def header_again(fields: list[str], where: str) -> None:
                """A header again: the rows after it read by it (its columns' change said), or skipped up to the next
                one when it maps no sensor (counted once, as the header)."""
                nonlocal header, skipped, time_i, value_cols, label_cols
                self._said_skipped(skipped, name)
                skipped = None
                if fields == header:
                    return
                layout = self._layout(fields, where)        # an unusable one is counted there, once
                log.warning("%s: the header again, with other columns (%s; were %s): %s", where,
                            short_repr(",".join(fields)), short_repr(",".join(header)),
                            "the rows from here are read by it" if layout else
                            "the rows from here are skipped until a header the replay can read")
                header = fields
                if layout is None:
                    skipped = (where, 0)
                else:
                    time_i, value_cols, label_cols = layout

            if again is not None:   # the header in force at `start`: the tail's rows are read by it, as a whole read's
                where = f"{self.name_of(path)} (byte {again[0]:,}, before the tail read)"
                if again[2] is None:
                    header_again(again[1], where)
                else:               # past the line bound: its rows skipped up to the next header, as a whole read's
                    self.rejects.add("line too long", where, long_header_again_said(again[2], self.cfg.separator))
                    skipped, header = (where, 0), []
            for n, row in rows:
                if self._stop.is_set():
                    return
                where = f"{name}:{n}"
                if isinstance(row, LongRow) and row.header_again:   # its columns unknown: skipped up to the next header
                    self._said_skipped(skipped, name)
                    skipped, header = (where, 0), []
                    continue
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                fields = header_fields(row)
                if self.cfg.time_column_of(fields) in fields:       # a header again: two recordings joined
                    header_again(fields, where)
                    continue
                if skipped is not None:
                    skipped = (skipped[0], skipped[1] + 1)
                    continue
                if len(row) != len(header):
                    self.rejects.add("wrong column count", where,
                                     f"expected {len(header)} fields, got {len(row)}")
                    continue
                if n == under and (units := units_line(row, time_i, value_cols, self.cfg.time_format)) is not None:
                    said = (f"a units line under the header ({units}): no time and no number on it; read past, "
                            "nothing to do")
                    if row[time_i].strip():
                        self.rejects.add("bad time", where, said)
                    else:
                        self.rejects.add("missing time", where, said)
                    continue
                rec = self._csv_row(row, where, time_i, value_cols, label_cols)
                if rec is not None:
                    yield rec
            self._said_skipped(skipped, name)
            self._said_label_words(name)
            self._shrunk(f, size, path, name)

    def _said_skipped(self, skipped: tuple[str, int] | None, name: str) -> None:
        """The rows a header again that the replay cannot read took with it (counted once, as its header; kept by
        file in `skipped`, for training's judgement of the file: convert.file_checks)."""
        if skipped is not None and skipped[1]:
            where, rows = self.skipped.get(name, (skipped[0], 0))
            self.skipped[name] = (where, rows + skipped[1])
            log.warning("%s: %d row(s) after this header skipped (its columns map no sensor the replay can "
                        "read; counted once, as the header)", skipped[0], skipped[1])

    def header_before(self, path: Path, lo: int, hi: int) -> tuple[int, list[str], str | None] | None:
        """(its byte, its fields, None) of the last CSV header again between bytes `lo` and `hi` of `path` (`hi` a
        line's start), or None: the columns in force at `hi`, for a read from there (warmup.replay's tail). A tail read
        took the file's first header, and read two recordings joined with their columns in another order by the wrong
        one, unsaid (chaos6). The bytes are searched backwards for the time column's name — a plain search,
        ~2 GB/s: a data row seldom holds it — and only a line holding it is read as CSV, by the rule of `_csv`.
        A line longer than MAX_LINE_CHARS is judged as `_bounded` judges it, by its first HEAD_CHARS: a header again
        there is (its byte, [], its first HEAD_CHARS) — its rows are skipped, as a whole read skips them (before
        qa49, its first 64 KiB were read as the columns: a field cut short, every row `wrong column count`)."""
        names = [n.encode() for n in (TIME_COLUMN_FALLBACKS if self.cfg.time_column == "timestamp"
                                      else (self.cfg.time_column,)) if n]
        names = [n for n in names if not any(m != n and m in n for m in names)]     # `time` finds `timestamp` too:
        needle = re.compile(b"|".join(map(re.escape, names)))       # 2 GB/s where all 4 made it 0.2 (28 days' file)
        over = max(map(len, names))
        with open(path, "rb") as f:
            end = line_start = hi
            while end > lo:
                begin = max(lo, end - HEADER_SCAN_BYTES)
                f.seek(begin)
                chunk = f.read(min(hi, end + over) - begin)     # a name across the chunks' seam is found whole
                for hit in reversed([m.start() for m in needle.finditer(chunk)]):
                    if begin + hit >= line_start:
                        continue                # in a line already looked at
                    line_start, line, long = _line_around(f, begin + hit, lo)
                    if long:
                        if self._reads_as_header(line):
                            return line_start, [], line
                        continue
                    try:
                        fields = header_fields(csv_fields(line, self.cfg.separator))
                    except ValueError:
                        continue
                    if self.cfg.time_column_of(fields) in fields:
                        return line_start, fields, None
                end = begin
        return None

    def _csv_lines(self, f, name: str, header: Callable[[], bool] = lambda: False
                   ) -> Iterator[tuple[int, list[str] | None]]:
        """(line number, fields) of each line of a CSV file; None for a line that is no CSV row
        (counted as `bad csv`). Each line is parsed on its own: a recording holds one row a line, and
        one reader over the whole file let a stray quote take the lines after it into one field, up
        to the csv module's field limit (131,072 characters) — 6,555 rows of 20,000 lost, counted as
        one `bad csv` at the line where the limit stopped it, not where the quote was (qa21)."""
        for n, line in enumerate(self._bounded(f, name, header, csv=True), 1):
            self._lines_read = n
            try:
                yield n, csv_fields(line, self.cfg.separator)
            except ValueError as exc:
                self.rejects.add("bad csv", f"{name}:{n}", str(exc))
                yield n, None

    def _layout(self, header: list[str], where: str):
        """(time column index, [(index, column, sensor)], [(index, column)]) or None if unusable; `where` names the
        header in what is counted."""
        cfg = self.cfg
        time_col = cfg.time_column_of(header)
        if time_col not in header:
            self.rejects.add("missing time column", where,
                             f"no column {cfg.time_column!r} in {header}{separator_hint(header, cfg.separator)}")
            return None
        wanted = cfg.sensor_columns(header, self.sensors)
        value_cols = [(i, c, wanted[c]) for i, c in enumerate(header) if c in wanted]
        label_cols = [(i, c) for i, c in enumerate(header) if c in cfg.label_columns]
        twice = cfg.columns_twice(header, self.sensors)
        if twice:
            self.rejects.add("duplicate column", where, f"the header names {twice} more than once: which one is "
                             "meant cannot be known; the file is skipped (rename one of them)")
            return None
        if not value_cols:
            self.rejects.add("no sensor columns", where,
                             f"none of {header} maps to a sensor{separator_hint(header, cfg.separator)}")
            return None
        # counted once the file is read at all: its rows are, without that sensor (said so, records.READ_WITHOUT)
        for col in wanted if cfg.columns is not None else ():
            if col not in header:
                self.rejects.add("missing column", where, f"column {col!r} (sensor {wanted[col]} missing in its rows: "
                                 "not in the header)")
        return header.index(time_col), value_cols, label_cols

    def _csv_row(self, row: list[str], where: str, time_i: int, value_cols, label_cols) -> Record | None:
        cell = row[time_i].strip()
        if not cell:
            self.rejects.add("missing time", where, f"empty time field (column {time_i + 1})")
            return None
        try:
            ts, ts_text = parse_stamp(cell, self.cfg.time_format)
        except ValueError as exc:
            hint = " (another layout: set the source's time_format, strptime)" if isinstance(exc, NotATime) else ""
            self.rejects.add("bad time", where, lambda: f"time field {cell!r}: {exc}{hint}")
            return None
        values: dict[str, float] = {}
        bad = []
        for i, col, sensor in value_cols:
            text = row[i].strip()
            if not text:
                continue        # an empty cell is a missing reading, not an error
            try:
                values[sensor] = parse_number(text)
            except ValueError as exc:    # parse_number's words: `1_000`, `１２`, `1,5` said as what they are
                bad.append((repr, col, exc))
        count_bad_numbers(self.rejects, where, bad)
        if not values:
            if not bad:         # a row whose cells were all bad numbers is counted once, above
                self.rejects.add("no values", where, "no readings on the row")
            return None
        label = None            # only a kept row's bad label is counted: one reason per rejected row
        for i, col in label_cols:
            try:
                flag = label_flag(row[i])
            except ValueError:
                self.rejects.add("bad label", where, f"field {col!r}: {row[i]!r}")
                self._label_word(col, row[i].strip())
                continue
            label = max(label or 0, flag)
        return Record(ts=ts, values=values, label=label, origin=where, ts_text=ts_text)


def _line_around(f, pos: int, lo: int) -> tuple[int, str, bool]:
    """(its start, its text, whether it is longer than MAX_LINE_CHARS) of the line of binary file `f` holding byte
    `pos`, starting at `lo` at the earliest; of a line that long, its first HEAD_CHARS as its text (what `_bounded`
    keeps of a line it reads past). Its start is looked for as far back as it lies: cut at MAX_LINE_CHARS before
    `pos` (before qa49), a long line's middle was read as a line of its own."""
    start = pos
    while start > lo:
        step = min(1 << 16, start - lo)
        f.seek(start - step)
        before = f.read(step)
        cut = max(before.rfind(b"\n"), before.rfind(b"\r"))
        if cut >= 0:
            start = start - step + cut + 1
            break
        start -= step
    f.seek(start)
    line = f.read(1 << 16)                      # a header is short: more only when its end is not in these
    ends = [i for i in (line.find(b"\n"), line.find(b"\r")) if i >= 0]
    if not ends:
        line += f.read(4 * (MAX_LINE_CHARS + 1) - len(line))    # a character is at most 4 bytes: `_bounded` counts them
        ends = [i for i in (line.find(b"\n"), line.find(b"\r")) if i >= 0]
    text = (line[:min(ends)] if ends else line).decode("utf-8", errors="replace")
    if len(text) > MAX_LINE_CHARS:
        return start, text[:HEAD_CHARS], True
    return start, text, False
