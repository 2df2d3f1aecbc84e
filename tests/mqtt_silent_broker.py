"""An MQTT 5 broker that takes every PUBLISH and acknowledges none, as a real TCP peer on 127.0.0.1: a few lines of
the protocol (CONNACK, PINGRESP), since Mosquitto always acknowledges. Its store stuck, or a proxy that keeps the
connection and loses what goes through it: the keep-alive is answered, so the client sees a healthy connection.
From connection `acks_from` on (1-based; None: never) it acknowledges every QoS 1 PUBLISH, as a broker back to
health does. It counts connections and the alert events each one carried (their `alert_id` and `seq`)."""
from __future__ import annotations

import json
import socket
import threading

CONNECT, PUBLISH, PINGREQ, DISCONNECT = 1, 3, 12, 14


def _read_packet(conn: socket.socket) -> tuple[int, bytes] | None:
    """(first byte, rest of the packet), or None when the connection ended."""
    def exactly(n: int) -> bytes | None:
        data = conn.recv(n, socket.MSG_WAITALL) if n else b""     # (fewer bytes only at the stream's end)
        return data if len(data) == n else None
    head = exactly(1)
    if head is None:
        return None
    length, shift = 0, 0
    while True:
        byte = exactly(1)
        if byte is None:
            return None
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    body = exactly(length)
    return None if body is None else (head[0], body)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


class SilentBroker:
    def __init__(self, acks_from: int | None = None):
        self.acks_from = acks_from
        self.connections = 0
        self.events: list[tuple[int, str, int]] = []      # (connection, alert_id, seq) of each alert event received
        self._lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        number = None
        with conn:
            while True:
                try:
                    packet = _read_packet(conn)
                    if packet is None:
                        return
                    first, body = packet
                    kind = first >> 4
                    if kind == CONNECT:
                        with self._lock:
                            self.connections += 1
                            number = self.connections
                        conn.sendall(bytes([0x20, 3, 0, 0, 0]))          # CONNACK: accepted, no properties
                    elif kind == PINGREQ:
                        conn.sendall(bytes([0xD0, 0]))
                    elif kind == PUBLISH:
                        self._publish(conn, number, first, body)
                    elif kind == DISCONNECT:
                        return
                except OSError:
                    return

    def _publish(self, conn: socket.socket, number: int, first: int, body: bytes) -> None:
        topic_len = int.from_bytes(body[:2], "big")
        topic = body[2:2 + topic_len].decode()
        at = 2 + topic_len
        qos = (first >> 1) & 3
        packet_id = body[at:at + 2] if qos else b""
        at += 2 if qos else 0
        props, at = _varint(body, at)
        if topic.endswith("/alerts"):
            event = json.loads(body[at + props:])
            with self._lock:
                self.events.append((number, event["alert_id"], event["seq"]))
        if qos == 1 and self.acks_from is not None and number >= self.acks_from:
            conn.sendall(bytes([0x40, 2]) + packet_id)                   # PUBACK: success

    def close(self) -> None:
        self.server.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


class MuteListener:
    """A TCP peer on 127.0.0.1 that accepts every connection and never sends a byte: a proxy or load balancer with no
    broker behind it. `accepted`: the connections it took; close() ends them all."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.server.close()
        for conn in self.accepted:
            conn.close()
