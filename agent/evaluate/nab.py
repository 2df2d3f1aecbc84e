"""The NAB score (Numenta Anomaly Benchmark v1.x), implemented from its published definition.

Per file of n rows (numenta/NAB `nab/sweeper.py`, `nab/runner.py`):

- the first min(⌊0.15·n⌋, 0.15·5000) rows are the probationary period: not scored;
- each labelled window [left, right] (row indices, inclusive) of width w = right − left + 1
  gives a row i inside it the weight tpWeight · σ(−(right − i + 1)/w) / σ(−1), where
  σ(y) = 2/(1 + e^(5y)) − 1 is NAB's scaledSigmoid (1 at the window start, 0 at its end);
  only the best (= first) detection of a window counts, an undetected window costs −fnWeight;
- a detection outside every window is a false positive weighted fpWeight · σ(|i − right_prev| /
  (w_prev − 1)) after a window, and −fpWeight when no window precedes it; σ(y > 3) = −1;
- corpus score S = Σ files; normalised 100 · (S − S_null) / (S_perfect − S_null) with
  S_perfect = tpWeight · windows and S_null = −fnWeight · windows (the null detector).

A "detection" is a row whose binary prediction is 1 (NAB: anomaly_score ≥ threshold).
`swept_best_score` reproduces NAB's own protocol of picking the one threshold that
maximises the corpus score — an optimistic, in-hindsight choice reported separately.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class CostProfile:
    tp: float
    fp: float
    fn: float


PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostProfile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostProfile(tp=1.0, fp=0.11, fn=2.0),
}


def scaled_sigmoid(relative_position: float) -> float:
    """NAB's scaledSigmoid: 2/(1 + e^(5y)) − 1, and −1 for y > 3 (far past a window)."""
    if relative_position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * relative_position)) - 1.0


