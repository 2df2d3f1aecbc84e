"""`--cpu-durations=N`: after the run, the N tests that used the most CPU seconds (0: all), with the run's total.

Why beside --durations: on the shared 2-core machine, under two busy loops and the other helpers' work, a test's
wall time says more about the load than about the test (at load ~25 the suite's tests took 10–40× their CPU time
in wall time, suite1); the CPU seconds are what a test costs, whatever else runs, so they say where to cut.
Counted per test from its setup to its teardown: this process's CPU and that of the children it waited for
(subprocess.run, Popen.wait; a grandchild counts once its parent waited for it); a process left running is not.
Under pytest-xdist each worker counts its own tests and the controller prints them. Registered by conftest.py;
`-p cpu_durations` (tests/ on the path) loads it elsewhere.
"""
from __future__ import annotations

import resource

import pytest

KEY = "cpu_s"
_START = pytest.StashKey[float]()
_seen: list[tuple[float, str]] = []


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_addoption(parser):
    parser.getgroup("terminal reporting").addoption(
        "--cpu-durations", type=int, default=None, metavar="N",
        help="show the N tests that used the most CPU seconds, their children's included (0: all), and the total")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if item.config.getoption("cpu_durations") is not None:      # without the option: nothing counted, nothing added
        item.stash[_START] = _cpu()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "teardown" and _START in item.stash:
        outcome.get_result().user_properties.append((KEY, round(_cpu() - item.stash[_START], 3)))


def pytest_runtest_logreport(report):
    """In the controller too: a worker's report arrives with its user_properties."""
    if report.when == "teardown":
        cpu = dict(report.user_properties).get(KEY)
        if cpu is not None:
            _seen.append((cpu, report.nodeid))


def pytest_terminal_summary(terminalreporter, config):
    n = config.getoption("cpu_durations")
    if n is None or not _seen:
        return
    rows = sorted(_seen, reverse=True)
    terminalreporter.write_sep("=", f"CPU seconds per test: {sum(c for c, _ in rows):.1f} s in {len(rows)} tests")
    for cpu, nodeid in rows[:n or len(rows)]:
        terminalreporter.write_line(f"{cpu:9.2f}s  {nodeid}")

