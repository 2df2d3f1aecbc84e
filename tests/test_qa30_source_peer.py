"""A source fault decided after its device is back still says the device stopped answering (user11).

user11's PLC stopped answering for 110 s; the Modbus log said `modbus H:P unreachable (… Connection
unexpectedly closed …)`, yet the `source` fault said "every sensor … fell silent together": roadside's
window.idle_flush_s closes ticks 45 s late, so the sensors' `missing` was decided after the PLC was
back, when the source said its peer answered. Here a real Modbus device (tests/modbus_device.py, a
process), a real Mosquitto and a real OPC UA server (tests/opcua_server.py) are killed and started again
while a real source of each reads them; the tracker is then fed the ticks of that outage (stamped on the
wall clock, as a live source stamps its records), late, while the source still runs."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from agent import config
from agent.pipeline import Pipeline
from agent.records import Rejects
from agent.window import Row
from conftest import ModbusDevice, free_port, wait_until
from mqtt_broker import broker, make_broker  # noqa: F401 — pytest fixtures
from opcua_agent import MARGIN, OPCUA, server  # noqa: F401 — a pytest fixture

SENSORS = ["a", "b", "c"]


def _pipeline(tmp_path, sources: list[dict], tick: float) -> Pipeline:
    """A numpy agent's pipeline at `tick`: missing decided 3 ticks past a 2-tick carry-forward."""
    return Pipeline(config.from_dict({
        "tick_s": tick, "topology": "group", "sensors": SENSORS, "sources": sources,
        "window": {"steps": 8, "carry_forward_s": 2 * tick}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 3 * tick, "clear_s": 2 * tick, "stuck_s": 3600, "flatline_s": 3600}, "sinks": [],
    }, base_dir=str(tmp_path)))


def _rows(tracker, start: float, tick: float, ticks: int, silent: set[str]) -> list:
    out = []
    for k in range(ticks):
        values = np.array([10.0 + k % 3, 20.0 + k % 5, 30.0 + k % 4])
        missing = np.array([s in silent for s in SENSORS])
        out += tracker.observe(Row(ts=start + k * tick, values=np.where(missing, np.nan, values), missing=missing,
                                   carried=np.zeros(len(SENSORS), bool)))
    return out


def _decided_late(tmp_path, sources: list[dict], source, lost_at: float, back_at: float) -> list:
    """The ticks of an outage from `lost_at` to `back_at` (wall clock) of `sources[0]`'s two sensors a
    and b, 20 of them, told to a tracker now, after the peer is back: late, as ticks closed by
    window.idle_flush_s are. Returns the events of the silence."""
    tick = (back_at - lost_at) / 20
    p = _pipeline(tmp_path, sources, tick)
    p.source_map.attach([source])                       # (the udp feed, second, is not opened)
    silence = lost_at - tick / 2                        # the last reading came just before the loss
    assert _rows(p.health, silence - 30 * tick, tick, 30, set()) == []
    down = _rows(p.health, silence, tick, 20, {"a", "b"})
    label = p.source_map.labels[0]
    assert [(ev.event, ev.kind, ev.sensor) for ev in down] == [("fault", "source", label)], down
    assert down[0].sensors == ["a", "b"]
    return down


def _summary_after_outage(tmp_path, sources: list[dict], peer, deadline_s: float = 60) -> tuple[str, str]:
    """`sources[0]` opened and read (a thread) while its `peer` (a PeerProcess or Mosquitto) is killed
    and started again; the outage's source fault, decided late, while the source still runs. Returns
    (what the source said while its peer was gone, the fault's summary)."""
    from agent.sources import open_source
    source = open_source(_pipeline(tmp_path, sources, 1.0).cfg.sources[0], SENSORS, Rejects())
    reading = threading.Thread(target=lambda: list(source.records()), daemon=True)
    reading.start()
    try:
        assert wait_until(lambda: source.peer == (True, ""), deadline_s)
        peer.kill()                                     # the device's power cut …
        assert wait_until(lambda: source.peer is not None and not source.peer[0], deadline_s)
        lost_at, why = time.time(), source.peer[1]
        peer.start()                                    # … and back
        assert wait_until(lambda: source.peer == (True, ""), deadline_s)
        back_at = time.time()
        return why, _decided_late(tmp_path, sources, source, lost_at, back_at)[0].evidence["summary"]
    finally:
        source.close()
        reading.join(30)


def test_a_source_fault_decided_after_its_device_is_back_says_the_device_stopped_answering(tmp_path):
    pytest.importorskip("pymodbus")
    device = ModbusDevice(free_port())
    sources = [{"type": "modbus", "host": "127.0.0.1", "port": device.port, "poll_s": 0.05,
                "registers": {"a": 0, "b": 1}}, {"type": "udp", "port": 0}]
    device.start()
    try:
        why, summary = _summary_after_outage(tmp_path, sources, device)
    finally:
        device.kill()
    assert summary.startswith(f"modbus 127.0.0.1:{device.port} stopped answering ({why}; answering again since "), summary
    assert "fell silent" not in summary


def test_an_mqtt_source_fault_decided_after_the_broker_is_back_says_the_connection_was_lost(tmp_path, broker):
    sources = [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.1,
                                           "reconnect_max_s": 1},
                "topics": {"plant/a": "a", "plant/b": "b"}}, {"type": "udp", "port": 0}]
    _, summary = _summary_after_outage(tmp_path, sources, broker)
    assert summary.startswith(f"mqtt 127.0.0.1:{broker.port} stopped answering (the connection to the broker was "
                              f"lost at "), summary
    assert "; answering again since " in summary and "fell silent" not in summary


def test_an_opcua_source_fault_decided_after_the_server_is_back_says_the_session_was_lost(tmp_path, server):
    pytest.importorskip("asyncua", reason="the opcua extra is not installed")
    url = f"opc.tcp://127.0.0.1:{server.port}/stad-test"
    sources = [{"type": "opcua", "url": url, "nodes": {"a": "ns=2;s=Skid1.accel1", "b": "ns=2;s=Skid1.pressure"},
                **OPCUA}, {"type": "udp", "port": 0}]
    _, summary = _summary_after_outage(tmp_path, sources, server, 60 * MARGIN)
    assert summary.startswith(f"opcua {url} stopped answering (") and "; answering again since " in summary, summary
    assert "fell silent" not in summary
