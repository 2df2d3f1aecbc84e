"""A controller that keeps its readings while the broker is away and sends them, in order, once it is back (an RTU's
store-and-forward), the agent that reads it through a broker, and the agent's /metrics as the outage tests read it
(user34, qa53)."""
from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import yaml

from conftest import free_port, interrupt_agent, start_logged_agent, wait_for
from source1_events import metric


def value(port: int, series: str) -> float:
    """A series' value on the agent's /metrics; -1 when it is not served (or the agent does not answer)."""
    got = metric(port, series)
    return -1.0 if got is None else float(got)


def rejected(port: int, reason: str) -> float:
    return value(port, f'stad_records_rejected_total{{reason="{reason}"}}')


class StoreAndForward(threading.Thread):
    """Publishes {"ts", "a", "b"} on plant/rtu every 0.5 s (the agent's tick); while the broker is away it keeps
    them, and sends what it kept, in order, once it is back."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rtu-{free_port()}")
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        self.kept: list[str] = []
        self.forwarded = 0
        self.away = threading.Event()      # set by the test as it stops the broker, cleared once the RTU is back on it
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.wait(0.5):
            n += 1
            self.kept.append(json.dumps({"ts": time.time(), "a": 10 + n % 7, "b": 20 + n % 5}))
            if self.client.is_connected() and not self.away.is_set():
                self.forwarded += sum(1 for _ in self.kept[:-1])
                for payload in self.kept:
                    self.client.publish("plant/rtu", payload, qos=1)
                self.kept = []

    def close(self) -> None:
        self.stop.set()
        self.join(30)
        self.client.loop_stop()
        self.client.disconnect()


def start_rtu_agent(tmp_path, broker_port: int, window: dict | None = None, **broker_keys):
    """(the agent process, its metrics port): the real agent reading plant/rtu (sensors a, b; tick 0.5 s; ticks closed
    1 s after the data stops, `window.idle_flush_s`; `window` keys added) from the broker on `broker_port`
    (`broker_keys` added to its `broker`), its log in tmp_path/agent.err."""
    metrics = free_port()
    cfg = {"node": {"id": "ps7-gw-01"}, "tick_s": 0.5, "topology": "none", "sensors": ["a", "b"],
           "sources": [{"type": "mqtt", "topics": {"plant/rtu": "*"}, "qos": 1,
                        "broker": {"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 0.1,
                                   "reconnect_max_s": 1, **broker_keys}}],
           "window": {"steps": 8, "carry_forward_s": 1, "idle_flush_s": 1, **(window or {})}, "warmup": {"ticks": 40},
           "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}],
           "metrics": {"listen": f"127.0.0.1:{metrics}"}, "state_dir": "state"}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return start_logged_agent(path, tmp_path), metrics


def start_rtu_outage(tmp_path, broker, window: dict | None = None, **broker_keys):
    """(the agent process, its metrics port, the publisher): the agent (start_rtu_agent) and a StoreAndForward
    publisher on `broker`, the agent's first readings in; the publisher keeps its readings from then on (`away`), as
    the test takes the broker away. Both ended if the first readings do not come."""
    proc, metrics = start_rtu_agent(tmp_path, broker.port, window, **broker_keys)
    rtu = StoreAndForward(broker.port)
    rtu.start()
    try:
        wait_for(lambda: value(metrics, "stad_records_total") >= 10, "the readings before the outage", 90, proc)
    except BaseException:
        rtu.close()
        interrupt_agent(proc)
        raise
    rtu.away.set()
    return proc, metrics, rtu


def broker_back(tmp_path, broker, rtu: StoreAndForward, proc) -> None:
    """The broker started again on its port; once the publisher and the agent's source are back on it, the publisher
    sends what it kept."""
    broker.start()
    wait_for(lambda: rtu.client.is_connected() and "MQTT source: connected" in (tmp_path / "agent.err").read_text(),
             "the RTU and the agent back on the broker", 90, proc)
    rtu.away.clear()
