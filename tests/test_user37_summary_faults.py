"""The stop summary says a sensor fault an earlier run raised that this run continued (user37; user36's first week).

A fault open at a SIGTERM is continued by the next start under its id (tests/test_clean_stop_continues.py); that
start's summary said `sensor faults 0 (none)` — this run's raises (user15's rule) — with the fault open all along,
as chaos10 found for alerts (`alerts raised 0 (events …)`). Now it says the continued fault as the alerts' are said:
still open at the stop, or ended in this run. A real agent over three lives."""
from __future__ import annotations

import re

from restart_helpers import (AgentProcess, alert_lines, fault_lines, finished, row, row_without_c,
                             sigterm_with_c_faulty, summary_line, wait_for, write_config)


def test_the_summary_says_a_sensor_fault_raised_before_this_start_continued(tmp_path):
    config = write_config(tmp_path)
    sigterm_with_c_faulty(tmp_path, config)            # life 1: c silent (a `missing` fault), SIGTERM with it open
    [fault] = fault_lines(tmp_path)

    second = AgentProcess(tmp_path, config, "run2")     # life 2: c still silent, SIGTERM
    try:
        assert "resumed from checkpoint" in second.ready()
        second.feed([row_without_c(i) for i in range(186, 196)])
        wait_for(lambda: [e for e in alert_lines(tmp_path) if e.get("gap_s") is not None], "the continued update",
                 proc=second.proc)
        assert second.terminate() == 0, second.stderr()[-3000:]
    finally:
        if second.proc.poll() is None:
            second.kill()
    line = summary_line(second.stderr())
    # on 8d34bc91: "; sensor faults 0 (none); tier …" with c's fault open all through this life
    assert "; sensor faults 0 (none), 1 raised before this start continued, still open at the stop; " in line, line

    third = AgentProcess(tmp_path, config, "run3")      # life 3: c back, its fault ends
    try:
        assert "resumed from checkpoint" in third.ready()
        third.feed([row(i) for i in range(196, 260)])
        wait_for(lambda: [f for f in fault_lines(tmp_path) if f["event"] == "fault_end"], "c's fault_end",
                 proc=third.proc)
    finally:
        err = finished(third)
    line = summary_line(err)
    assert re.search(r"; sensor faults 0 \(none\), 1 raised before this start continued and ended in this run; ",
                     line), line
    assert [(f["fault_id"], f["event"]) for f in fault_lines(tmp_path)] == \
        [(fault["fault_id"], "fault"), (fault["fault_id"], "fault_end")]
