"""`stad-agent run --max-ticks N` ("stop after this many ticks") on a state directory a first run left:
the checkpoint's tick count (which spans lives: README "Running the demo again") was taken for this run's, so a second `--max-ticks 50` stopped at its first tick — and, --max-ticks being
an end of the data, ended the open alert (`shutdown`) — instead of running 50 ticks (review19). A
real agent on a real file, run twice on one state directory."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from review19_files import wave_replay

REPO = Path(__file__).resolve().parent.parent


def test_max_ticks_counts_the_ticks_of_this_run(tmp_path):
    cfg = wave_replay(tmp_path, 1000)
    ticks, lifetime = [], []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg), "--max-ticks", "300"], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0 and "stopped: reached --max-ticks 300" in res.stderr, res.stderr[-3000:]
        ticks.append(int(re.search(r"^summary: (\d+) ticks", res.stderr, re.M).group(1)))
        lifetime += re.findall(r"^summary: .*; (\d+) ticks with the resumed state's; ", res.stderr, re.M)
    assert "loaded" in res.stderr, res.stderr[-3000:]      # the second run resumed from the first's checkpoint
    assert ticks == [300, 300], ticks                      # the summary counts this run's ticks (user30) …
    assert lifetime == ["600"], lifetime                    # … and, resumed, both runs' near its end
