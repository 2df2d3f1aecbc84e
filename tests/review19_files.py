"""Files the review19 tests run a real agent on: a two-sensor recording on a slow wave, and an agent
config replaying it with the numpy tier and no sinks."""
from __future__ import annotations

import math
from pathlib import Path

T0 = 1767225600


def wave_replay(tmp_path: Path, rows: int) -> Path:
    """tmp_path/day.csv (`rows` rows, one a second from T0) and tmp_path/agent.yaml replaying it; the config."""
    lines = ["timestamp,a,b"] + [f"{T0 + i},{10 + 2 * math.sin(i / 7):.4f},{10 + 2 * math.cos(i / 9):.4f}"
                                 for i in range(rows)]
    (tmp_path / "day.csv").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("tick_s: 1\nsensors: [a, b]\nsources: [{type: replay, path: day.csv}]\nwindow: {steps: 16}\n"
                   "warmup: {ticks: 100}\nscoring: {chain: [numpy]}\nsinks: []\nstate_dir: state\n")
    return cfg
