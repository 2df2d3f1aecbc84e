"""bench/cold_misses.py counts a cold tick's last-level cache misses under valgrind's cache simulation (perf71):
a real run on the demo's tflite pipeline gives per-tick counts for the whole tick, a part inside it (fewer), and
the functions with the most misses."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("callgrind_control") is None,
                    reason="valgrind's callgrind is not installed")
def test_a_cold_tick_and_a_part_of_it_are_counted(tmp_path):
    """A warm-up of 300 ticks, not the demo's day: the counts need the tflite tier scoring, which it is after any
    warm-up; the day under valgrind was half the test's CPU (25.4 -> 12.6 CPU-s, suite2)."""
    out = tmp_path / "cold.json"
    res = subprocess.run([sys.executable, str(REPO / "bench" / "cold_misses.py"), "--ticks", "2", "--skip", "0",
                          "--warmup-ticks", "300", "--parts", "window.push_raw", "--top", "3", "--out", str(out)],
                         cwd=REPO, text=True, capture_output=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    counts = json.loads(out.read_text())["trees"]["this"]
    tick, part = counts["whole tick"], counts["window.push_raw"]
    assert tick["LL misses"] > part["LL misses"] > 0
    assert tick["Ir"] > part["Ir"] > 0
    assert tick["LL misses"] == pytest.approx(tick["LL instruction"] + tick["LL data read"] + tick["LL data write"], abs=0.2)
    assert len(tick["top functions"]) == 3
    assert all(f["LL misses"] > 0 and f["function"] for f in tick["top functions"])
    assert "whole tick" in res.stdout and "window.push_raw" in res.stdout
