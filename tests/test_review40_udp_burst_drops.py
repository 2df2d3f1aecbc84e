"""A burst of datagrams that overflows the udp source's receive buffer, then silence: the kernel's drops are counted
(`kernel drop`) while the sender stays silent, and at the stop (review40). The source read them from SO_RXQ_OVFL,
which rides on a datagram queued after the drops: the burst's own datagrams were queued before the buffer filled, so
until the next datagram — for good, when the sender stopped or the agent did — the drops were counted nowhere
(19,834 of 20,000 datagrams gone, the summary's rejects empty). Now the socket's own drop count (SO_MEMINFO) is read
whenever a receive waits and at the stop. Real sockets on 127.0.0.1, the kernel's real buffer."""
from __future__ import annotations

import json
import socket
import threading

from agent.records import Rejects
from agent.sources.udp import UdpConfig, UdpSource
from conftest import wait_until

BURST = 20_000      # far past the receive buffer `small` leaves (a few dozen of these datagrams)


def small(source: UdpSource) -> UdpSource:
    """The source's socket with a small receive buffer, so that the burst overflows it whatever this host's default."""
    source.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    return source


def burst(port: int) -> None:
    """BURST one-line datagrams, sent faster than anything reads them (nothing reads them yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(BURST):
            tx.sendto((json.dumps({"ts": 1_767_600_000 + i, "a": 1.0}) + " " * 200).encode(), ("127.0.0.1", port))


def test_a_burst_that_overflowed_the_buffer_is_counted_while_the_sender_is_silent():
    rejects = Rejects()
    source = small(UdpSource(UdpConfig(port=0), ["a"], rejects))
    burst(source.port)                  # the source's thread has not read yet: the kernel keeps what fits
    got = []
    records = source.records()
    reader = threading.Thread(target=lambda: got.extend(records), daemon=True)
    reader.start()
    try:
        # every datagram read or counted, with no datagram sent after the burst
        assert wait_until(lambda: len(got) + rejects.counts["kernel drop"] == BURST, 60), \
            (len(got), dict(rejects.counts))
        assert 0 < len(got) < BURST and set(rejects.counts) == {"kernel drop"}, (len(got), dict(rejects.counts))
    finally:
        source.close()
        reader.join(30)


def test_a_burst_dropped_just_before_the_stop_is_counted_by_it():
    rejects = Rejects()
    source = small(UdpSource(UdpConfig(port=0), ["a"], rejects))
    burst(source.port)
    source.close()                      # the stop, before the source's thread read anything
    assert list(source.records()) == []
    counts = rejects.as_dict()
    assert counts.get("unread at stop", 0) + counts.get("kernel drop", 0) == BURST, counts
    assert counts.get("kernel drop", 0) > 0, counts
