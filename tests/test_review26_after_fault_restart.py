"""An alert's sensor fault ended at a restart with no usable checkpoint is let go of by the alerts (review24's
leftover; review26).

faults4: an alert that ends with a sensor fault keeps that fault (`after_fault`) while it lasts — new alerts are
judged without its sensors, and one over the threshold waits the sensor-fault hold-back. The alert journal carries
it; a restart with no checkpoint to judge the open faults by ends them (reason restart) outside any tick, and the
alerts never heard of the end: `after_fault` stayed for good, and every new alert waited on a fault long ended.

Real parts: the OPC UA test server's skid as a real CSV replayed through a Pipeline (temp_motor frozen: its alert
ends `sensor_fault`, the `stuck` goes on); the journals that life's delivery writes, written with the agent's own
EventJournal from its alert and fault trackers; then a real Agent built on that state directory (no checkpoint)."""
from __future__ import annotations

import json
from dataclasses import asdict

from agent import config
from agent.checkpoint import FAULT_JOURNAL_FILE, EventJournal
from agent.service import Agent
from skid_replay import SENSORS, skid_csv, replayed


def _cfg(tmp_path) -> dict:
    return {"tick_s": 1.0, "topology": "group", "sensors": [{"name": s, "group": "skid1"} for s in SENSORS],
            "warmup": {"ticks": 40}, "sources": [{"type": "replay", "path": str(tmp_path / "skid.csv")}],
            "scoring": {"chain": ["numpy"]}, "state_dir": str(tmp_path / "state")}


def test_after_fault_of_a_fault_ended_at_a_restart_without_checkpoint_is_let_go(tmp_path):
    skid_csv(tmp_path / "skid.csv", 300, 1.7, 60)
    faults, alerts, pipe = replayed(_cfg(tmp_path), tmp_path)
    [stuck] = faults
    end = alerts[-1]
    assert (end.event, end.reason) == ("end", "sensor_fault") and pipe.alerts.after_fault["fault_id"] == stuck.fault_id
    state = tmp_path / "state"
    state.mkdir()
    EventJournal(state).record(asdict(end), {"ts": end.ts, "state": pipe.alerts.state_dict()})
    EventJournal(state, FAULT_JOURNAL_FILE, "fault").record(
        asdict(stuck), {"ts": stuck.ts, "open": pipe.health.open_faults(), "events": [asdict(stuck)]})
    cfg = config.from_dict({**_cfg(tmp_path), "sinks": [{"type": "jsonl", "path": str(tmp_path / "out.jsonl")}]},
                           base_dir=str(tmp_path))
    agent = Agent(cfg)
    try:
        told = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
        told = [(f["event"], f["fault_id"], f.get("reason")) for f in told if f["event"] in ("fault", "fault_end")]
        assert told[-1] == ("fault_end", stuck.fault_id, "restart")     # (the journal's fault delivered before it)
        assert agent.resumed is None and not agent.pipeline.alerts.active
        assert agent.pipeline.alerts.after_fault is None        # main: the journal's, for good
    finally:
        for sink in agent.sinks:
            sink.close()
        agent.state_lock.release()
