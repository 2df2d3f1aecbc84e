"""A stopped PLC is said in the agent's words (user25): the device closed the connection, refused it, or did not
answer, with host:port — in the source's reason, its log line and the `source` fault's summary — not pymodbus's
"Connection unexpectedly closed 0.000 seconds into read of unbounded read bytes …", which stood inside the
operator's FAULT line. pymodbus's text goes to the debug log. Real devices: tests/modbus_device.py's process
(SIGKILLed mid-run, the PLC's power cut: its fault's words are held in test_qa30_source_peer.py) and in-process server, a port nothing listens on, a TCP listener that
never answers; every wait is on a condition."""
from __future__ import annotations

import logging
import socket
import threading

import pytest

from agent.records import Rejects
from agent.sources.modbus import ModbusConfig, ModbusSource, ModbusUnreachable
from conftest import free_port, wait_until
from modbus_device import ModbusServer

pytest.importorskip("pymodbus")

PYMODBUS_WORDS = ("unexpectedly", "Modbus Error", "unbounded", "ModbusTcpClient", "retries")


def _ours(text: str) -> None:
    assert not any(w in text for w in PYMODBUS_WORDS), text


def _source(port: int) -> ModbusSource:
    cfg = ModbusConfig(host="127.0.0.1", port=port, poll_s=0.1, registers={"a": 0})
    return ModbusSource(cfg, ["a"], Rejects())


def test_a_server_stopped_under_a_reading_source_logs_our_words_and_pymodbus_at_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="stad.modbus")
    with ModbusServer({0: 7}) as server:
        source = _source(server.port)
        got: list = []
        reading = threading.Thread(target=lambda: got.extend(source.records()), daemon=True)
        reading.start()
        try:
            assert wait_until(lambda: source.peer == (True, ""), 60)
        except BaseException:
            source.close()
            raise
    try:                                                # the server is stopped: the next read finds it gone
        assert wait_until(lambda: source.peer is not None and not source.peer[0], 60)
        assert wait_until(lambda: "unreachable (" in caplog.text, 60)
    finally:
        source.close()
        reading.join(30)
    why = source.peer[1]
    assert why in (f"the device at 127.0.0.1:{server.port} closed the connection",
                   f"the device at 127.0.0.1:{server.port} refused the connection (nothing listens on port "
                   f"{server.port}: the device or its Modbus server is off)"), why
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "unreachable" in
                   r.getMessage())
    assert f"modbus 127.0.0.1:{server.port} unreachable ({why}); retrying" in warning, warning
    _ours(warning)
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG and r.name == "stad.modbus"]
    assert any("pymodbus" in m for m in debug), debug


def test_nothing_listening_is_said_as_a_refused_connection(caplog):
    port = free_port()
    source = _source(port)
    with pytest.raises(ModbusUnreachable) as said:
        source.poll()
    source.client.close()
    assert str(said.value) == (f"the device at 127.0.0.1:{port} refused the connection (nothing listens on port "
                               f"{port}: the device or its Modbus server is off)")


def test_a_device_that_accepts_but_never_answers_is_said_as_no_answer_in_time(caplog):
    with socket.socket() as listener:               # a TCP peer that takes the connection and says nothing
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        source = _source(port)
        with pytest.raises(ModbusUnreachable) as said:
            source.poll()
        source.client.close()
    assert str(said.value) == f"the device at 127.0.0.1:{port} did not answer a read within 0.2 s", said.value
