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


def test_a_registers_last_value_short_of_its_rail_is_within_the_range_it_implies():
    # user34's implied range (agent/register_ranges.py) is the register's values short of its rails, times the scale:
    # rounded as the reading is, or 65534 × 0.7 (45873.799999999996) would put the reading 45873.8 past its own max,
    # an `out_of_range` fault on a value the register can hold
    from agent.config import SensorSpec
    from agent.register_ranges import with_register_ranges
    from agent.sources.modbus import ModbusConfig
    registers = {"level": 10, "temp": 11}
    cfg = dict(registers=registers, data_types={"temp": "int16"}, scale={"level": 0.7, "temp": 0.7})
    [level, temp] = with_register_ranges([SensorSpec(name="level"), SensorSpec(name="temp")],
                                         [ModbusConfig(host="127.0.0.1", port=502, **cfg)])
    with ModbusServer({**at(10, [65534]), **at(11, words(">h", 32766)), **at(12, words(">h", -32767))}) as device:
        got, _ = read(device.port, ["level", "temp"], polls=1, **cfg)
        low, _ = read(device.port, ["temp"], polls=1, registers={"temp": 12}, data_types={"temp": "int16"},
                      scale={"temp": 0.7})
    assert got[0]["level"] == level.max and got[0]["temp"] == temp.max and low[0]["temp"] == temp.min, \
        (got, low, level, temp)
    assert not level.note_for(got[0]["level"]) and not temp.note_for(low[0]["temp"])
