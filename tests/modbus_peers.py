"""A Modbus TCP device that misbehaves the way field devices do, as a real TCP peer on 127.0.0.1: a few
lines of the framing, since pymodbus's own server always answers correctly. Every other request is
answered wrongly in one way (`FAULTS`), the others rightly (register value 7 everywhere), so a test sees
both that the fault is counted and that the source still delivers after it."""
from __future__ import annotations

import socket
import struct
import select
import threading

#: fault → what the device does with every other request
FAULTS = {
    "exception": "answers exception code 2 (illegal data address)",
    "close mid-frame": "sends the first 9 bytes of its answer and closes the connection",
    "short frame": "sends an answer 3 bytes short of its length field and waits",
    "slow": "answers only once the source has stopped waiting (closed its end) or after 30 s",
    "wrong unit": "answers from another unit id",
    "wrong transaction": "answers with another transaction id",
    "garbage": "answers 1 KiB of bytes that are no frame",
    "huge length": "answers with a length field of 65535",
    "reset": "resets the connection (RST: a PLC rebooting, or over its connection limit)",
}


#: how long the "slow" device waits for the source to give up before it answers anyway (a generous deadline)
LATE_DEADLINE_S = 30.0


class ModbusPeer:
    """A Modbus TCP device on a free 127.0.0.1 port that reads each request's 12-byte header
    (read-holding-registers) and sends what `answer` returns: the right frame by default (register
    value 7 everywhere), or None to close the connection."""

    def __init__(self):
        self.requests = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
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
                    try:
                        chunk = conn.recv(12 - len(head))
                    except OSError:
                        return
                    if not chunk:
                        return
                    head += chunk
                tid, _, _, unit, function, start, count = struct.unpack(">HHHBBHH", head)
                self.requests += 1
                frame = self.answer(conn, tid, unit, function, start, count)
                if frame is None:
                    return
                try:
                    conn.sendall(frame)
                except OSError:
                    return

    def answer(self, conn: socket.socket, tid: int, unit: int, function: int, start: int, count: int) -> bytes | None:
        return frame(tid, unit, function, count)

    def close(self) -> None:
        self._closed = True
        self.server.close()


def frame(tid: int, unit: int, function: int, count: int, value: int = 7) -> bytes:
    """A read's answer of `count` registers, each `value`, under `function`."""
    pdu = struct.pack(">BB", function, 2 * count) + struct.pack(f">{count}H", *([value] * count))
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


class MisbehavingModbus(ModbusPeer):
    """Every other request meets `fault` (a key of FAULTS); the others are answered rightly."""

    def __init__(self, fault: str):
        assert fault in FAULTS, fault
        self.fault = fault
        super().__init__()

    def answer(self, conn, tid, unit, function, start, count):
        right = frame(tid, unit, function, count)
        return self._wrong(conn, right, tid, unit, function) if self.requests % 2 else right

    def _wrong(self, conn: socket.socket, right: bytes, tid: int, unit: int, function: int) -> bytes | None:
        """The wrong answer to send instead of `right`, or None once the connection is closed."""
        fault, pdu = self.fault, right[7:]
        if fault == "exception":
            return struct.pack(">HHHBBB", tid, 0, 3, unit, function | 0x80, 2)
        if fault == "close mid-frame":
            conn.sendall(right[:9])
            return None
        if fault == "short frame":
            return right[:-3]
        if fault == "slow":     # wait on the condition, not a fixed time: the source gives up and closes
            select.select([conn], [], [], LATE_DEADLINE_S)
            return right
        if fault == "wrong unit":
            return struct.pack(">HHHB", tid, 0, len(pdu) + 1, (unit + 1) % 256) + pdu
        if fault == "wrong transaction":
            return struct.pack(">HHHB", (tid + 7) % 65536, 0, len(pdu) + 1, unit) + pdu
        if fault == "garbage":
            return bytes(range(256)) * 4
        if fault == "huge length":
            return struct.pack(">HHHB", tid, 0, 65535, unit) + pdu
        if fault == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None
        raise AssertionError(fault)
