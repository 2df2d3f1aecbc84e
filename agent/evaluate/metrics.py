"""Accuracy metrics as pure numpy functions: point-wise, ranking and event level.

Point-wise metrics count every labelled row on its own. They do NOT apply the
"point-adjust" convention (one hit inside an anomaly segment marks the whole segment
detected), which inflates F1 towards 1 for detectors that fire once per long anomaly.
`point_adjusted_f1` exists only to show that inflation next to the honest number.

Event-level metrics work on time spans: an event is a contiguous run of labelled rows (or
every row sharing one event id), an alert span is [start, end] in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SECONDS_PER_DAY = 86400.0


# ---- point-wise ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int

    def __add__(self, other: "Confusion") -> "Confusion":
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.tn + other.tn, self.fn + other.fn)

    def as_dict(self) -> dict[str, int]:
        return {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn}


def confusion(labels: np.ndarray, predicted: np.ndarray) -> Confusion:
    """Row counts of true/false positives/negatives; both arrays are 0/1 or bool, same length."""
    y = np.asarray(labels).astype(bool)
    p = np.asarray(predicted).astype(bool)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and predictions {p.shape} differ in shape")
    return Confusion(tp=int(np.sum(y & p)), fp=int(np.sum(~y & p)),
                     tn=int(np.sum(~y & ~p)), fn=int(np.sum(y & ~p)))


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


def precision_recall_f1(counts: Confusion) -> dict[str, float]:
    """Point-wise precision, recall and F1 (0 where undefined, e.g. no predictions)."""
    precision = _ratio(counts.tp, counts.tp + counts.fp)
    recall = _ratio(counts.tp, counts.tp + counts.fn)
    f1 = _ratio(2 * counts.tp, 2 * counts.tp + counts.fp + counts.fn)
    return {"precision": precision, "recall": recall, "f1": f1}


def pointwise_scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return precision_recall_f1(confusion(labels, predicted))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """AUC-PR as average precision: Σ_k (R_k − R_{k−1})·P_k over distinct score thresholds.

    Ties share one threshold (no interpolation). None when there is no positive label, or no
    negative one (every ranking of all-positive rows scores 1.0: it would say nothing).
    Non-finite scores rank lowest.
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, float)
    s = np.where(np.isfinite(s), s, -np.inf)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        return None
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp_cum = np.cumsum(y_sorted)
    # The last index of each group of equal scores is where that threshold's counts are final.
    last_of_group = np.r_[np.nonzero(s_sorted[1:] != s_sorted[:-1])[0], s_sorted.size - 1]
    tp = tp_cum[last_of_group]
    predicted = last_of_group + 1
    precision = tp / predicted
    recall = tp / n_pos
    recall_step = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_step * precision))


def point_adjusted_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """FOR COMPARISON ONLY — the point-adjust protocol, which overstates accuracy.

    Any prediction inside a labelled segment marks every row of that segment predicted,
    then point-wise F1 is taken. A detector firing once in a 1000-row anomaly scores as if
    it had flagged all 1000 rows. Never report this as the detector's F1.
    """
    y = np.asarray(labels).astype(bool)
    adjusted = np.asarray(predicted).astype(bool).copy()
    for start, stop in runs(y):
        if adjusted[start:stop].any():
            adjusted[start:stop] = True
    return precision_recall_f1(confusion(y, adjusted))["f1"]


# ---- spans and events ---------------------------------------------------------------------------

def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of True as [start, stop) index pairs."""
    m = np.asarray(mask).astype(np.int8)
    if m.size == 0:
        return []
    edges = np.diff(np.r_[0, m, 0])
    starts = np.nonzero(edges == 1)[0]
    stops = np.nonzero(edges == -1)[0]
    return list(zip(starts.tolist(), stops.tolist()))


def event_spans(ts: np.ndarray, labels: np.ndarray,
                event_ids: list[str | None] | None = None) -> list[tuple[float, float]]:
    """Labelled events as (start_ts, end_ts), in time order.

    With event ids, every row carrying one id belongs to that event (span = its first to
    last row); without, each contiguous run of label 1 is an event.
    """
    ts = np.asarray(ts, float)
    if event_ids is not None and any(e is not None for e in event_ids):
        first: dict[str, float] = {}
        last: dict[str, float] = {}
        for t, e in zip(ts.tolist(), event_ids):
            if e is None:
                continue
            first.setdefault(e, t)
            last[e] = t
        return sorted((first[e], last[e]) for e in first)
    return [(float(ts[a]), float(ts[b - 1])) for a, b in runs(np.asarray(labels).astype(bool))]


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def event_scores(events: list[tuple[float, float]], alerts: list[tuple[float, float]],
                 n_sensors: int, scored_seconds: float, tolerance_s: float = 0.0) -> dict:
    """Event-level detection, false alarms and time to detect.

    - an event is detected when some alert span overlaps [event start, event end + tolerance];
    - time to detect = start of the first such alert − event start, floored at 0 (an alert
      already running when the event begins detects it at once);
    - a false-alarm event is an alert span that overlaps no (tolerance-extended) event;
      the rate divides their count by n_sensors × scored days.
    """
    extended = [(s, e + tolerance_s) for s, e in events]
    delays: list[float] = []
    for span in extended:
        hits = [a for a in alerts if _overlaps(a, span)]
        if hits:
            delays.append(max(0.0, min(a[0] for a in hits) - span[0]))
    false_alarms = sum(1 for a in alerts if not any(_overlaps(a, span) for span in extended))
    sensor_days = n_sensors * scored_seconds / SECONDS_PER_DAY
    return {
        "events_total": len(events),
        "events_detected": len(delays),
        "event_recall": _ratio(len(delays), len(events)) if events else None,
        "alert_spans": len(alerts),
        "false_alarm_events": false_alarms,
        "false_alarms_per_sensor_day": _ratio(false_alarms, sensor_days) if sensor_days > 0 else None,
        "ttd_mean_s": float(np.mean(delays)) if delays else None,
        "ttd_median_s": float(np.median(delays)) if delays else None,
        "tolerance_s": float(tolerance_s),
    }
