"""A Modbus TCP device that misbehaves the way field devices do, as a real TCP peer on 127.0.0.1: a few
lines of the framing, since pymodbus's own server always answers correctly. Every other request is
answered wrongly in one way (`FAULTS`), the others rightly (register value 7 everywhere), so a test sees
both that the fault is counted and that the source still delivers after it."""
from __future__ import annotations

import socket
import struct
import threading
import time

#: fault → what the device does with every other request
FAULTS = {
    "exception": "answers exception code 2 (illegal data address)",
    "close mid-frame": "sends the first 9 bytes of its answer and closes the connection",
    "short frame": "sends an answer 3 bytes short of its length field and waits",
    "slow": "answers after 1 s (the source's timeout is shorter)",
    "wrong unit": "answers from another unit id",
    "wrong transaction": "answers with another transaction id",
    "garbage": "answers 1 KiB of bytes that are no frame",
    "huge length": "answers with a length field of 65535",
    "reset": "resets the connection (RST: a PLC rebooting, or over its connection limit)",
}


class MisbehavingModbus:
    """Serves read-holding-registers; every other request meets `fault` (a key of FAULTS)."""

    def __init__(self, fault: str):
        assert fault in FAULTS, fault
        self.fault = fault
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
                pdu = struct.pack(">BB", function, 2 * count) + struct.pack(f">{count}H", *([7] * count))
                frame = struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu
                if self.requests % 2:
                    frame = self._wrong(conn, frame, tid, unit, function, pdu)
                    if frame is None:
                        return
                try:
                    conn.sendall(frame)
                except OSError:
                    return

    def _wrong(self, conn: socket.socket, frame: bytes, tid: int, unit: int, function: int, pdu: bytes) -> bytes | None:
        """The wrong answer to send, or None once the connection is closed."""
        fault = self.fault
        if fault == "exception":
            return struct.pack(">HHHBBB", tid, 0, 3, unit, function | 0x80, 2)
        if fault == "close mid-frame":
            conn.sendall(frame[:9])
            return None
        if fault == "short frame":
            return frame[:-3]
        if fault == "slow":
            time.sleep(1.0)
            return frame
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

    def close(self) -> None:
        self._closed = True
        self.server.close()
