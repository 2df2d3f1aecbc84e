"""One register a Modbus device does not have, beside others it has (a register map's typo, a device variant without
one value): the source reads near registers in one request, and the device refuses the whole of it (exception 2,
illegal data address). review38 split such a read only when it crossed a gap no sensor reads; a read of adjacent
registers stayed refused at every poll — one wrong register left every sensor of its read unread for good, each
then a `missing` fault, only `modbus error` counted (review40). Now a shared read refused so at two polls in a row is
split into each sensor's own, said once: the sensor whose register is missing is counted at each poll, its neighbours
are read from the second poll on (a device that refuses a read now and then — qa21's — is not split for one refusal).
Against pymodbus's own server, which refuses an address it does not hold."""
from __future__ import annotations

import logging

import pytest

from modbus_device import ModbusServer, polled as read

pytest.importorskip("pymodbus")


def test_a_register_the_device_lacks_between_adjacent_ones_costs_its_own_sensor_only(caplog):
    # b's register 1 is not there; a (0) and c (2) are: one read 0..2 without a gap
    with ModbusServer({0: 11, 2: 33}) as device, caplog.at_level(logging.WARNING, "stad.modbus"):
        polls, rejects = read(device.port, ["a", "b", "c"], polls=3, registers={"a": 0, "b": 1, "c": 2})
    assert polls == [{}] + [{"a": 11.0, "c": 33.0}] * 2, polls
    assert rejects.counts["modbus error"] == 3          # the shared read's first refusal, then b's own read
    said = [r.getMessage() for r in caplog.records if "refuses a read" in r.getMessage()]
    assert len(said) == 1 and "holding registers 0..2" in said[0], said


def test_a_32_bit_value_the_device_lacks_half_of_costs_its_own_sensor_only():
    # f is a float32 at 10..11, the device has 10 but not 11; g at 12 is there
    with ModbusServer({10: 0, 12: 7}) as device:
        polls, rejects = read(device.port, ["f", "g"], polls=3, registers={"f": 10, "g": 12},
                              data_types={"f": "float32"})
    assert polls == [{}] + [{"g": 7.0}] * 2, polls
    assert rejects.counts["modbus error"] == 3
