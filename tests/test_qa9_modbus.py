"""Modbus devices that misbehave, as a real TCP peer on 127.0.0.1 (a few lines of the Modbus TCP
framing, since pymodbus's own server always answers correctly): a read answered with fewer
registers than asked for, or with another function, is counted as 'modbus error' and none of its
values is used; the other reads of the poll still deliver."""
from __future__ import annotations

import pytest

from agent.records import Rejects
from conftest import wait_until
from modbus_peers import ModbusPeer, frame


class MisbehavingDevice(ModbusPeer):
    """Answers read-holding-registers (function 3) with register value 7 everywhere; with one register
    too few for a read starting at `short_at`, and as function 4 (input registers) for one starting at
    `other_function_at`."""

    def __init__(self, short_at: int | None = None, other_function_at: int | None = None):
        self.short_at = short_at
        self.other_function_at = other_function_at
        super().__init__()

    def answer(self, conn, tid, unit, function, start, count):
        return frame(tid, unit, 4 if start == self.other_function_at else function,
                     count - 1 if start == self.short_at else count)


@pytest.mark.parametrize("device_kwargs", [{"short_at": 0}, {"other_function_at": 0}], ids=["short", "function 4"])
def test_a_wrong_answer_is_counted_and_none_of_its_values_is_used(device_kwargs):
    # short: on the old code the two registers of the short read were zipped onto three addresses: 'c'
    # went missing at every poll with no count and no log line, and 'a', 'b' took whatever came.
    # function 4: pymodbus takes an input-registers answer (function 4) to a holding-registers read (3)
    # as the answer: on the old code its values were used as the holding registers' (qa9, found and left).
    pytest.importorskip("pymodbus")
    from agent.sources.modbus import ModbusConfig, ModbusSource
    device = MisbehavingDevice(**device_kwargs)
    rejects = Rejects()
    source = ModbusSource(ModbusConfig(host="127.0.0.1", port=device.port, poll_s=0.05,
                                       registers={"a": 0, "b": 1, "c": 2, "far": 40}), ["a", "b", "c", "far"], rejects)
    records = source.records()
    try:
        got = [next(records) for _ in range(3)]
        assert [r.values for r in got] == [{"far": 7.0}] * 3
        assert wait_until(lambda: rejects.counts["modbus error"] >= 3)
        assert "modbus unreachable" not in rejects.counts
    finally:
        source.close()
        list(records)
        device.close()
