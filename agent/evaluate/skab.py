"""SKAB's outlier-detection metrics and its train/test protocol.

As on the SKAB leaderboard (waico/SKAB `core/metrics.py`, `chp_score(metric="binary")`):
counts are summed point-wise over the test rows of all files, then

    F1  = TP / (TP + (FN + FP) / 2)
    FAR = FP / (FP + TN) · 100        (false alarm rate, %)
    MAR = FN / (FN + TP) · 100        (missing alarm rate, %)

Upstream rounds to 2 decimals; these functions return unrounded values.
Protocol (upstream `core/utils.py`): the first 400 rows of every labelled file are
training data, the rest of the file is scored.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .metrics import Confusion, confusion

SKAB_TRAIN_ROWS = 400
SKAB_SEPARATOR = ";"
SKAB_LABEL_COLUMN = "anomaly"


def far_mar_f1(counts: Confusion) -> dict[str, float]:
    """SKAB's binary scores from pooled counts (0 where a denominator is 0)."""
    tp, fp, tn, fn = counts.tp, counts.fp, counts.tn, counts.fn
    return {
        "f1": tp / (tp + (fn + fp) / 2) if tp + fn + fp else 0.0,
        "far_pct": 100.0 * fp / (fp + tn) if fp + tn else 0.0,
        "mar_pct": 100.0 * fn / (fn + tp) if fn + tp else 0.0,
    }


def skab_binary_scores(per_file: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """F1 / FAR % / MAR % pooled over files, each given as (labels, predicted) test rows."""
    total = Confusion(0, 0, 0, 0)
    for labels, predicted in per_file:
        total = total + confusion(labels, predicted)
    return far_mar_f1(total)


def test_part_mask(n_rows: int, train_rows: int = SKAB_TRAIN_ROWS) -> np.ndarray:
    """True for rows SKAB scores: everything after the first `train_rows` rows of a file."""
    mask = np.ones(n_rows, bool)
    mask[:min(train_rows, n_rows)] = False
    return mask
