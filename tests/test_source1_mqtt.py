"""The broker an `mqtt` source reads going away is one `source` fault naming the broker and the sensors it
carries, and one fault_end when it is back — not a `missing` fault and a fault_end per topic.

Real parts: a real `stad-agent run` subscribed at a real Mosquitto (SIGKILLed and started again on the
same port), a publisher sending a, b and c on the plant's cadence (the input, not a wait on the agent),
the fault events in the agent's jsonl file; every wait is on a condition."""
from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from conftest import free_port, start_logged_agent, wait_for
from mqtt_broker import make_broker  # noqa: F401 — a pytest fixture
from source1_events import faults, said

ROOT = Path(__file__).resolve().parents[1]
FAULT_SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())


class Plant:
    """Publishes a, b (varying) and c (80: above its max) on plant/<sensor> every 0.25 s, reconnecting
    on its own when the broker is back, until closed."""

    def __init__(self, port: int):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"plant-{free_port()}")
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        n = 0
        while not self.done.wait(0.25):         # the plant's cadence
            n += 1
            for sensor, value in (("a", 10 + n % 3), ("b", 20 + n % 5), ("c", 80)):
                self.client.publish(f"plant/{sensor}", str(value))

    def close(self) -> None:
        self.done.set()
        self.thread.join(10)
        self.client.loop_stop()
        self.client.disconnect()


def test_the_broker_of_an_mqtt_source_going_away_is_one_source_fault(tmp_path, make_broker):
    broker = make_broker()
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "node": {"id": "mqtt-gw"}, "tick_s": 0.5, "topology": "group",
        "sensors": ["a", "b", {"name": "c", "max": 50}],
        "sources": [{"type": "mqtt", "topics": {"plant/a": "a", "plant/b": "b", "plant/c": "c"},
                     "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.1,
                                "reconnect_max_s": 1}}],
        "window": {"steps": 8, "carry_forward_s": 1, "idle_flush_s": 0.5}, "warmup": {"ticks": 16},
        "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 1, "clear_s": 1, "stuck_s": 36000, "flatline_s": 36000},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state"}))
    proc = start_logged_agent(tmp_path / "agent.yaml", tmp_path)
    plant = Plant(broker.port)
    label = f"mqtt 127.0.0.1:{broker.port}"
    try:
        wait_for(lambda: ("fault", "out_of_range", "c") in said(faults(tmp_path)), "c's out_of_range fault", 90, proc)
        broker.kill()
        wait_for(lambda: ("fault", "source", label) in said(faults(tmp_path)), "the source fault", 90, proc)
        broker.start()
        wait_for(lambda: ("fault_end", "source", label) in said(faults(tmp_path)), "the source's fault_end", 120, proc)
    finally:
        plant.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    events = faults(tmp_path)
    for e in events:
        jsonschema.validate(e, FAULT_SCHEMA)
    assert said(events) == [("fault", "out_of_range", "c"), ("fault", "source", label), ("fault_end", "source", label)]
    fault, end = events[1], events[2]
    assert fault["sensors"] == ["a", "b"] and fault["evidence"]["sensors_with_own_faults"] == {"c": "out_of_range"}
    assert "stopped answering" in fault["evidence"]["summary"] and fault["evidence"]["connection"]
    assert end["fault_id"] == fault["fault_id"] and end["reason"] == "cleared"
