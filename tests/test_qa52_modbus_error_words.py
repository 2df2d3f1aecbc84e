"""A Modbus read the device refuses, said with the sensors it is for and the exception in words (qa52).

On 19acb1bf a sensor whose register the device lacks was counted `modbus error` and said as
`holding registers 50..50: ExceptionResponse(dev_id=1, function_code=131, exception_code=2)` — pymodbus's repr, no
sensor: the operator had to look the register up in the map and the code up in the standard. Now: `holding register
50 (sensor d): exception 2, illegal data address (a register not in the device's map: …)`; a shared read's refusal
names its sensors too. Against pymodbus's own server (tests/modbus_device.py), which refuses an address it lacks.
"""
from __future__ import annotations

import pytest

from modbus_device import ModbusServer, polled as read

pytest.importorskip("pymodbus")


def test_a_register_the_device_lacks_is_said_with_its_sensor_and_the_exception_in_words():
    with ModbusServer({0: 11, 2: 33}) as device:        # b's register 1 is not there, nor d's 50
        polls, rejects = read(device.port, ["a", "b", "c", "d"], polls=2,
                              registers={"a": 0, "b": 1, "c": 2, "d": 50})
    assert polls == [{}, {"a": 11.0, "c": 33.0}], polls
    where, first = rejects.first["modbus error"]
    assert where.startswith("modbus 127.0.0.1:"), where
    assert first.startswith("holding registers 0..2 (sensors a, b, c): exception 2, illegal data address (a register "
                            "not in the device's map"), first
    assert rejects.counts["modbus error"] == 4      # the shared read 0..2 and d's at the first poll; b's and d's then


def test_a_lone_register_refused_names_its_sensor(caplog):
    with ModbusServer({0: 11}) as device, caplog.at_level("WARNING", "stad.input"):
        polls, rejects = read(device.port, ["a", "d"], polls=1, registers={"a": 0, "d": 50})
    assert polls == [{"a": 11.0}], polls
    said = [r.getMessage() for r in caplog.records if "modbus error" in r.getMessage()]
    assert len(said) == 1, said
    assert "holding register 50 (sensor d): exception 2, illegal data address" in said[0], said
    assert "ExceptionResponse" not in said[0], said
