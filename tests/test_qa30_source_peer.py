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

import pytest

from conftest import ModbusDevice, free_port, wait_until
from mqtt_broker import broker, make_broker  # noqa: F401 — pytest fixtures
from opcua_agent import MARGIN, OPCUA, server  # noqa: F401 — a pytest fixture
from source_peer import summary_after_outage

from agent.records import Rejects


def test_a_source_fault_decided_after_its_device_is_back_says_the_device_stopped_answering(tmp_path):
    pytest.importorskip("pymodbus")
    device = ModbusDevice(free_port())
    sources = [{"type": "modbus", "host": "127.0.0.1", "port": device.port, "poll_s": 0.05,
                "registers": {"a": 0, "b": 1}}, {"type": "udp", "port": 0}]
    device.start()
    try:
        why, summary = summary_after_outage(tmp_path, sources, device)
    finally:
        device.kill()
    assert why == f"the device at 127.0.0.1:{device.port} closed the connection", why     # our words (user26)
    assert summary.startswith(f"modbus 127.0.0.1:{device.port} stopped answering ({why}; answering again since "), summary
    assert "fell silent" not in summary
    assert not any(w in summary for w in ("unexpectedly", "Modbus Error", "unbounded", "ModbusTcpClient")), summary


def test_an_mqtt_source_fault_decided_after_the_broker_is_back_says_the_connection_was_lost(tmp_path, broker):
    sources = [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.1,
                                           "reconnect_max_s": 1},
                "topics": {"plant/a": "a", "plant/b": "b"}}, {"type": "udp", "port": 0}]
    _, summary = summary_after_outage(tmp_path, sources, broker)
    assert summary.startswith(f"mqtt 127.0.0.1:{broker.port} stopped answering (the connection to the broker was "
                              f"lost at "), summary
    assert "; answering again since " in summary and "fell silent" not in summary


def test_an_opcua_source_fault_decided_after_the_server_is_back_says_the_session_was_lost(tmp_path, server):
    pytest.importorskip("asyncua", reason="the opcua extra is not installed")
    url = f"opc.tcp://127.0.0.1:{server.port}/stad-test"
    sources = [{"type": "opcua", "url": url, "nodes": {"a": "ns=2;s=Skid1.accel1", "b": "ns=2;s=Skid1.pressure"},
                **OPCUA}, {"type": "udp", "port": 0}]
    _, summary = summary_after_outage(tmp_path, sources, server, 60 * MARGIN)
    assert summary.startswith(f"opcua {url} stopped answering (") and "; answering again since " in summary, summary
    assert "fell silent" not in summary


def test_an_mqtt_sources_outage_is_dated_by_the_loss_itself(tmp_path, broker):
    # The outage a `source` fault names (Source.peer_since) began when the connection was lost: the MQTT source dated
    # it from the reporter's duration rounded to 0.1 s, so its start fell up to 0.05 s either side of the loss, and
    # one seen lost by then could read as dated after it. At fast ticks that put the loss after the silence's decision
    # tick: the fault said "fell silent together" (final_load34, this file's mqtt test). Three outages, each dated
    # between the kill and the moment the source was seen without its broker.
    from agent.sources import open_source
    from source_peer import pipeline
    sources = [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.1,
                                           "reconnect_max_s": 1}, "topics": {"plant/a": "a", "plant/b": "b"}}]
    source = open_source(pipeline(tmp_path, sources, 1.0).cfg.sources[0], ["a", "b", "c"], Rejects())
    reading = threading.Thread(target=lambda: list(source.records()), daemon=True)
    reading.start()
    try:
        for _ in range(3):
            assert wait_until(lambda: source.peer == (True, ""), 60)
            before = time.time()
            broker.kill()
            assert wait_until(lambda: not source.peer[0], 60)
            seen = time.time()
            broker.start()
            assert wait_until(lambda: source.peer == (True, "") and source.peer_outage is not None
                              and source.peer_outage[0] >= before, 60)
            assert before <= source.peer_outage[0] <= seen, (before, source.peer_outage, seen)
    finally:
        source.close()
        reading.join(30)
