"""qa53 (user34's left item): a reading scaled from an integer register carried binary floating point's noise of the
product — register 3841 at scale 0.01 was 38.410000000000004 in recordings and alert evidence. A register holds an
integer; at its scale it means that integer times the scale, to the scale's decimals: the source now says 38.41, bit
for bit the float that literal is. A float32 register is passed as it decodes (its own precision, no scale decimals).

A real Modbus device (pymodbus's own server) and the real source."""
from __future__ import annotations

import struct

import pytest

from modbus_device import ModbusServer, at, read, words

pytest.importorskip("pymodbus")


def test_an_integer_register_times_its_scale_is_the_value_at_the_registers_resolution():
    holding = {**at(10, [3841]), **at(11, words(">h", -7)), **at(12, words(">i", 123_456_789)), **at(14, [3]),
               **at(15, [12]), **at(16, words(">f", 0.1))}
    sensors = ["level", "temp", "energy", "thirds", "tens", "ratio"]
    with ModbusServer(holding) as device:
        got, rejects = read(device.port, sensors, polls=1,
                            registers={"level": 10, "temp": 11, "energy": 12, "thirds": 14, "tens": 15, "ratio": 16},
                            data_types={"temp": "int16", "energy": "int32", "ratio": "float32"},
                            scale={"level": 0.01, "temp": 0.1, "energy": 0.001, "thirds": 0.3, "tens": 10,
                                   "ratio": 0.1})
    values = got[0]
    assert 3841 * 0.01 != 38.41 and -7 * 0.1 != -0.7 and 3 * 0.3 != 0.9     # the noise this is about
    # bit for bit the literal: repr is what a recording and an alert's evidence write
    assert [repr(values[s]) for s in ("level", "temp", "energy", "thirds", "tens")] == \
        ["38.41", "-0.7", "123456.789", "0.9", "120.0"], values
    # a float32 register keeps its own value times the scale, unrounded
    assert values["ratio"] == struct.unpack(">f", struct.pack(">f", 0.1))[0] * 0.1
    assert rejects.as_dict() == {}
