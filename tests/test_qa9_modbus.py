"""Modbus devices that misbehave, as a real TCP peer on 127.0.0.1 (a few lines of the Modbus TCP
framing, since pymodbus's own server always answers correctly): a read answered with fewer
registers than asked for, or with another function, is counted as 'modbus error' and none of its
values is used; the other reads of the poll still deliver."""
from __future__ import annotations

import socket
import struct
import threading

import pytest

from agent.records import Rejects
from conftest import wait_until


class MisbehavingDevice:
    """Answers read-holding-registers (function 3) with register value 7 everywhere; with one register
    too few for a read starting at `short_at`, and as function 4 (input registers) for one starting at
    `other_function_at`."""

    def __init__(self, short_at: int | None = None, other_function_at: int | None = None):
        self.short_at = short_at
        self.other_function_at = other_function_at
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                head = b""
                while len(head) < 12:
                    chunk = conn.recv(12 - len(head))
                    if not chunk:
                        return
                    head += chunk
                tid, _, _, unit, function, start, count = struct.unpack(">HHHBBHH", head)
                n = count - 1 if start == self.short_at else count
                function = 4 if start == self.other_function_at else function
                pdu = struct.pack(">BB", function, 2 * n) + struct.pack(f">{n}H", *([7] * n))
                conn.sendall(struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu)

    def close(self) -> None:
        self.stopped = True
        self.server.close()


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
