"""The evaluator's data: one recording after replay (`FileRows`: its aligned ticks, their labels
and which of them train or are scored; `SourceRows`: its rows before alignment, on which NAB
counts) and one scorer's run over it (`Trace`: per-tick score, threshold, alert spans).

Apart from the code that makes them (labelled.py, score_file.py) and the code that measures them
(scorer_metrics.py, feedback_replay.py, plots.py) because every one of those reads them: the
per-tick arrays and ground truth are computed once per file here, not once per scorer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..window import Row
from . import nab
from .metrics import event_spans


@dataclass
class SourceRows:
    """The rows of a recording as the source read them (before alignment): NAB counts on these."""
    ts: np.ndarray                # (m,) seconds, file order
    labels: np.ndarray            # (m,) 0/1, −1 where the row carries no label
    events: list[str | None]

    @classmethod
    def tap(cls, records) -> tuple["SourceRows", object]:
        """(rows, an iterator over `records` that fills rows as it goes)."""
        out = cls(ts=np.zeros(0), labels=np.zeros(0, int), events=[])
        ts, labels = [], []

        def passing():
            for rec in records:
                ts.append(rec.ts)
                labels.append(-1 if rec.label is None else int(rec.label))
                out.events.append(rec.event)
                yield rec
            out.ts, out.labels = np.array(ts, float), np.array(labels, int)
        return out, passing()

    def windows(self) -> list[tuple[float, float]]:
        """Labelled windows (first, last row timestamp of each event), in time order."""
        return event_spans(self.ts, np.maximum(self.labels, 0), self.events)


@dataclass
class FileRows:
    """One recording's aligned ticks, with the per-tick arrays and ground truth that every scorer
    shares (computed once per file, not once per scorer)."""
    name: str
    rows: list[Row]
    train_ticks: int              # the first train_ticks ticks are training / calibration
    source: SourceRows | None = None   # the file's rows before alignment (replayed files)
    tick_s: float = 1.0

    @cached_property
    def ts(self) -> np.ndarray:
        return np.array([r.ts for r in self.rows])

    @cached_property
    def values(self) -> np.ndarray:
        """(n, N) raw, NaN where missing."""
        return np.stack([r.values for r in self.rows])

    @cached_property
    def labels(self) -> np.ndarray:
        """0/1, −1 where the tick has no source row."""
        return np.array([-1 if r.label is None else int(r.label) for r in self.rows])

    @cached_property
    def events(self) -> list[str | None]:
        return [r.event for r in self.rows]

    @property
    def observed(self) -> np.ndarray:
        """Ticks that carry a source row (gap ticks filled by the aligner do not)."""
        return self.labels >= 0

    @cached_property
    def train(self) -> np.ndarray:
        return np.arange(len(self.rows)) < self.train_ticks

    @cached_property
    def scored(self) -> np.ndarray:
        return ~self.train & self.observed

    def _event_spans(self, mask: np.ndarray) -> list[tuple[float, float]]:
        return event_spans(self.ts[mask], self.labels[mask], [e for e, m in zip(self.events, mask) if m])

    @cached_property
    def scored_events(self) -> list[tuple[float, float]]:
        """Labelled events over the scored ticks, as (start_ts, end_ts)."""
        return self._event_spans(self.scored)

    @cached_property
    def row_tick(self) -> np.ndarray:
        """Per source row, the index of the tick it fell into (its tick's score is its score)."""
        snap = 1e-4 * self.tick_s          # the aligner snaps stamps a hair below a tick boundary up
        return np.clip(np.searchsorted(self.ts, self.source.ts + snap, side="right") - 1, 0, len(self.rows) - 1)

    @cached_property
    def tick_row(self) -> np.ndarray:
        """Per tick, the source row a detection on that tick lands on: the last row in the tick
        (the tick closed with it), or for a tick with no row the next row that has one."""
        m, n = self.source.ts.size, len(self.rows)
        last = np.full(n, -1, dtype=np.int64)
        last[self.row_tick] = np.arange(m)                          # repeated ticks: the last row wins
        first = np.full(n + 1, m, dtype=np.int64)
        first[self.row_tick[::-1]] = np.arange(m)[::-1]             # repeated ticks: the first row wins
        next_first = np.minimum.accumulate(first[::-1])[::-1][:-1]  # m: no row at or after the tick
        return np.where(last >= 0, last, next_first)

    @cached_property
    def nab_windows(self) -> list[tuple[int, int]]:
        """Labelled windows as (left, right) row indices of the file, as NAB's scorer takes them."""
        return nab.window_index_spans(self.source.ts, self.source.windows())


@dataclass
class Trace:
    """One scorer on one file: per-tick arrays over every tick of the file."""
    file: str
    scorer: str
    ts: np.ndarray
    values: np.ndarray            # (n, N) raw, NaN where missing
    labels: np.ndarray            # 0/1, −1 where the tick has no source row
    events: list[str | None]
    train: np.ndarray             # bool: training / calibration tick
    score: np.ndarray             # NaN where not scored
    threshold: np.ndarray
    alert_spans: list[tuple[float, float]]       # [tick raised, last tick above threshold]
    onsets: list[float]           # tick ts of every `new` alert event (the tick it was raised on)
    backdated_spans: list[tuple[float, float]] = field(default_factory=list)   # from the alert's `start`
    tiers: dict[str, int] = field(default_factory=dict)
    attention: list[dict] = field(default_factory=list)   # at each alert's peak, when the scorer has it
    alerts: list[dict] = field(default_factory=list)      # {start, onset, end, top_sensors} per alert
    faults: list[dict] = field(default_factory=list)      # fault / fault_end payloads (pipeline scorers)
    feedback_verdicts: dict[str, int] | None = None       # replayed operator feedback (--feedback-delay)

    @classmethod
    def of(cls, f: FileRows, scorer: str, **results) -> Trace:
        """A scorer's results on `f`, sharing the file's arrays."""
        return cls(file=f.name, scorer=scorer, ts=f.ts, values=f.values, labels=f.labels, events=f.events,
                   train=f.train, **results)

    def _active(self, spans) -> np.ndarray:
        active = np.zeros(self.ts.size, bool)
        for start, end in spans:
            active |= (self.ts >= start) & (self.ts <= end)
        return active

    @property
    def alert_active(self) -> np.ndarray:
        """Ticks on which an alert exists: from the tick it was raised to its last tick above threshold."""
        return self._active(self.alert_spans)

    @property
    def backdated_active(self) -> np.ndarray:
        """For comparison only: alerts back-dated to their first tick above threshold."""
        return self._active(self.backdated_spans)


__all__ = ["FileRows", "SourceRows", "Trace"]
