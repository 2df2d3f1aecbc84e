"""Replay recorded CSV or JSON-lines files, optionally paced by their timestamps.

CSV files are read as they are: SKAB (`;`, 'YYYY-MM-DD HH:MM:SS', `anomaly`/`changepoint`
label columns, mixed CRLF/LF) and NAB (`timestamp,value`, labels from combined_windows.json)
need only the matching config. A directory replays every *.csv / *.jsonl / *.ndjson below it in sorted
order. Bad lines are counted in Rejects as '<file>:<line>' and skipped; a file that cannot be
read (an I/O error, its permissions) is counted as 'unreadable file' and the next one follows; one
that fails part-way keeps every record read before, and the reject names the line it failed at and
how many lines were read (a disk's bad block mid-file is not the whole file lost). A file that
shrank while it was read (truncated, rotated in place) is counted the same way at its end: the
lines past the new end are lost, and the replay says so rather than ending the file in silence.
Each recording's first and last stamp read are kept (`spans`): a silence of every sensor from one recording's
end to the next one's start — a folder of daily files, or the next day's file after a restart — is how the
recordings were made, not the device falling silent (`recording_gap`; faults/source.py tells it on the log, no
fault event). A silence inside one recording is what that recording shows: told as a fault, as a live one is.
A CSV header again mid-file (two recordings joined, `cat a.csv b.csv`) is read as one: the rows after it by its
columns, its change of columns said (chaos5: the rows were read by the first header's columns, in another order
than theirs, unsaid); one that maps no sensor skips the rows up to the next header, counted once as the header.
A line longer than MAX_LINE_CHARS is skipped whole and counted as `line too long`, never held: a
file whose tail a power cut left as zeros without a newline (an SD card) was read as one line —
a 200 MB one took 650 MB of memory, a larger one more than a gateway has. A CSV field never spans
lines (`csv_fields`): a stray quote costs its own line, counted there.

This module holds the config, its check-config word, and the source (files in order, a tail read, pacing, spans,
labels and label words, JSON lines); the rest is apart so that each reads in one sitting (review44): replay_csv.py
(a CSV's rows, a mixin of the source), replay_lines.py (lines and CSV fields, the header rule: check-config's and the
converter's too), replay_files.py (the files a path holds), replay_labels.py (NAB's labels file), pacer.py (pacing).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Iterator, Literal

from ..label_names import MAX_LABEL_WORDS, what_to_write, words_shown
from ..records import Record, Rejects, short_repr
from ..plugins import Plugin
from ..host_checks import Note, path_problems
from ..typed import doc, rng
from .base import Source, SourceConfig
from .pacer import Pacer
from .lines import as_replaced, not_utf8_said, parse_json_line, parse_number
from .replay_csv import CsvReading
from .replay_files import JSONL_SUFFIXES, folder_problems, walk_replay, wide_text, wide_text_problems
from .replay_labels import EventRuns, LabelsError, load_nab_windows
from .replay_lines import (ENDS, LONG_HEADER_AGAIN, MAX_LINE_CHARS, TIME_COLUMN_FALLBACKS, LongLine, bounded_lines,
                           long_header, long_header_again_said, long_header_said)


def iso_time(ts: float) -> str:
    """A time for a message: ISO-8601 UTC, or the number as it is where no calendar holds it (a row stamped in
    nanoseconds since 1970, 1.7e18; a labels window at 1e20): gmtime's OSError or OverflowError ended the file at the
    labels' end-of-file line (review38)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    except (OverflowError, OSError, ValueError):
        return f"{ts!r} s since 1970"

log = logging.getLogger("stad.replay")


