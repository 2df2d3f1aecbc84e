"""Modbus registers as a real PLC or meter holds them (review20 finding 8): a signed int16, 32-bit
integers and IEEE float32 across two registers in either word order, and input registers (function 4)
beside holding ones — decoded from what a real pymodbus server holds, the words computed here with
`struct`. On the old code every value was one unsigned holding register: a -5.0 °C int16 read 6548.6."""
from __future__ import annotations

import math
import struct

import pytest

from modbus_device import ModbusServer, at, read, words

pytest.importorskip("pymodbus")


# what each sensor holds, its type, and the value read back (a float32's is the float32 nearest it)
CASES = {
    "temp": ("int16", ">h", -50, 0.1, -50 * 0.1),                 # -5.0 °C, the review's example
    "level": ("uint16", ">H", 60000, 1.0, 60000.0),
    "energy": ("uint32", ">I", 3_000_000_123, 1.0, 3_000_000_123.0),
    "offset": ("int32", ">i", -123_456_789, 0.01, -123_456_789 * 0.01),
    "flow": ("float32", ">f", 3.14159, 1.0, struct.unpack(">f", struct.pack(">f", 3.14159))[0]),
    "cold": ("float32", ">f", -273.5, 1.0, -273.5),
}


@pytest.mark.parametrize("word_order", ["ABCD", "CDAB"])
def test_each_type_is_decoded_from_the_registers_the_device_holds(word_order):
    # Packed tight (each value right after the last: a 16-bit value beside a 32-bit one), all in one read.
    holding, registers, address = {}, {}, 10
    for sensor, (_, fmt, raw, _, _) in CASES.items():
        held = words(fmt, raw, word_order)
        holding.update(at(address, held))
        registers[sensor] = address
        address += len(held)
    with ModbusServer(holding) as device:
        got, rejects = read(device.port, list(CASES), registers=registers, word_order=word_order,
                            data_types={s: c[0] for s, c in CASES.items() if c[0] != "uint16"},
                            scale={s: c[3] for s, c in CASES.items() if c[3] != 1.0})
    for values in got:
        assert values == pytest.approx({s: c[4] for s, c in CASES.items()}, rel=1e-12), values
    assert rejects.as_dict() == {}


def test_the_default_is_unchanged_one_unsigned_holding_register():
    # No data_types, no table: what the source always read (an int16 -50 is 65486 unsigned, ×0.1).
    with ModbusServer(at(100, words(">h", -50) + [7])) as device:
        got, rejects = read(device.port, ["temp", "other"], registers={"temp": 100, "other": 101},
                            scale={"temp": 0.1})
    assert got == [{"temp": pytest.approx(6548.6), "other": 7.0}] * 2
    assert rejects.as_dict() == {}


def test_input_registers_source_wide_and_per_sensor():
    # One address, two tables, two values: which one a sensor gets says which table was read.
    holding = at(20, words(">f", 1.5))
    inputs = at(20, words(">f", -2.25)) | at(30, words(">h", -7))
    with ModbusServer(holding, inputs) as device:
        got, rejects = read(device.port, ["a", "b"], table="input", registers={"a": 20, "b": 30},
                            data_types={"a": "float32", "b": "int16"})
        assert got == [{"a": -2.25, "b": -7.0}] * 2 and rejects.as_dict() == {}
        got, rejects = read(device.port, ["in", "held"], registers={"in": 20, "held": 20},
                            tables={"in": "input"}, data_types={"in": "float32", "held": "float32"})
        assert got == [{"in": -2.25, "held": 1.5}] * 2 and rejects.as_dict() == {}


def test_a_32_bit_value_at_the_end_of_a_full_read_is_never_split():
    # Sensors every 8 registers from 0 to 120 share one read; a float32 at 124..125 would make it 126
    # registers, over the 125 of one request: it goes to a read of its own, whole. Read without its
    # width it joined the first read as register 124 alone, and its low word was never read.
    singles = {f"s{a}": a for a in range(0, 121, 8)}
    holding = {a: a for a in range(0, 126)} | at(124, words(">f", 42.75))
    with ModbusServer(holding) as device:
        got, rejects = read(device.port, [*singles, "f"], registers=singles | {"f": 124}, data_types={"f": "float32"})
    assert got == [{s: float(a) for s, a in singles.items()} | {"f": 42.75}] * 2
    assert rejects.as_dict() == {}


def test_register_spans_hold_each_value_whole():
    from agent.sources.modbus import register_spans
    assert register_spans([0, 123], max_gap=200, widths={123: 2}) == [(0, 125)]
    assert register_spans([0, 124], max_gap=200, widths={124: 2}) == [(0, 1), (124, 2)]
    assert register_spans([10, 12], widths={10: 2, 12: 2}) == [(10, 4)]
    assert register_spans([10, 11], widths={10: 2}) == [(10, 2)]


@pytest.mark.parametrize("fmt, raw", [(">f", math.nan), (">f", math.inf), (">f", -math.inf)])
def test_a_float32_that_is_not_finite_is_counted_naming_sensor_and_register(fmt, raw):
    with ModbusServer(at(40, words(fmt, raw)) | at(42, [5])) as device:
        got, rejects = read(device.port, ["flow", "ok"], registers={"flow": 40, "ok": 42}, data_types={"flow": "float32"})
    assert got == [{"ok": 5.0}] * 2
    assert rejects.counts["non-finite value"] >= 2 and set(rejects.counts) == {"non-finite value"}
    where, detail = rejects.first["non-finite value"]
    assert where == f"modbus 127.0.0.1:{device.port}"
    assert detail.startswith("flow: float32 at holding registers 40..41 reads ") and detail.endswith("; not used")


def test_a_scale_that_overflows_a_float32_is_counted_too():
    with ModbusServer(at(0, words(">f", 3e38)) | {2: 1}) as device:
        got, rejects = read(device.port, ["big", "x"], polls=1, registers={"big": 0, "x": 2},
                            data_types={"big": "float32"}, scale={"big": 1e300})
    assert rejects.counts["non-finite value"] >= 1
    assert "big" not in got[0]
