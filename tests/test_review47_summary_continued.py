"""The stop summary says the alerts and sensor faults an earlier run raised that this run continued — by one rule for
both (review47).

chaos10 counted an alert as continued when this run sent one of its events; user37 counted a sensor fault as continued
when it was open at this start. The two rules disagreed at a restart: an alert open at the start that this run sent no
event of (stopped before its next update) was not said — `alerts raised 0 (events none)` with it open, as user36's
`sensor faults 0 (none)` had been —, and a fault the restart ended (no usable checkpoint to judge it by: `fault_end`,
reason restart) was not said while the alert ended beside it was. Now both: open at this start, or an event of it
sent by this run, and not raised by this run. Real agents (tests/restart_helpers.py) over two lives each."""
from __future__ import annotations

from restart_helpers import (alert_lines, fault_lines, sigterm_with_c_faulty, stopped_before_data, summary_line,
                             write_config)


def test_an_alert_open_at_the_start_that_sent_no_event_is_said_continued(tmp_path):
    config = write_config(tmp_path)
    sigterm_with_c_faulty(tmp_path, config)            # life 1: the alert and c's fault open at a SIGTERM
    events = len(alert_lines(tmp_path))
    status, err = stopped_before_data(tmp_path, config, "run2")     # life 2: resumed, stopped before any data
    assert "resumed from checkpoint" in status
    assert len(alert_lines(tmp_path)) == events         # (no event of it in this life)
    line = summary_line(err)
    # on 740108ec: "; alerts raised 0 (events none); sensor faults 0 (none), 1 raised before this start continued, …"
    assert "; alerts raised 0, 1 raised before this start continued, still open at the stop (events none); " \
           "sensor faults 0 (none), 1 raised before this start continued, still open at the stop; " in line, line


def test_a_fault_the_restart_ended_is_said_as_the_alert_ended_beside_it(tmp_path):
    config = write_config(tmp_path)
    sigterm_with_c_faulty(tmp_path, config)            # life 1: the alert and c's fault open at a SIGTERM
    (tmp_path / "state" / "checkpoint.bin").unlink()   # no checkpoint to judge them by: the restart ends both
    _, err = stopped_before_data(tmp_path, config, "run2")
    assert [(e["event"], e["reason"]) for e in alert_lines(tmp_path)][-1] == ("end", "restart")
    assert [f["event"] for f in fault_lines(tmp_path)] == ["fault", "fault_end"]
    line = summary_line(err)
    # on 740108ec: "; alerts raised 0, 1 raised before this start continued and ended in this run (events end: 1);
    # sensor faults 0 (none); " — the fault's end not said
    assert "; alerts raised 0, 1 raised before this start continued and ended in this run (events end: 1); " \
           "sensor faults 0 (none), 1 raised before this start continued and ended in this run; " in line, line