@dataclass
class ReplayConfig(SourceConfig):
    TYPE: ClassVar[str] = "replay"
    path: str = doc(
        "a file, or a directory whose *.csv / *.jsonl / *.ndjson files are replayed in order (required)", default="")
    format: Literal["csv", "jsonl", "auto"] = doc("`csv`, `jsonl` or `auto` (by suffix)", default="auto")
    separator: str = doc("CSV field separator, one character (SKAB: `;`)", default=",")
    time_column: str = doc("the CSV column holding the timestamp", default="timestamp")
    time_format: str | None = doc(
        "strptime format of the timestamps; null: ISO-8601 or epoch seconds", default=None)
    columns: dict[str, str] | None = doc("column → sensor; null: columns named like sensors", default=None)
    label_columns: list[str] = doc(
        "columns whose non-zero value marks the row anomalous (SKAB: `[anomaly]`); a tick without a row takes the "
        "label of the tick before it; `stad-convert train` refuses a label that is no number (`TRUE`, `yes`, blank): "
        "write 0/1", default_factory=list)
    labels_file: str | None = doc("NAB's `combined_windows.json`: labels by file", default=None)
    speed: float = rng(0, None, default=0.0,
        doc="pacing by the timestamps: 0 as fast as possible, 1 real time, 10 ten times faster")

    def validate(self) -> list[tuple[str, str]]:
        out = [] if self.path else [("path", "required for a replay source")]
        # The csv module takes one character, and a line end never separates fields: another separator
        # passed check-config and ended the source at its first file (TypeError: "delimiter" must be a
        # 1-character string), and the agent with it when it had no other source.
        if isinstance(self.separator, str) and (len(self.separator) != 1 or self.separator in ENDS):
            out.append(("separator", f"one character that is no line end, such as ',' or ';', got "
                                     f"{short_repr(self.separator)}"))
        if isinstance(self.time_format, str):
            out += [("time_format", m) for m in time_format_problems(self.time_format)]
        # Two columns of one sensor: a row's second reading replaced its first, unsaid (review38).
        first: dict[str, str] = {}
        for column, sensor in (self.columns or {}).items() if isinstance(self.columns, dict) else ():
            if isinstance(sensor, str) and first.setdefault(sensor, column) != column:
                out.append((f"columns.{column}", f"sensor {sensor!r} is read from column {first[sensor]!r} already: "
                                                 "each sensor is one column's (a column renamed between files: give "
                                                 "the files with the old name the new one in their header, and map "
                                                 "the new name)"))
        return out

    def sensor_columns(self, header: list[str], sensors: list[str]) -> dict[str, str]:
        """{column: sensor} of a CSV header, as the replay reads it: `columns` when given; else every column named
        as a sensor, or a single-series file's one other column (NAB's `timestamp,value`) for a single sensor. A
        blank name is none (`timestamp,value,`, a spreadsheet's export: it mapped nothing, every file rejected —
        review32)."""
        if self.columns is not None:
            return dict(self.columns)
        wanted = {c: c for c in header if c in sensors}
        others = [c for c in header if c.strip() and c != self.time_column and c not in self.label_columns]
        if not wanted and len(others) == 1 and len(sensors) == 1:
            wanted = {others[0]: sensors[0]}
        return wanted

    def time_column_of(self, header: list[str]) -> str:
        """The column a CSV header's time is read from: `time_column`, or with its default (`timestamp`) not in the
        header, the first of TIME_COLUMN_FALLBACKS that is."""
        if self.time_column not in header and self.time_column == "timestamp":
            return next((c for c in TIME_COLUMN_FALLBACKS if c in header), self.time_column)
        return self.time_column

    def columns_twice(self, header: list[str], sensors: list[str]) -> str | None:
        """"'a' (fields 2, 3)" for the columns the replay reads (the time, the sensors') that a CSV header names more
        than once, else None: which field is meant cannot be known, and the last one's reading replaced the first's,
        unsaid (review38) — the replay skips such a file (`duplicate column`), check-config notes it."""
        wanted = self.sensor_columns(header, sensors)
        read = dict.fromkeys([self.time_column_of(header), *(c for c in header if c in wanted)])
        twice = [c for c in read if header.count(c) > 1]
        return ", ".join(f"{c!r} (fields {', '.join(str(i + 1) for i, h in enumerate(header) if h == c)})"
                         for c in twice) or None

    def other_columns(self, header: list[str], sensors: list[str]) -> list[str]:
        """A CSV header's columns besides the time and the sensors' (`sensor_columns`): where a label column is
        (what check-config and evaluate name when `label_columns` misses it). A blank name is none: a header
        ending in a separator (`timestamp,a,b,`, a spreadsheet's export) made evaluate propose `label_columns: ['']`.
        Without a `columns` mapping the sensors' own columns were counted too: evaluate proposed a sensor as the
        label column (qa37)."""
        mapped = self.sensor_columns(header, sensors)
        return [c for c in header if c.strip() and c != self.time_column and c not in mapped]

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"columns.{col}", sensor) for col, sensor in (self.columns or {}).items()]

    def csv_keys_unused(self, files: list[Path]) -> list[tuple[str, str]]:
        """A Note for each key only a CSV file is read by (`columns`, `label_columns`, `time_format`, `separator`,
        `time_column`) that is set while every file the replay reads is JSON lines: a JSON line names its sensors,
        its time (`ts`) and its label itself, and the key did nothing, unsaid — a `columns` mapping left every
        reading an `unknown sensor`, `label_columns` left evaluate without labels (review38)."""
        if not files or any(not self.reads_as_jsonl(p) for p in files):
            return []
        defaults = {"columns": None, "label_columns": [], "time_format": None, "separator": ",",
                    "time_column": ("timestamp", "ts")}
        set_keys = [key for key, default in defaults.items()
                    if getattr(self, key) not in (default if isinstance(default, tuple) else (default,))]
        return [(key, Note(f"read from CSV files only, and this replay reads JSON lines only: not used (a line names "
                           'its sensors, time and label itself: {"ts": …, "<sensor>": …, "label": 0})'))
                for key in set_keys]

    def reads_as_jsonl(self, path: Path) -> bool:
        """Whether the replay reads `path` as JSON lines (`format`, or with `auto` its suffix)."""
        return self.format == "jsonl" or (self.format == "auto" and path.suffix.lower() in JSONL_SUFFIXES)

    def preflight(self, resolve) -> list[tuple[str, str]]:
        out = [("path", m) for m in path_problems(resolve(self.path))] if self.path else []
        if self.path and not out:
            walked = walk_replay(resolve(self.path), self.format)
            out += [("path", m) for m in folder_problems(resolve(self.path), self.format, walked)]
            out += [("path", m) for m in wide_text_problems(walked[0], resolve(self.path))]
            out += [("path", m) for m in long_header_problems(walked[0], resolve(self.path), self)]
            out += self.csv_keys_unused(walked[0])
        if self.labels_file:
            problems = path_problems(resolve(self.labels_file), want_file=True)
            if not problems:
                try:
                    load_nab_windows(resolve(self.labels_file))
                except LabelsError as exc:
                    problems = [str(exc)]
            out += [("labels_file", m) for m in problems]
        return out


