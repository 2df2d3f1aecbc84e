"""Datagrams the kernel still holds for the udp source's socket when the agent stops are counted, not lost in silence.

bench/fuzz.py's udp run (chaos1: 2000 datagrams/s at a load of 25 on 2 cores) found datagrams sent that the
agent's summary neither took in nor rejected. A stop closed the socket with whatever the kernel had queued for
it: records the intake refuses once the stop is set are counted (`dropped_at_stop`), these were not. Now the
source's close() reads what is left, without waiting for more, and counts each of its lines `unread at stop`
(and the kernel drops their ancillary data reports). Real sockets: the datagrams are in the kernel's buffer."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

from agent.records import Rejects
from agent.sources.udp import UdpConfig, UdpSource
from conftest import wait_until


def send(port: int, payloads: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for p in payloads:
            tx.sendto(p, ("127.0.0.1", port))


def queued(source: UdpSource) -> int:
    """Bytes of the next datagram the kernel holds for the source (0: none), without reading it."""
    try:
        return len(source.sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, TimeoutError):       # (the socket's own 0.2-s timeout: nothing came)
        return 0


def test_datagrams_queued_at_a_stop_are_counted(tmp_path):
    rejects = Rejects()
    source = UdpSource(UdpConfig(port=0), ["a"], rejects)
    two_lines = (json.dumps({"ts": 1700000001, "a": 1}) + "\n" + json.dumps({"ts": 1700000002, "a": 2})).encode()
    send(source.port, [json.dumps({"ts": 1700000000, "a": 0}).encode(), two_lines, b"\n \n"])
    assert wait_until(lambda: queued(source) > 0, 60)
    source.close()                     # the stop came before the source's thread read them
    assert list(source.records()) == []
    assert rejects.as_dict() == {"unread at stop": 3}, rejects.as_dict()


def test_a_stop_while_reading_counts_every_datagram_once():
    rejects = Rejects()
    source = UdpSource(UdpConfig(port=0), ["a"], rejects)
    got = []
    started = threading.Event()

    def pump():
        for rec in source.records():
            got.append(rec)
            started.set()
            threading.Event().wait(0.05)       # a slow loop: the kernel keeps the rest queued

    worker = threading.Thread(target=pump, daemon=True)
    worker.start()
    send(source.port, [json.dumps({"ts": 1700000000 + i, "a": i}).encode() for i in range(40)])
    assert started.wait(60)
    source.close()
    worker.join(30)
    assert not worker.is_alive()
    counted = rejects.as_dict()
    assert set(counted) <= {"unread at stop"} and len(got) + counted.get("unread at stop", 0) == 40, (len(got), counted)



FLOODER = """
import socket, sys
line = b'{"ts": 1700000000, "a": 1}'
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
    while True:
        tx.sendto(line, ("127.0.0.1", int(sys.argv[1])))
"""


def test_a_stop_during_a_flood_returns():
    """Senders that do not stop (three processes, as fast as they can): close() reads what the kernel holds for a
    moment (UNREAD_READ_S), not for as long as datagrams keep coming — those came after the stop began. (Here one
    Python reader keeps up with three Python senders on 2 cores, so the unbounded read returned too; a sender at line
    rate would not let it: the bound is for that.)"""
    rejects = Rejects()
    source = UdpSource(UdpConfig(port=0), ["a"], rejects)
    flooders = [subprocess.Popen([sys.executable, "-c", FLOODER, str(source.port)]) for _ in range(3)]
    flooder = flooders[0]
    closer = threading.Thread(target=source.close, daemon=True)
    try:
        assert wait_until(lambda: queued(source) > 0, 60, flooder)
        closer.start()
        closer.join(30)
        assert not closer.is_alive(), "close() still reading the flood after 30 s"
    finally:
        for f in flooders:
            f.kill()
            f.wait(30)
        if closer.ident is not None:
            closer.join(30)
    assert rejects.as_dict().get("unread at stop", 0) > 0, rejects.as_dict()
