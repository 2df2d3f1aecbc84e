"""A word in a sensor's cell (`Shutdown`, `I/O Timeout`, `Bad`) ends the carry of its last reading, in training
(user38).

A plant historian writes a tag's status where it has no value: `Shutdown` when the plant stops, `I/O Timeout` or
`Bad` when the instrument's link fails, and then nothing until a value comes back. The replay rejects such a cell
(`bad number`, counted) and the aligner holds the reading before it for `window.carry_forward_s` — which for an
export written by exception has to be long (convert/sparse_readings.py): user38's stopped weekend was trained as the
last running values, frozen, for up to 15 h. Here the training read notes where each such word stood, and the
sensor is missing from that tick until its next reading. The gateway's own replay (a warm-up on the recordings) still
carries; said in docs/converter.md.
"""
from __future__ import annotations

import numpy as np

from agent.records import Record
from agent.sources.lines import parse_stamp


def noting_status_cells(source_class, statuses: list[tuple[float, str]]):
    """A replay source class whose CSV rows also append (time, sensor) to `statuses` for each cell of a sensor's
    column that is no number (a word: the historian's status)."""
    class StatusNoted(source_class):
        def _csv_row(self, row, where, time_i, value_cols, label_cols):
            rec = super()._csv_row(row, where, time_i, value_cols, label_cols)
            # a cell written but not read is a word (parse_number's no): what the row's record lacks
            words = [sensor for i, _, sensor in value_cols
                     if row[i].strip() and (rec is None or sensor not in rec.values)]
            if words:
                try:
                    ts = rec.ts if rec is not None else parse_stamp(row[time_i].strip(), self.cfg.time_format)[0]
                except ValueError:
                    return rec
                statuses.extend((ts, s) for s in words)
            return rec
    return StatusNoted


def end_carries(ts: np.ndarray, missing: np.ndarray, raw: np.ndarray, sensors: list[str], records: list[Record],
                statuses: list[tuple[float, str]], tick_s: float) -> int:
    """Mark each sensor missing (in `missing`, NaN in `raw`, in place) from the tick of a status word in its cell up to
    the tick of its next reading in `records`; the ticks so marked."""
    marked = 0
    if not statuses or ts.size == 0:
        return 0
    index = {s: i for i, s in enumerate(sensors)}
    rising = bool(np.all(np.diff(ts) > 0))
    readings = {s: np.sort(np.array([r.ts for r in records if s in r.values])) for s in {s for _, s in statuses}}
    for at, sensor in statuses:
        i = index.get(sensor)
        if i is None:
            continue
        after = readings[sensor]
        nxt = after[np.searchsorted(after, at, side="right")] if after.size and after[-1] > at else np.inf
        first, until = np.floor(at / tick_s) * tick_s, np.floor(nxt / tick_s) * tick_s if np.isfinite(nxt) else np.inf
        if rising:
            rows = slice(int(np.searchsorted(ts, first)), int(np.searchsorted(ts, until)))
        else:                       # a clock that steps back (a DST change): the ticks by their times
            rows = np.flatnonzero((ts >= first) & (ts < until))
        marked += int((~missing[rows, i]).sum())
        missing[rows, i] = True
        raw[rows, i] = np.nan
    return marked
