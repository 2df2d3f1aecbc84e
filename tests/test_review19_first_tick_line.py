"""The demo run a second time (README "Running the demo again"): the checkpoint is loaded, the data
starts over before its last tick, the time base moves back, and the window refills. The first tick's
line said `warm from the recording` — there is no recording (no `warmup.replay`): the learned state is
the checkpoint's. Now it says the time base started again (review19). A real agent on a real file,
run twice on one state directory."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from review19_files import wave_replay

REPO = Path(__file__).resolve().parent.parent


def test_a_second_run_over_the_same_recording_says_why_the_window_refills(tmp_path):
    cfg = wave_replay(tmp_path, 400)
    runs = [subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=REPO, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-3000:]
    second = runs[1].stderr
    assert "checkpoint" in second and "loaded" in second and "time base moved back" in second, second[-3000:]
    [first_tick] = [ln for ln in second.splitlines() if "stad.agent: first tick " in ln]
    assert "warm from the recording" not in first_tick, first_tick
    assert "the time base started again; the window refills for 15 more tick(s)" in first_tick, first_tick
