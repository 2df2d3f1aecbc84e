"""A recording with stretches without data, written as one CSV: the training tests' gaps (test_qa37_train_inputs,
test_qa38_training_gaps)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_runs(path: Path, starts: list[float], rows: int) -> None:
    """One CSV of sensors a, b: runs of `rows` one-second rows beginning at each of `starts`."""
    rng = np.random.default_rng(7)
    lines = ["timestamp,a,b"]
    for start in starts:
        a = np.sin(np.arange(rows) / 9.0) + 0.1 * rng.standard_normal(rows)
        lines += [f"{start + i:.0f},{a[i]:.4f},{0.5 * a[i]:.4f}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
