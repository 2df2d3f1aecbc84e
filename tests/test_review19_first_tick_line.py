"""The demo run a second time (README "Running the demo again"): the checkpoint is loaded, the data
starts over before its last tick, the time base moves back, and the window refills. The first tick's
line said `warm from the recording` — there is no recording (no `warmup.replay`): the learned state is
the checkpoint's. Now it says the time base started again (review19). A real agent on a real file,
run twice on one state directory."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
T0 = 1767225600


def test_a_second_run_over_the_same_recording_says_why_the_window_refills(tmp_path):
    lines = ["timestamp,a,b"] + [f"{T0 + i},{10 + 2 * math.sin(i / 7):.4f},{10 + 2 * math.cos(i / 9):.4f}"
                                 for i in range(400)]
    (tmp_path / "day.csv").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("tick_s: 1\nsensors: [a, b]\nsources: [{type: replay, path: day.csv}]\nwindow: {steps: 16}\n"
                   "warmup: {ticks: 100}\nscoring: {chain: [numpy]}\nsinks: []\nstate_dir: state\n")
    runs = [subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=REPO, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-3000:]
    second = runs[1].stderr
    assert "checkpoint" in second and "loaded" in second and "time base moved back" in second, second[-3000:]
    [first_tick] = [ln for ln in second.splitlines() if "stad.agent: first tick " in ln]
    assert "warm from the recording" not in first_tick, first_tick
    assert "the time base started again; the window refills for 15 more tick(s)" in first_tick, first_tick
