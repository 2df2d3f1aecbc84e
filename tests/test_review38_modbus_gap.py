"""A register map with a gap (review38): the source reads near registers in one request, the registers between
them included, and a PLC that does not have those answers exception 2 (illegal data address). Before, that
refusal came at every poll and no sensor of the shared read was ever read ('modbus error' counted, nothing
else); now the read is split into each sensor's own, said once, and kept split. Against pymodbus's own server,
which refuses an address it does not hold."""
from __future__ import annotations

import logging

import pytest

from modbus_device import ModbusServer, polled as read

pytest.importorskip("pymodbus")


def test_a_device_refusing_the_gap_between_two_sensors_has_both_read(caplog):
    with ModbusServer({0: 11, 5: 22, 6: 33}) as device, caplog.at_level(logging.WARNING, "stad.modbus"):
        polls, rejects = read(device.port, ["a", "b", "c"], polls=3, registers={"a": 0, "b": 5, "c": 6})
    assert polls == [{"a": 11.0, "b": 22.0, "c": 33.0}] * 3
    assert dict(rejects.counts) == {}
    said = [r.getMessage() for r in caplog.records if "refuses a read" in r.getMessage()]
    assert len(said) == 1 and "holding registers 0..6" in said[0] and "a (holding register 0)" in said[0]


def test_a_register_the_device_lacks_is_counted_and_its_neighbours_still_read():
    # b's register 5 is not there at all: b is counted at each poll, a and c are read
    with ModbusServer({0: 11, 6: 33}) as device:
        polls, rejects = read(device.port, ["a", "b", "c"], polls=2, registers={"a": 0, "b": 5, "c": 6})
    assert polls == [{"a": 11.0, "c": 33.0}] * 2
    assert rejects.counts["modbus error"] == 2


def test_a_device_refusing_one_sensors_own_read_is_counted_as_before():
    with ModbusServer({0: 11}) as device:
        polls, rejects = read(device.port, ["a", "b"], polls=2, registers={"a": 0, "b": 40})
    assert polls == [{"a": 11.0}] * 2
    assert rejects.counts["modbus error"] == 2
