"""Bench scripts refuse a bad argument as a usage error (exit 2, the flag named) before doing any
work, never with a traceback from deep inside (QA pass 8)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script, args, says", [
    ("accuracy.py", ["--only", "skab", "--scorer", "foo"], "argument --scorer: invalid choice: 'foo'"),
    ("mqtt.py", ["--dir", "{tmp}/absent"], "--dir {tmp}/absent: not a directory"),
])
def test_bad_bench_arguments_are_usage_errors(tmp_path, script, args, says):
    args = [a.format(tmp=tmp_path) for a in args]
    res = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO, text=True,
                         capture_output=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert says.format(tmp=tmp_path) in res.stderr and "Traceback" not in res.stderr, res.stderr
