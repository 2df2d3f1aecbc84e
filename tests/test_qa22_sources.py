"""qa22: a socket error under the UDP source and a JSON record with a key twice, against the sources themselves.

Found: any OSError from the UDP source's receive ended its records() quietly, as if the input had ended —
a descriptor closed under it (not by close()) stopped the agent with exit 0, "input ended"; an ICMP error
queued on the socket (a harmless port-unreachable) did the same. And `{"value": 1, "value": 2}` kept the
last value, uncounted, on every JSON path (a JSON line on udp/stdin/replay, an MQTT payload).
"""
from __future__ import annotations

import json
import queue
import socket
import threading
import time

import pytest

from agent.records import Rejects
from conftest import wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures
from mqtt_source_peer import mqtt_source_and_publisher


def _line(ts: float, value: float) -> str:
    return json.dumps({"ts": ts, "sensor": "a", "value": value})


class _Drain:
    """records() of a source consumed by a thread: what it yielded, and how it ended (None or the error)."""

    def __init__(self, source):
        self.got: queue.Queue = queue.Queue()
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self._thread.start()

    def _run(self, source):
        try:
            for rec in source.records():
                self.got.put(rec)
        except BaseException as exc:        # noqa: BLE001 — the test reads it
            self.error = exc
        finally:
            self.ended.set()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_icmp_port_unreachable_on_the_udp_socket_is_counted_and_the_source_goes_on():
    from agent.sources.udp import UdpConfig, UdpSource
    rejects = Rejects()
    udp = UdpSource(UdpConfig(port=0), ["a"], rejects)
    drain = _Drain(udp)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # A real kernel error: the socket connected to a port nobody listens on, one datagram sent; the
        # ICMP port-unreachable that answers is reported (ECONNREFUSED) by the socket's next receive.
        udp.sock.connect(("127.0.0.1", _free_udp_port()))
        udp.sock.send(b"ping")
        assert wait_until(lambda: rejects.counts["udp receive error"] or drain.ended.is_set(), timeout=30)
        assert not drain.ended.is_set(), f"the source ended on a transient error: {drain.error!r}"
        assert rejects.counts["udp receive error"] == 1
        where, detail = rejects.first["udp receive error"]
        assert f":{udp.port}" in where and "ECONNREFUSED" in detail
        # Still listening: a peer it is connected to now is heard.
        peer.bind(("127.0.0.1", 0))
        udp.sock.connect(peer.getsockname())
        peer.sendto(_line(time.time(), 5.0).encode(), ("127.0.0.1", udp.port))
        assert drain.got.get(timeout=30).values == {"a": 5.0}
    finally:
        peer.close()
        udp.close()
        drain.ended.wait(30)
    assert drain.error is None, drain.error


def test_a_udp_socket_closed_under_the_source_is_a_failure_not_an_end():
    from agent.sources.udp import UdpConfig, UdpSource
    rejects = Rejects()
    udp = UdpSource(UdpConfig(port=0), ["a"], rejects)
    port = udp.port
    drain = _Drain(udp)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        out.sendto(_line(time.time(), 1.0).encode(), ("127.0.0.1", port))
        assert drain.got.get(timeout=30).values == {"a": 1.0}     # receiving, before the fault
    udp.sock.close()            # not close(): something else took the descriptor away (EBADF)
    assert drain.ended.wait(30)
    assert isinstance(drain.error, OSError), "the old code ended quietly, as if the input had ended"
    assert f"udp source :{port}" in str(drain.error) and "receive failed" in str(drain.error)


def test_close_still_ends_the_udp_source_quietly():
    from agent.sources.udp import UdpConfig, UdpSource
    udp = UdpSource(UdpConfig(port=0), ["a"], Rejects())
    drain = _Drain(udp)
    udp.close()
    assert drain.ended.wait(30)
    assert drain.error is None


@pytest.mark.parametrize("line, key", [
    ('{"ts": 1767592800, "sensor": "a", "value": 1, "value": 2}', "value"),
    ('{"ts": 1767592800, "values": {"a": 1, "b": 3, "a": 2}}', "a"),
    ('{"ts": 1767592800, "ts": 1767592801, "a": 1}', "ts"),
])
def test_a_json_line_with_a_key_twice_is_rejected_and_names_the_key(line, key):
    from agent.sources.lines import parse_json_line
    rejects = Rejects()
    assert parse_json_line(line, "replay x.jsonl:7", rejects) is None       # old code: kept the last value
    assert rejects.counts == {"duplicate key": 1}
    where, detail = rejects.first["duplicate key"]
    assert where == "replay x.jsonl:7" and repr(key) in detail


def test_a_replayed_file_counts_a_line_with_a_key_twice_at_its_line(tmp_path):
    from agent.sources.replay import ReplayConfig, ReplaySource
    path = tmp_path / "r.jsonl"
    path.write_text(_line(1767592800, 1.0) + "\n"
                    + '{"ts": 1767592801, "sensor": "a", "value": 1, "value": 2}\n'
                    + _line(1767592802, 3.0) + "\n")
    rejects = Rejects()
    source = ReplaySource(ReplayConfig(path=str(path)), ["a"], rejects, base_dir=str(tmp_path))
    assert [r.values["a"] for r in source.records()] == [1.0, 3.0]
    assert rejects.counts == {"duplicate key": 1}
    where, detail = rejects.first["duplicate key"]
    assert where.endswith(":2") and "'value'" in detail


def test_an_mqtt_payload_with_a_key_twice_is_rejected_and_names_key_and_topic(broker):
    with mqtt_source_and_publisher(broker.port, "qa22-dup") as (records, rejects, publish):
        publish("plant/a", b'{"value": 1, "value": 2}')
        publish("plant/any", b'{"b": 1, "b": 2}')
        publish("plant/a", b"7")        # the last, in order on one session
        assert next(records).values == {"a": 7.0}, rejects.counts
        assert rejects.counts == {"duplicate key": 2}
        where, detail = rejects.first["duplicate key"]
        assert where == "mqtt plant/a" and "'value'" in detail
