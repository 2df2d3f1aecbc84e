"""A TCP relay between MQTT clients and a real broker that can drop one kind of control packet from the clients.

Why: to put a client before a broker that does not answer a packet it must answer (an UNSUBSCRIBE: MQTT requires an
UNSUBACK, a broker that holds the connection and never sends one exists only as a defect or a hang), while every
other packet — CONNECT, SUBSCRIBE, PINGREQ — reaches the real broker and is answered by it. Bytes are relayed as
they are; only the client-to-broker direction is cut into packets (fixed header, remaining length), to drop those of
the type asked. 127.0.0.1 only.
"""
from __future__ import annotations

import socket
import threading

UNSUBSCRIBE = 10            # MQTT control packet type (the fixed header's high nibble)


class DroppingRelay:
    def __init__(self, broker_port: int, drop_type: int):
        self.broker_port = broker_port
        self.drop_type = drop_type
        self.dropped = 0                    # packets of drop_type not passed on
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = [self._server]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return                      # closed
            try:
                broker = socket.create_connection(("127.0.0.1", self.broker_port), timeout=10)
            except OSError:
                client.close()
                continue
            broker.settimeout(None)
            with self._lock:
                self._sockets += [client, broker]
            threading.Thread(target=self._copy, args=(broker, client), daemon=True).start()
            threading.Thread(target=self._packets, args=(client, broker), daemon=True).start()

    @staticmethod
    def _read(sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _copy(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        self._close(src, dst)

    def _packets(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                header = self._read(src, 1)
                length_bytes, length, shift = b"", 0, 0
                while True:                 # the remaining length: 1 to 4 bytes, 7 bits each
                    byte = self._read(src, 1)
                    length_bytes += byte
                    length |= (byte[0] & 0x7F) << shift
                    shift += 7
                    if not byte[0] & 0x80:
                        break
                body = self._read(src, length)
                if header[0] >> 4 == self.drop_type:
                    with self._lock:
                        self.dropped += 1
                    continue
                dst.sendall(header + length_bytes + body)
        except (OSError, ConnectionError):
            pass
        self._close(src, dst)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            socks = list(self._sockets)
        for sock in socks:
            self._close(sock)
            sock.close()
