"""Two sensors (a, b) at 1 s ticks in CSV files read by the replay source, and a config around them (test_warmup's,
shared with user15's resume tests)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

DAY = 86400.0
T0 = 1.7e9


def write_csv(path: Path, start: float, rows: int, seed: int, spike_at: int | None = None, step: float = 1.0) -> None:
    rng = np.random.default_rng(seed)
    a = 10.0 + 0.2 * rng.standard_normal(rows)
    b = 5.0 + 0.2 * rng.standard_normal(rows)
    if spike_at is not None:
        a[spike_at:spike_at + 20] += 50.0
    lines = ["timestamp,a,b"] + [f"{start + i * step:.0f},{a[i]:.4f},{b[i]:.4f}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def base(tmp_path: Path, live: Path, **warmup) -> dict:
    return {"sensors": ["a", "b"], "tick_s": 1.0, "topology": "none",
            "sources": [{"type": "replay", "path": str(live)}],
            "window": {"steps": 16, "carry_forward_s": 2}, "warmup": {"ticks": 200, **warmup},
            "alerts": {"min_duration_ticks": 2, "cooldown_ticks": 0}, "sinks": [], "state_dir": str(tmp_path / "state")}