def time_format_problems(time_format: str) -> list[str]:
    """What is wrong with a strptime format for the time column, found by writing a time with it and reading it
    back: a directive strptime does not know (`%s`, which strftime knows), or no year in it (`%H:%M:%S`: its times
    read as 1900, which the aligner refuses). check-config said ok to both, and `run` refused every row (`bad time`
    / `bad timestamp`; review38)."""
    from datetime import datetime, timezone
    moment = datetime(2026, 1, 5, 6, 7, 8, tzinfo=timezone.utc)
    try:
        back = datetime.strptime(moment.strftime(time_format), time_format)
    except ValueError as exc:
        return [f"{short_repr(time_format)} cannot read a time it writes: {exc}"]
    if back.year != moment.year:
        return [f"{short_repr(time_format)} holds no year: its times read as {back.year}, and the agent takes times "
                "from 1970 to 2100 (every row would be refused as `bad timestamp`); add %Y"]
    return []


class ReplaySource(CsvReading, Source):
    TYPE = "replay"

    def __init__(self, cfg: ReplayConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0, clock: Callable[[], float] = time.time):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s, clock)
        self.root = self.resolve(cfg.path)
        self.files, self.unread = walk_replay(self.root, cfg.format)     # unread: said by preflight and by train
        self.windows = load_nab_windows(self.resolve(cfg.labels_file)) if cfg.labels_file else None
        self.unreadable: list[str] = []     # 'path: why' of each file an OSError cut short
        self._lines_read = 0                # lines of the file being read taken from it so far
        self.spans: list[list] = []         # [name, first ts, last ts] of each recording read, in replay order
        self.skipped: dict[str, tuple[str, int]] = {}   # name -> (the first header again that maps no sensor, rows
                                                        # skipped after such headers): not rejects, said on the log
        self._label_words: dict[str, Counter] = {}      # label column -> its cells that are words, in this file
        self.label_words_in: dict[str, list[str]] = {}  # file name -> its label columns of words (each said once)
        self._stop = threading.Event()


    def close(self) -> None:
        self._stop.set()

    def records(self) -> Iterator[Record]:
        for _, recs in self.recordings():
            yield from recs
            if self._stop.is_set():
                return

    def recordings(self) -> Iterator[tuple[str, Iterator[Record]]]:
        """(name, its records) per file, in replay order: each file is a separate recording.

        Names are relative to the replay root ('valve1/0.csv'), or the file name for a single file.
        """
        for path in self.files:
            name = self.name_of(path)
            yield name, self._file_records(path, name)

    def name_of(self, path: Path) -> str:
        return path.name if path == self.root else path.relative_to(self.root).as_posix()

    def tail_records(self, path: Path, start: int) -> Iterator[Record]:
        """The records of `path` from byte `start` on, which must be a line's start (`tail_start`); a
        CSV's header is still read from the top. Its lines are numbered from `start` on, and their
        rejects name the byte ('a.csv (from byte 1,234):5'): the lines before were never read."""
        name = self.name_of(path)
        return self._file_records(path, f"{name} (from byte {start:,})" if start else name, start)

    def tail_start(self, path: Path, back: int) -> int | None:
        """The first line start at or after `back` bytes before the end of `path` (a line end: '\n',
        '\r\n' or a lone '\r', as both readers split lines), or None when that is within the file's
        first half: reading from there saves too little to be worth a second way. No other cut is
        needed: the replay reads only plain text (.csv, .jsonl, .ndjson; no .gz), so any byte can be
        sought to."""
        size = path.stat().st_size
        pos = size - back
        if pos <= size // 2:
            return None
        with open(path, "rb") as f:
            f.seek(pos - 1)         # the byte before: if it ends a line, `pos` starts one
            prev = f.read(1)
            if prev == b"\n" or (prev == b"\r" and f.read(1) != b"\n"):
                return pos
            f.seek(pos)
            while chunk := f.read(65536):
                ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
                if not ends:
                    pos += len(chunk)
                    continue
                i = min(ends)
                if chunk[i:i + 1] == b"\r":
                    f.seek(pos + i + 1)
                    if f.read(1) == b"\n":     # '\r\n' (also when the chunk ended at its '\r')
                        i += 1
                return pos + i + 1 if pos + i + 1 < size else None
        return None

    def _file_records(self, path: Path, name: str, start: int = 0) -> Iterator[Record]:
        if (why := wide_text(path)) is not None:    # (check-config and run refuse it: here a reader without preflight)
            log.warning("%s: %s; its lines are read as UTF-8 all the same, each refused and counted", name, why)
        rows = self._jsonl(path, name, start) if self.cfg.reads_as_jsonl(path) else self._csv(path, name, start)
        # Each file is paced from its own first timestamp.
        pacer = Pacer(self.cfg.speed, self._stop)
        self._lines_read = 0
        span = None
        try:
            for rec in self._with_labels(rows, path, name):
                if not pacer.wait(rec.ts):
                    return
                if span is None:
                    span = [name, rec.ts, rec.ts]
                    self.spans.append(span)     # (one append: the pipeline's thread reads it)
                elif rec.ts > span[2]:
                    span[2] = rec.ts
                yield rec
        except OSError as exc:      # one file that cannot be read (an I/O error, its permissions) ends that file only
            read = self._lines_read
            if read:                # what was read before is kept: it has been yielded
                why = (f"cannot read it from line {read + 1} on ({read} lines read, their records kept): "
                       f"{exc.strerror or exc}")
            else:
                why = f"cannot read it: {exc.strerror or exc}"
            self.unreadable.append(f"{path}: {why}")
            self.rejects.add("unreadable file", f"{name}:{read + 1}" if read else name,
                             why + "; the replay goes on with the next file")

    def recording_gap(self, since: float, until: float) -> str | None:
        """A silence from `since` to `until` after one recording's last stamp and before the next one's first
        (or, after a restart, before this run's first recording): how the recordings were made. Inside one
        recording, or while it is unknown when the next begins: None (a silence, told as one)."""
        spans = list(self.spans)
        for k, (name, first, _) in enumerate(spans):
            if first <= until:
                continue
            if k and spans[k - 1][2] >= since:
                return None
            before = f"{spans[k - 1][0]} (its last stamp {iso_time(spans[k - 1][2])})" if k else \
                "the state this run resumed from"
            return f"between {before} and the recording {name} (its first stamp {iso_time(first)})"
        return None

    # ---- labels shared by both formats --------------------------------------------------

    def _with_labels(self, rows: Iterable[Record], path: Path, name: str) -> Iterator[Record]:
        spans = self._windows_for(path)
        runs = EventRuns(name)
        hit, first, last = set(), None, None
        for rec in rows:
            if spans is not None:
                window = next((i for i, (a, b) in enumerate(spans, 1) if a <= rec.ts <= b), None)
                if window is not None:
                    rec.label, rec.event = 1, f"window-{window}"
                    hit.add(window)
                elif rec.label is None:
                    rec.label = 0
                first = rec.ts if first is None else first
                last = rec.ts
            if rec.event is None:
                rec.event = runs.event_for(rec.label)
            yield rec
        for i, (a, b) in enumerate(spans or (), 1):
            if i not in hit:            # not scored: without this line the table just says "events 0/0"
                log.warning("%s: labels window %d (%s to %s) holds no row of the file (%s); it is not scored",
                            "/".join(path.parts[-2:]), i, iso_time(a), iso_time(b),
                            "no rows" if first is None else f"rows from {iso_time(first)} to {iso_time(last)}")

    def _windows_for(self, path: Path) -> list[tuple[float, float]] | None:
        if self.windows is None:
            return None
        key = "/".join(path.parts[-2:])
        spans = self.windows.get(key)
        if spans is None:
            log.warning("%s: no entry %r in the labels file; its rows carry no labels", path, key)
        return spans

    def _bounded(self, f, name: str, header: Callable[[], bool] = lambda: False, csv: bool = False) -> Iterator[str]:
        """The file's lines (`bounded_lines`), one longer than MAX_LINE_CHARS counted (`line too long`); said as the
        header the file is skipped for while `header()` (a CSV's, none found yet: `first_header`), and in a CSV as a
        header again when its start reads as one (`LONG_HEADER_AGAIN`: the rows after it are skipped, `_csv`). A line
        holding a byte that is not UTF-8 (the file read with errors="surrogateescape") is counted `bad payload`
        naming the byte and given as a blank line, skipped — but for a CSV header, read on with U+FFFD for the byte
        (chaos8: read as U+FFFD, its sensor was `unknown sensor '��c'` and its number `not a number: '1�5'`)."""
        for n, line in enumerate(bounded_lines(f, lambda n: None), 1):
            where = f"{name}:{n}"
            if isinstance(line, LongLine):
                if header():
                    self.rejects.add("line too long", where, long_header_said(n))
                elif csv and self._reads_as_header(line.head):
                    self.rejects.add("line too long", where, long_header_again_said(line.head, self.cfg.separator))
                    line = LONG_HEADER_AGAIN
                else:
                    self.rejects.add("line too long", where, f"more than {MAX_LINE_CHARS} characters; skipped")
            elif (said := not_utf8_said(line)) is not None:
                line = as_replaced(line)
                if csv and (header() or self._reads_as_header(line)):
                    self.rejects.add("bad payload", where, f"{said}; it is a header: read with '\ufffd' for the "
                                     "byte, a column named with it maps no sensor by its name")
                else:
                    self.rejects.add("bad payload", where, f"{said}; the line is skipped")
                    line = "\n"
            yield line

    def _shrunk(self, f, size: int, path: Path, name: str) -> None:
        """At the end of a file: if it is shorter than when it was opened, its end was cut while it
        was read; the lines read are kept, the rest is lost — counted as an unreadable file."""
        now = os.fstat(f.fileno()).st_size
        if now < size:
            read = self._lines_read
            why = (f"it shrank from {size} to {now} bytes while it was read (truncated or rotated in place): "
                   f"{read} lines read and kept, the rest of it is lost")
            self.unreadable.append(f"{path}: {why}")
            self.rejects.add("unreadable file", f"{name}:{read + 1}", why)

    # ---- JSON lines -------------------------------------------------------------------

    def _jsonl(self, path: Path, name: str, start: int = 0) -> Iterator[Record]:
        self._label_words = {}
        with open(path, encoding="utf-8", errors="surrogateescape", newline=None) as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(start)           # a line's start, so a character's: a UTF-8 decoder holds no state there
            for n, line in enumerate(self._bounded(f, name), 1):
                self._lines_read = n
                if self._stop.is_set():
                    return
                if not line.strip():
                    continue
                rec = parse_json_line(line, f"{name}:{n}", self.rejects, live=False, label_word=self._label_word)
                if rec is not None:
                    yield rec
            self._said_label_words(name, "field")
            self._shrunk(f, size, path, name)

    # ---- label cells that are words: kept by column, said once -----------------------

    def _label_word(self, column: str, cell: str) -> None:
        """A label cell that is no number: a word (not blank, no number at all) is kept for `_said_label_words`."""
        try:
            parse_number(cell)
            return              # NaN, inf: a number, but not finite
        except ValueError:
            pass
        words = self._label_words.setdefault(column, Counter())
        if cell and (cell in words or len(words) < MAX_LABEL_WORDS):
            words[cell] += 1

    def _said_label_words(self, name: str, kind: str = "column") -> None:
        """A label column whose cells are words (`verdict`: `confirmed`, `false_alarm`), said once per column at the
        end of the first file that has them: what the words are and what to write. Before (qa51) each row said
        `bad label` alone — the first five on the log, then a count — with nothing to say why or what to do. A JSON
        line's `label` field likewise (`kind` "field"; qa52)."""
        words, self._label_words = self._label_words, {}
        said = {c for columns in self.label_words_in.values() for c in columns}
        for column, cells in words.items():
            if not cells:
                continue
            self.label_words_in.setdefault(name, []).append(column)
            if column not in said:
                log.warning("%s: label %s %r holds words, not numbers (%s): each such row is counted as "
                            "`bad label` and read without a label. A label is a number: write the %s as 0/1 "
                            "(%s); said once", name, kind, column, words_shown(cells), kind, what_to_write(cells))


