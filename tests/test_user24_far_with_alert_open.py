"""The first score's "far from the normal" line, with an alert open across the restart (user24).

A standstill queue went on across a restart of the roadside unit; `window.steps` ticks in, the agent said the live
data lay far from its checkpoint's normal and that the cure was to "move the checkpoint aside" — while the
incident's alert, continued from before the stop, was open. The line now says that alert is open and may be all
the distance is, and leaves the cure for after it ends. Real agent processes on a real UDP sender."""
from __future__ import annotations

import json

from conftest import free_port, start_logged_agent, stop_agent, wait_for
from udp_lives import SENSORS, Sender, write_config

FAR = "first score: the live data lies far"


def new_alerts(path) -> list[dict]:
    if not path.exists():
        return []
    return [e for e in map(json.loads, path.read_text().splitlines()) if e.get("event") == "new"]


def test_the_far_line_names_the_alert_carried_across_the_restart(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, port)
    sender = Sender(port)
    jsonl = tmp_path / "alerts.jsonl"
    try:
        proc = start_logged_agent(cfg, tmp_path, "run1")
        try:
            err1 = tmp_path / "run1.err"
            wait_for(lambda: "warm-up done" in err1.read_text(), "run1: warm", timeout=120, proc=proc)
            sender.shift = {s: 60.0 for s in SENSORS}          # everything moves far at once: the incident
            wait_for(lambda: new_alerts(jsonl), "run1: the incident's alert", timeout=120, proc=proc)
        finally:
            stop_agent(proc)
        [alert] = new_alerts(jsonl)
        proc = start_logged_agent(cfg, tmp_path, "run2")
        try:
            err2 = tmp_path / "run2.err"
            wait_for(lambda: FAR in err2.read_text(), "run2: the far line", timeout=120, proc=proc)
        finally:
            stop_agent(proc)
    finally:
        sender.stop()
    [line] = [ln for ln in err2.read_text().splitlines() if FAR in ln]
    assert f"alert {alert['alert_id']}, open since" in line and "(before this start), is still open" in line, line
    assert line.index("is still open") < line.index("move the checkpoint aside"), line
