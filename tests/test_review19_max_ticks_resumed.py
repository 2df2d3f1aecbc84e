"""`stad-agent run --max-ticks N` ("stop after this many ticks") on a state directory a first run left:
the checkpoint's tick count (the summary's, which spans lives: README "Running the demo again") was
taken for this run's, so a second `--max-ticks 50` stopped at its first tick — and, --max-ticks being
an end of the data, ended the open alert (`shutdown`) — instead of running 50 ticks (review19). A
real agent on a real file, run twice on one state directory."""
from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
T0 = 1767225600


def test_max_ticks_counts_the_ticks_of_this_run(tmp_path):
    lines = ["timestamp,a,b"] + [f"{T0 + i},{10 + 2 * math.sin(i / 7):.4f},{10 + 2 * math.cos(i / 9):.4f}"
                                 for i in range(1000)]
    (tmp_path / "day.csv").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("tick_s: 1\nsensors: [a, b]\nsources: [{type: replay, path: day.csv}]\nwindow: {steps: 16}\n"
                   "warmup: {ticks: 100}\nscoring: {chain: [numpy]}\nsinks: []\nstate_dir: state\n")
    ticks = []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg), "--max-ticks", "300"], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0 and "stopped: reached --max-ticks 300" in res.stderr, res.stderr[-3000:]
        ticks.append(int(re.search(r"^summary: (\d+) ticks", res.stderr, re.M).group(1)))
    assert "loaded" in res.stderr, res.stderr[-3000:]      # the second run resumed from the first's checkpoint
    assert ticks == [300, 600], ticks                      # the summary's count spans both runs: 300 each
