"""A replay's labels besides its rows' own: NAB's labels file (combined_windows.json, `labels_file`) read and
checked, and the names of the events the labelled rows make.

Apart from the replay's reading because check-config (ReplayConfig.preflight) and evaluate refuse a labels file by
the same reading (LabelsError), and a labels file is JSON, not a recording's lines.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..json_read import NESTED_TOO_DEEP
from .lines import DuplicateKey, loads_object, parse_time


class EventRuns:
    """Names each contiguous run of label-1 rows '<name>#<n>', n counting from 1."""

    def __init__(self, name: str):
        self.name = name
        self.count = 0
        self.in_run = False

    def event_for(self, label: int | None) -> str | None:
        if label != 1:
            self.in_run = False
            return None
        if not self.in_run:
            self.in_run = True
            self.count += 1
        return f"{self.name}#{self.count}"


class LabelsError(ValueError):
    """A labels file that cannot be right; the message names the file and the entry."""


def load_nab_windows(path: Path) -> dict[str, list[tuple[float, float]]]:
    """combined_windows.json as {'<category>/<file>.csv': [(start, end), ...]} in epoch seconds,
    each file's windows in time order. NAB's windows never overlap: overlapping ones (scored as two
    events over the same rows) and a window that ends before it starts are refused, named; so is a file's key
    given twice (json keeps the last list: the first's events were never scored) and JSON nested too deep to
    parse (its RecursionError was a traceback from check-config and evaluate; qa37)."""
    try:
        raw = loads_object(Path(path).read_text(encoding="utf-8"))
    except DuplicateKey as exc:
        raise LabelsError(f"{path}: {exc}: the windows of one file given twice (merge them into one list)") from None
    except RecursionError:
        raise LabelsError(f"{path}: not JSON: {NESTED_TOO_DEEP}") from None
    except ValueError as exc:                       # JSONDecodeError, UnicodeDecodeError
        raise LabelsError(f"{path}: not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise LabelsError(f'{path}: expected an object {{"<category>/<file>.csv": [[start, end], ...]}}, '
                          f"got {type(raw).__name__}")
    out = {}
    for key, spans in raw.items():
        if not isinstance(spans, list):
            raise LabelsError(f"{path}: {key}: expected a list of [start, end] windows, got {type(spans).__name__}")
        windows = []
        for i, span in enumerate(spans):
            where = f"{path}: {key}[{i}]"
            if not (isinstance(span, list) and len(span) == 2):
                raise LabelsError(f"{where}: expected [start, end], got {json.dumps(span)[:80]}")
            try:
                a, b = parse_time(span[0]), parse_time(span[1])
            except ValueError as exc:
                raise LabelsError(f"{where}: {exc}") from None
            if b < a:
                raise LabelsError(f"{where}: ends ({span[1]}) before it starts ({span[0]})")
            windows.append((a, b, i))
        windows.sort()
        for (_, end, i), (start, _, j) in zip(windows, windows[1:]):
            if start <= end:
                raise LabelsError(f"{path}: {key}[{j}] overlaps {key}[{i}] ({spans[j][0]} ≤ {spans[i][1]}): "
                                  "merge them into one window")
        out[key] = [(a, b) for a, b, _ in windows]
    return out