def long_header_problems(files: list[Path], root: Path, cfg: "ReplayConfig") -> list[str]:
    """check-config's word on a replay's CSV files whose header is past the line bound (`long_header`): `run` reads
    none of their rows — a problem when that is every file, else a Note (run skips them, each said by file and line,
    and reads the others)."""
    found = [(f, n) for f in files if not cfg.reads_as_jsonl(f) and (n := long_header(f, cfg.separator)) is not None]
    if not found:
        return []
    path, n = found[0]
    name = path.name if path == root else path.relative_to(root).as_posix()
    more = f" (and {len(found) - 1} more of its {len(files)} files)" if len(found) > 1 else ""
    said = f"{name}{more}: {long_header_said(n)}"
    return [said if len(found) == len(files) else Note(said)]


def warmup_source(path: Path, like: ReplayConfig | None, sensors: list[str], rejects: Rejects,
                  base_dir: str = ".", tick_s: float = 1.0) -> ReplaySource:
    """`warmup.replay`'s recording as `run` reads it: a replay of `path` with the format keys of `like`
    (the config's first replay source: separator, time column and format, columns), else the
    replay defaults; as fast as it reads, labels not used."""
    import dataclasses
    cfg = dataclasses.replace(like or ReplayConfig(), path=str(path), speed=0.0, labels_file=None,
                              label_columns=[])
    return ReplaySource(cfg, sensors, rejects, base_dir=base_dir, tick_s=tick_s)


PLUGIN = Plugin(config=ReplayConfig, create=ReplaySource)
