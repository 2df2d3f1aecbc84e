"""An alert raised after a restart whose data stepped back carries no restart gap.

`gap_s` says, on an alert's first event after a restart, how much data the restored state did not
see: it belongs to an alert the last run left open. When the data after the restart steps back
(the demo run again: its simulator starts over; a replay run again; a sender whose clock stepped
back), the time base starts again and the alert left open has already ended (`restart`). Yet when
the new data later passed the checkpoint's last tick, the agent took that for the restart's first
new data: an alert of this life open then got `gap_s: 0.0` and a forced update, as if continued
across the restart (user4 saw it on the demo; with a gap in the data there, it could have ended
that alert with reason `restart`).
"""
from __future__ import annotations

from conftest import wait_for
from restart_helpers import AgentProcess, alert_lines, check_alert_stream, row, write_config


def test_a_new_alert_after_a_step_back_has_no_restart_gap(tmp_path):
    config = write_config(tmp_path)
    first = AgentProcess(tmp_path, config, "first")
    first.ready()
    first.feed([row(i) for i in range(280)])          # stops inside the anomaly of rows 270–299
    wait_for(lambda: any(e["event"] == "new" and e["ts"] >= "2026-01-05T08:04:30" for e in alert_lines(tmp_path)),
             "the alert of rows 270-299", 120, first.proc)
    assert first.finish() == 0, first.stderr()
    before = len(alert_lines(tmp_path))

    again = AgentProcess(tmp_path, config, "again")    # the same data from its start: a step back
    again.ready()
    again.feed([row(i) for i in range(400)])
    assert again.finish() == 0, again.stderr()
    assert "time base moved back" in again.stderr()
    later = alert_lines(tmp_path)[before:]
    assert {e["event"] for e in later} >= {"new", "end"}, "the second run raises its own alerts"
    check_alert_stream(later)      # each of its alerts: new, updates, one end, seq without a gap
    gapped = [(e["alert_id"], e["seq"], e["event"], e["gap_s"]) for e in later if e["gap_s"] is not None]
    assert gapped == [], f"alerts of the second run said a restart gap: {gapped}"
