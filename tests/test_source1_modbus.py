"""A Modbus device that reboots is one fault and one fault_end, naming the device and its sensors — not a
`missing` fault and a fault_end per register (review20's finding 8: a 15-s PLC reboot told as 8 + 8).

Real parts: a real `stad-agent run` polling a real pymodbus server (tests/modbus_device.py, a process:
SIGKILLed, as a power cut, and started again on the same port), its fault events in its jsonl file,
its /metrics scraped; every wait is on a condition, never a fixed time. Sensor c reads outside its
range from the start: it keeps its own out_of_range fault through the outage."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import ModbusDevice, free_port, start_logged_agent, wait_for
from source1_events import faults, metric, said

ROOT = Path(__file__).resolve().parents[1]
FAULT_SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())


def test_a_modbus_device_rebooting_is_one_source_fault_and_one_end(tmp_path):
    pytest.importorskip("pymodbus")
    device = ModbusDevice(free_port())
    device.start()
    metrics = free_port()
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "node": {"id": "plc-gw"}, "tick_s": 0.5, "topology": "group",
        "sensors": ["a", "b", {"name": "c", "max": 50}, "d"],          # c reads 102: out of its range
        "sources": [{"type": "modbus", "host": "127.0.0.1", "port": device.port, "poll_s": 0.5,
                     "registers": {"a": 0, "b": 1, "c": 2, "d": 3}}],
        "window": {"steps": 8, "carry_forward_s": 1, "idle_flush_s": 0.5}, "warmup": {"ticks": 16},
        "scoring": {"chain": ["numpy"]},
        # the device's registers do not move: no stuck or flatline verdict within the test
        "faults": {"missing_s": 1, "clear_s": 1, "stuck_s": 36000, "flatline_s": 36000},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "metrics": {"listen": f"127.0.0.1:{metrics}"},
        "state_dir": "state"}))
    proc = start_logged_agent(tmp_path / "agent.yaml", tmp_path)
    label = f"modbus 127.0.0.1:{device.port}"
    down = f'stad_source_down{{source="{label}"}}'
    try:
        wait_for(lambda: ("fault", "out_of_range", "c") in said(faults(tmp_path)), "c's out_of_range fault", 90, proc)
        wait_for(lambda: metric(metrics, down) == "0.0", "the source served as up", 60, proc)
        device.kill()                                           # the PLC's power cut
        wait_for(lambda: any(e["kind"] == "source" for e in faults(tmp_path)), "the source fault", 90, proc)
        assert metric(metrics, down) == "1.0"
        device.start()                                          # back on the same port
        wait_for(lambda: ("fault_end", "source", label) in said(faults(tmp_path)), "the source's fault_end", 120, proc)
        wait_for(lambda: metric(metrics, down) == "0.0", "the source served as up again", 60, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
        device.kill()
    events = faults(tmp_path)
    for e in events:
        jsonschema.validate(e, FAULT_SCHEMA)
    # exactly: c's own fault (open at the stop: a signal leaves it for the next start), one source fault, one end
    assert said(events) == [("fault", "out_of_range", "c"), ("fault", "source", label), ("fault_end", "source", label)]
    fault, end = events[1], events[2]
    assert fault["source"] == label and fault["sensors"] == ["a", "b", "d"] and end["sensors"] == ["a", "b", "d"]
    assert fault["evidence"]["sensors_with_own_faults"] == {"c": "out_of_range"}
    assert fault["evidence"]["connection"] and label in fault["evidence"]["summary"]    # why: the connection's error
    assert end["fault_id"] == fault["fault_id"] and end["reason"] == "cleared" and end["evidence"]["back"] == ["a", "b", "d"]
    assert not any(e["kind"] == "missing" for e in events)
