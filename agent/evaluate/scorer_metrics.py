"""One scorer's metrics over every file it ran on: point-wise (and SKAB's FAR/MAR), event-level,
AUC-PR, NAB's score on the files' own rows, incidents and sensor faults apart, and the tiers that
scored — the dict behind one row of the report's table (report.py).

Only scored ticks count (training ticks and the aligner's gap ticks never do); the metric
functions themselves are in metrics.py, nab.py, skab.py and faults.py.
"""
from __future__ import annotations

import numpy as np

from . import faults as fault_scoring, nab, skab
from .metrics import average_precision, confusion, event_scores, point_adjusted_f1, precision_recall_f1
from .traces import FileRows, Trace


def scorer_metrics(files: list[FileRows], traces: list[Trace], n_sensors: int, tick_s: float, protocol: str,
                   tolerance_s: float) -> dict:
    """One scorer's metrics; traces[i] is its run on files[i] (a scorer that failed part-way has fewer)."""
    pairs = list(zip(files, traces))
    labels = np.concatenate([f.labels[f.scored] for f, _ in pairs])
    alert = np.concatenate([t.alert_active[f.scored] for f, t in pairs])
    exceed = np.concatenate([(np.nan_to_num(t.score, nan=-np.inf) > t.threshold)[f.scored] for f, t in pairs])
    scores = np.concatenate([t.score[f.scored] for f, t in pairs])
    counts = confusion(labels, alert)
    backdated = confusion(labels, np.concatenate([t.backdated_active[f.scored] for f, t in pairs]))
    events, alerts, seconds = [], [], 0.0
    for f, t in pairs:
        if not f.scored.any():
            continue
        lo, hi = float(f.ts[f.scored][0]), float(f.ts[f.scored][-1])
        events += f.scored_events
        alerts += [(max(a, lo), b) for a, b in t.alert_spans if b >= lo]
        seconds += hi - lo + tick_s
    out = {
        "pointwise": {**precision_recall_f1(counts), **counts.as_dict()},
        "pointwise_exceedance": precision_recall_f1(confusion(labels, exceed)),
        "auc_pr": average_precision(labels, scores),
        "skab": skab.far_mar_f1(counts),
        "events": event_scores(events, alerts, n_sensors, seconds, tolerance_s),
        "point_adjusted_f1_for_comparison_only": point_adjusted_f1(labels, alert),
        "backdated_for_comparison_only": {**precision_recall_f1(backdated),
                                          **{k: v for k, v in skab.far_mar_f1(backdated).items() if k != "f1"}},
        "scored_rows": int(labels.size),
        "anomalous_rows": int(labels.sum()),
        "nab": nab_metrics(pairs) if protocol == "nab" else None,
        "tiers": _sum_tiers(traces),
        "incidents_and_faults": incidents_and_faults(pairs, tick_s, tolerance_s),
    }
    return out


def incidents_and_faults(pairs: list[tuple[FileRows, Trace]], tick_s: float, tolerance_s: float) -> dict | None:
    """Incident alerts and sensor faults scored apart (agent/evaluate/faults.py). Events are taken
    over the scored ticks, as the table's: one already open when scoring starts counts from there
    (left out, an alert inside it was called a false alarm)."""
    runs = []
    for f, t in pairs:
        if not f.scored.any():
            continue
        events = fault_scoring.labelled_events(f.ts[f.scored], [e for e, m in zip(f.events, f.scored) if m])
        runs.append(fault_scoring.score_run(events, t.alerts, t.faults, tick_s, tolerance_s,
                                            scored_from=float(f.ts[f.scored][0])))
    return fault_scoring.summarise(runs) if runs else None


def nab_inputs(f: FileRows, t: Trace) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Per row of the file: detected (the row the raising tick closed on), the score (its tick's),
    and the windows as row spans — NAB's scorer's inputs."""
    m = f.source.ts.size
    detected = np.zeros(m, bool)
    ticks = np.searchsorted(f.ts, np.asarray(t.onsets, float))
    at = f.tick_row[ticks[ticks < f.ts.size]]
    detected[at[at < m]] = True
    return detected, t.score[f.row_tick], f.nab_windows


def nab_metrics(pairs: list[tuple[FileRows, Trace]]) -> dict:
    """NAB on the files' rows: detections are alerts where they were raised (NAB's fixed-threshold
    score), beside NAB's own protocol of one threshold for the corpus, chosen in hindsight."""
    inputs = [nab_inputs(f, t) for f, t in pairs]
    fixed = nab.corpus_scores([(det, spans) for det, _, spans in inputs])
    out = {}
    for name, profile in nab.PROFILES.items():
        swept = nab.swept_best_score([(score, spans) for _, score, spans in inputs], profile)
        out[name] = {**fixed[name], "swept_threshold_score": swept["score"], "swept_threshold": swept["threshold"]}
    return out


def _sum_tiers(traces: list[Trace]) -> dict[str, int]:
    total: dict[str, int] = {}
    for t in traces:
        for k, v in t.tiers.items():
            total[k] = total.get(k, 0) + v
    return total


__all__ = ["incidents_and_faults", "nab_inputs", "nab_metrics", "scorer_metrics"]