def probationary_rows(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """Rows at the start of a file that NAB does not score."""
    return int(math.ceil(min(math.floor(percent * n_rows), percent * 5000)))


def window_index_spans(ts: np.ndarray, windows: Iterable[tuple[float, float]]) -> list[tuple[int, int]]:
    """(left, right) inclusive row indices of each window [start_ts, end_ts]; empty windows dropped."""
    ts = np.asarray(ts, float)
    spans = []
    for start, end in windows:
        left = int(np.searchsorted(ts, start, side="left"))
        right = int(np.searchsorted(ts, end, side="right")) - 1
        if left <= right:
            spans.append((left, right))
    return sorted(spans)


def row_weights(n_rows: int, spans: list[tuple[int, int]], profile: CostProfile) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the weight a detection there would add, and its window index (−1 outside)."""
    weights = np.empty(n_rows)
    window_of = np.full(n_rows, -1, dtype=np.int64)
    max_tp = scaled_sigmoid(-1.0)
    prev: tuple[int, int] | None = None
    cursor = 0
    for k, (left, right) in enumerate(list(spans) + [(n_rows, n_rows)]):
        for i in range(cursor, min(left, n_rows)):     # rows between windows: false positives
            if prev is None:
                weights[i] = -profile.fp
            else:
                prev_width = prev[1] - prev[0] + 1
                distance = abs(i - prev[1]) / (prev_width - 1) if prev_width > 1 else math.inf
                weights[i] = scaled_sigmoid(distance) * profile.fp
        if left >= n_rows:
            break
        width = right - left + 1
        for i in range(left, right + 1):               # rows inside the window: true positives
            weights[i] = scaled_sigmoid(-(right - i + 1) / width) * profile.tp / max_tp
            window_of[i] = k
        prev, cursor = (left, right), right + 1
    return weights, window_of


@dataclass(frozen=True)
class FileScore:
    raw: float                 # Σ window contributions + Σ false-positive weights
    windows: int               # windows in the file
    windows_scored: int        # windows with at least one row after probation
    windows_detected: int
    false_positives: int       # detections outside every window (after probation)


def file_score(detected: np.ndarray, spans: list[tuple[int, int]], profile: CostProfile,
               probation: int | None = None) -> FileScore:
    """Raw NAB score of one file from per-row binary detections."""
    detected = np.asarray(detected).astype(bool)
    n = detected.size
    probation = probationary_rows(n) if probation is None else probation
    weights, window_of = row_weights(n, spans, profile)
    scored = np.arange(n) >= probation
    raw, n_scored, n_detected = 0.0, 0, 0
    for k in range(len(spans)):
        in_window = scored & (window_of == k)
        if not in_window.any():
            continue
        n_scored += 1
        hits = in_window & detected
        if hits.any():
            n_detected += 1
            raw += float(weights[hits].max())
        else:
            raw -= profile.fn
    fp_rows = scored & detected & (window_of < 0)
    raw += float(weights[fp_rows].sum())
    return FileScore(raw=raw, windows=len(spans), windows_scored=n_scored,
                     windows_detected=n_detected, false_positives=int(fp_rows.sum()))


def normalised_score(raw_total: float, windows: int, profile: CostProfile,
                     windows_scored: int | None = None) -> float | None:
    """100 · (S − S_null) / (S_perfect − S_null); None when there is no window."""
    perfect = windows * profile.tp
    null = -profile.fn * (windows if windows_scored is None else windows_scored)
    if perfect == null:
        return None
    return 100.0 * (raw_total - null) / (perfect - null)


def corpus_scores(files: Iterable[tuple[np.ndarray, list[tuple[int, int]]]]) -> dict[str, dict]:
    """Normalised NAB score per profile at fixed detections; files = (detected, window spans)."""
    files = list(files)
    out = {}
    for name, profile in PROFILES.items():
        parts = [file_score(det, spans, profile) for det, spans in files]
        raw = sum(p.raw for p in parts)
        windows = sum(p.windows for p in parts)
        scored = sum(p.windows_scored for p in parts)
        out[name] = {
            "score": normalised_score(raw, windows, profile, scored), "raw": raw, "windows": windows,
            "windows_scored": scored,
            "windows_detected": sum(p.windows_detected for p in parts),
            "false_positives": sum(p.false_positives for p in parts),
        }
    return out


def swept_best_score(files: Iterable[tuple[np.ndarray, list[tuple[int, int]]]],
                     profile: CostProfile) -> dict:
    """NAB's threshold optimisation: the best normalised score over every threshold on the raw
    anomaly scores, one threshold for the whole corpus (chosen with the labels in hand).

    files = (scores per row, window spans). Returns {"score", "threshold"}.
    """
    ranked_scores, ranked_weights, ranked_windows = [], [], []
    windows_total, windows_scored, offset = 0, 0, 0
    for scores, spans in files:
        scores = np.asarray(scores, float)
        n = scores.size
        weights, window_of = row_weights(n, spans, profile)
        keep = np.arange(n) >= probationary_rows(n)
        ranked_scores.append(np.where(np.isfinite(scores[keep]), scores[keep], -np.inf))
        ranked_weights.append(weights[keep])
        ranked_windows.append(np.where(window_of[keep] >= 0, window_of[keep] + offset, -1))
        windows_total += len(spans)
        windows_scored += len(set(window_of[keep][window_of[keep] >= 0].tolist()))
        offset += len(spans)
    s = np.concatenate(ranked_scores) if ranked_scores else np.zeros(0)
    w = np.concatenate(ranked_weights) if ranked_weights else np.zeros(0)
    win = np.concatenate(ranked_windows) if ranked_windows else np.zeros(0, np.int64)
    order = np.argsort(-s, kind="stable")
    s, w, win = s[order], w[order], win[order]

    # Walking down the thresholds, a window's contribution rises from −fn to its best weight so far.
    best_in_window: dict[int, float] = {}
    total = -profile.fn * windows_scored
    running = np.empty(s.size)
    for i in range(s.size):
        k = int(win[i])
        if k < 0:
            total += w[i]
        else:
            before = best_in_window.get(k, -profile.fn)
            if w[i] > before:
                total += w[i] - before
                best_in_window[k] = w[i]
        running[i] = total
    candidates_raw = [-profile.fn * windows_scored]
    candidates_threshold = [math.inf]
    if s.size:
        last_of_group = np.r_[np.nonzero(s[1:] != s[:-1])[0], s.size - 1]
        finite = np.isfinite(s[last_of_group])
        candidates_raw += running[last_of_group][finite].tolist()
        candidates_threshold += s[last_of_group][finite].tolist()
    best = int(np.argmax(candidates_raw))
    return {"score": normalised_score(candidates_raw[best], windows_total, profile, windows_scored),
            "threshold": candidates_threshold[best]}
