"""ISO-8601 times on Python 3.10, which pyproject's requires-python admits (review38): 3.10's
datetime.fromisoformat takes no `Z`, no fraction of other than 3 or 6 digits and no offset without its colon, so
`parse_time` refused `2026-01-05T06:00:00Z` there — the demo config's simulate start (check-config: "not an ISO-8601
time"), every JSON line stamped `"ts": "…Z"` (the form agent/sources/lines.py's docstring shows) a `bad time`.
`lines.from_iso` reads on 3.10 what 3.11 reads: checked here by running parse_time under a Python 3.10 found on
this machine, against this Python's reading."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.sources.lines import parse_time

REPO = Path(__file__).resolve().parents[1]
TIMES = ["2026-01-05T06:00:00Z", "2026-01-05T06:00:00.123Z", "2026-01-05T06:00:00.5+00:00",
         "2026-01-05T06:00:00.1234567Z", "2026-01-05T06:00:00+0100", "2026-01-05T06:00:00-05", "2026-01-05T06:00:00,5z",
         "2026-01-05 06:00:00", "2026-01-05", "2014-02-19 10:50:00.000000"]
REFUSED = ["tomorrow", "2026-13-45T99:00:00Z", "2026-01-05T06:00:00.5 +01:00"]


def _python310() -> str | None:
    for pattern in ("/usr/bin/python3.10", "/usr/local/bin/python3.10", "/root/.pyenv/versions/3.10*/bin/python3.10",
                    os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")):
        for path in sorted(glob.glob(pattern)):
            if os.access(path, os.X_OK):
                return path
    return None


def _readings() -> dict[str, float | None]:
    out = {}
    for text in TIMES + REFUSED:
        try:
            out[text] = parse_time(text)
        except ValueError:
            out[text] = None
    return out


def test_this_python_reads_the_iso_forms_and_refuses_the_others():
    got = _readings()
    assert got["2026-01-05T06:00:00Z"] == 1767592800.0 and got["2026-01-05T06:00:00+0100"] == 1767589200.0
    assert [t for t in TIMES if got[t] is None] == [] and [t for t in REFUSED if got[t] is not None] == []


def test_python_3_10_reads_them_as_this_python_does():
    python = _python310()
    if python is None or sys.version_info[:2] == (3, 10):
        pytest.skip("needs a Python 3.10 beside the one running the tests (e.g. pyenv install 3.10)")
    script = ("import json, sys\nfrom agent.sources.lines import parse_time\nout = {}\n"
              "for t in json.loads(sys.argv[1]):\n    try:\n        out[t] = parse_time(t)\n"
              "    except ValueError:\n        out[t] = None\nprint(json.dumps(out))\n")
    res = subprocess.run([python, "-c", script, json.dumps(TIMES + REFUSED)], capture_output=True, text=True,
                         timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == _readings()
