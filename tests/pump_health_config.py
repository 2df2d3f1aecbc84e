"""A numpy-only agent config on 300 s of the simulated pump whose health goes to an MQTT sink with no broker: for tests
that read what a life's health says of the checkpoint at its start (test_checkpoint, test_user39_fleet_build)."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import PUMP
from mqtt_broker import free_port


def pump_config(tmp_path: Path) -> Path:
    """tmp_path/agent.yaml holding that config, its state in tmp_path/state."""
    path = tmp_path / "agent.yaml"
    path.write_text(json.dumps({
        "sensors": PUMP, "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 100},
        "scoring": {"chain": ["numpy"]}, "state_dir": str(tmp_path / "state"),
        "sources": [{"type": "simulate", "scenario": "pump", "seed": 1, "duration_s": 300}],
        "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": free_port()}}]}))
    return path
