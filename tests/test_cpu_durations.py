"""tests/cpu_durations.py's --cpu-durations=N, in a real pytest run of its own on two xdist workers (the CI case:
each worker counts, the controller lists) of a test file written to tmp_path: each test's CPU seconds, its
waited-for children's included, largest first, with the run's total. CPU burnt by process_time, not by a sleep:
the figures hold however busy the machine is."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO

CHILD_S, OWN_S = 0.3, 0.15
BURNS = f'''
import subprocess, sys, time


def burn(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def test_burns_in_a_child():
    subprocess.run([sys.executable, "-c", "import time\\nt = time.process_time()\\n"
                    "while time.process_time() - t < {CHILD_S}: pass"], check=True)


def test_burns_itself():
    burn({OWN_S})


def test_does_nothing():
    pass
'''


def test_each_tests_cpu_seconds_are_listed_largest_first_with_the_total(tmp_path):
    (tmp_path / "test_burns.py").write_text(BURNS)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "cpu_durations",
                          "--cpu-durations=2", "-n", "2", "test_burns.py"], cwd=tmp_path, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO / "tests")}, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    [at] = [i for i, line in enumerate(lines) if "CPU seconds per test" in line]
    total, count = re.search(r"([\d.]+) s in (\d+) tests", lines[at]).groups()
    listed = [re.fullmatch(r"\s*([\d.]+)s  (\S+)", line).groups() for line in lines[at + 1:at + 3]]
    assert [nodeid for _, nodeid in listed] == ["test_burns.py::test_burns_in_a_child",
                                                "test_burns.py::test_burns_itself"]
    (child, _), (own, _) = listed
    assert float(child) >= CHILD_S and float(own) >= OWN_S            # the child's seconds are its test's
    assert count == "3" and float(total) >= float(child) + float(own)
    assert "test_does_nothing" not in "\n".join(lines[at:at + 3])    # N = 2: the two largest only
