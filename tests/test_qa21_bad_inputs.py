"""What a gateway's peers and recordings really hold, against the sources themselves (qa21's hunt for a single input
that stops a live source): a Modbus device that misbehaves in each of the ways field devices do, and
a byte-order mark ahead of a JSON line. Each is counted under its reason, said with where it came from,
and the source goes on delivering.

Found: a Modbus device that resets the connection (RST) raised pymodbus's ConnectionResetError out of
the source — its thread ended, and an agent with no other source stopped with exit 0, "input ended";
a JSON line or MQTT payload that starts with a byte-order mark (a file saved by Windows Notepad, a
PowerShell pipe) was rejected: a replay lost its first line; a stray quote in a CSV recording took the
lines after it into one field up to the csv module's limit: thousands of rows lost, counted once, at
the wrong line; an OPC UA source whose worker thread died (no file descriptor left for its asyncio
loop) waited for records for ever, the agent up and blind.
"""
from __future__ import annotations

import csv
import gc
import io
import os
import json
import logging
import socket
import time

import pytest

from agent.records import Rejects
from modbus_peers import FAULTS, MisbehavingModbus
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures
from mqtt_source_peer import mqtt_source_and_publisher

# The reason each fault is counted under: an answer the device gave but that holds no values
# ('modbus error'), or no usable answer at all (the connection is dropped and made again).
REASON = {fault: "modbus unreachable" for fault in FAULTS} | {"exception": "modbus error"}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_a_misbehaving_modbus_device_is_counted_and_the_source_goes_on(fault, caplog):
    pytest.importorskip("pymodbus")
    from agent.sources.modbus import ModbusConfig, ModbusSource
    device = MisbehavingModbus(fault)
    rejects = Rejects()
    source = ModbusSource(ModbusConfig(host="127.0.0.1", port=device.port, poll_s=0.05,
                                       registers={"a": 0, "b": 1}), ["a", "b"], rejects)
    records = source.records()
    where = f"modbus 127.0.0.1:{device.port}"
    try:
        with caplog.at_level(logging.WARNING):
            got = []
            deadline = time.monotonic() + 60
            # Until the fault has been met three times and the good answers between still came.
            while rejects.counts[REASON[fault]] < 3 or len(got) < 3:
                assert time.monotonic() < deadline, (fault, rejects.counts, len(got))
                got.append(next(records))       # old code, 'reset': ConnectionResetError out of the source
        assert {tuple(sorted(r.values.items())) for r in got} == {(("a", 7.0), ("b", 7.0))}
        assert all(r.origin == where for r in got)
        said = " ".join(r.getMessage() for r in caplog.records)
        assert where in said, said[-2000:]      # the device named, with what went wrong
    finally:
        source.close()
        list(records)
        device.close()


def test_a_stray_quote_in_a_csv_recording_costs_its_line_only(tmp_path):
    from agent.sources.replay import ReplayConfig, ReplaySource
    rows = ["timestamp,a,b"] + [f"{1767592800 + i},{i % 7}.5,{i % 3}.25" for i in range(20_000)]
    rows[5001] = rows[5001].replace(",", ',"', 1)       # line 5002: a quote opened, never closed
    path = tmp_path / "stray.csv"
    path.write_text("\n".join(rows) + "\n")
    rejects = Rejects()
    got = list(ReplaySource(ReplayConfig(path=str(path)), ["a", "b"], rejects).records())
    # Old code: 13,445 rows, one 'bad csv' at line 11556 ("field larger than field limit").
    assert len(got) == 19_999
    assert rejects.as_dict() == {"bad csv": 1}
    assert rejects.first["bad csv"][0] == "stray.csv:5002", rejects.first


BOM = "\ufeff"


def _line(ts: float, value: float) -> str:
    return json.dumps({"ts": ts, "a": value})


def test_a_byte_order_mark_does_not_cost_a_replays_first_line(tmp_path):
    from agent.sources.replay import ReplayConfig, ReplaySource
    path = tmp_path / "saved-by-notepad.jsonl"
    path.write_text(BOM + _line(1767592800, 1.0) + "\r\n" + _line(1767592801, 2.0) + "\r\n", encoding="utf-8")
    rejects = Rejects()
    source = ReplaySource(ReplayConfig(path=str(path)), ["a"], rejects)
    got = list(source.records())
    assert [r.values["a"] for r in got] == [1.0, 2.0], rejects.counts     # old code: 'bad json' on line 1
    assert rejects.total == 0


def test_a_byte_order_mark_on_stdin_and_in_a_datagram_is_no_bad_json():
    from agent.sources.stdin import StdinConfig, StdinSource
    from agent.sources.udp import UdpConfig, UdpSource
    now = time.time()
    rejects = Rejects()
    stdin = StdinSource(StdinConfig(), ["a"], rejects, stream=io.StringIO(BOM + _line(now, 3.0) + "\n"))
    assert [r.values for r in stdin.records()] == [{"a": 3.0}], rejects.counts

    udp = UdpSource(UdpConfig(port=0), ["a"], rejects)
    records = udp.records()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.sendto((BOM + _line(now, 4.0)).encode("utf-8"), ("127.0.0.1", udp.port))
        assert next(records).values == {"a": 4.0}, rejects.counts
    finally:
        udp.close()
        list(records)
    assert rejects.total == 0


def test_a_byte_order_mark_ahead_of_an_mqtt_reading_is_no_bad_payload(broker):
    with mqtt_source_and_publisher(broker.port, "qa21-bom") as (records, rejects, publish):
        publish("plant/a", (BOM + "42.5").encode())     # old code: bad payload
        publish("plant/any", (BOM + json.dumps({"b": 1.5})).encode())
        publish("plant/a", b"7")        # the last, in order on one session
        got = []
        while not got or got[-1] != (("a", 7.0),):
            got.append(tuple(next(records).values.items()))
        assert sorted(got) == [(("a", 7.0),), (("a", 42.5),), (("b", 1.5),)], rejects.counts
        assert rejects.total == 0, rejects.counts


# asyncio's loop, half made when its self-pipe found no descriptor, complains when it is collected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_opcua_source_whose_worker_cannot_start_fails_rather_than_waits_forever():
    # A real condition, not a stand-in: this process out of file descriptors (RLIMIT_NOFILE), so the
    # source's asyncio loop cannot make its epoll descriptor and self-pipe. The worker thread died with
    # that error and records() polled an empty queue for ever: an agent that looked up and was blind,
    # nothing counted (old code). Now records() raises it: the agent stops, exit 3, for systemd to restart.
    pytest.importorskip("asyncua")
    import resource
    import threading
    from agent.sources.opcua import OpcUaConfig, OpcUaSource
    from conftest import wait_until
    source = OpcUaSource(OpcUaConfig(url="opc.tcp://127.0.0.1:9/", nodes={"a": "ns=2;i=2"}), ["a"], Rejects())
    records = source.records()
    raised: list[BaseException] = []

    def consume() -> None:
        try:
            for _ in records:
                pass
        except Exception as exc:  # noqa: BLE001 — what the agent's source thread would see
            raised.append(exc)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, len(os.listdir("/proc/self/fd")) + 64), hard))
        with pytest.raises(OSError):
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()        # the worker starts at the first next(): with no descriptor left
        finished = wait_until(lambda: not consumer.is_alive(), timeout=15)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        source.close()
    assert finished, "the source went on waiting with its worker dead"
    assert raised and isinstance(raised[0], OSError), raised
    raised.clear()          # its traceback holds the half-made loop:
    gc.collect()            # collected here, not in a later test


# ---- the long form: random bytes where a recording's lines are (-m slow) ----------------------

_PIECES = [b",", b";", b'"', b"\r", b"\r\n", b"\x00", b"\xef\xbb\xbf", b"\xff", b"1e400", b"NaN", b"-0", b"9" * 400,
           b'{"ts": 1767592800, "a": 1}', b'{"ts": ', b"[" * 50, b"1767592800", b"2026-01-05T06:00:00Z", b" "]


def _holds_a_field(text: str) -> bool:
    """A CSV line read alone is more than one blank field (`""` and ` ` are a blank row: agent/sources/replay.py)."""
    row = next(csv.reader([text]), [])
    return len(row) > 1 or (len(row) == 1 and bool(row[0].strip()))


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_random_lines_in_a_recording_never_stop_the_replay_and_each_is_kept_or_counted(tmp_path, suffix):
    from hypothesis import HealthCheck, given, settings, strategies as st
    from agent.sources.replay import ReplayConfig, ReplaySource
    line = st.lists(st.one_of(st.sampled_from(_PIECES), st.binary(max_size=12)), max_size=8).map(b"".join)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=st.lists(line.filter(lambda b: b"\n" not in b), min_size=1, max_size=40))
    def replay(body):
        path = tmp_path / f"fuzz{suffix}"
        head = [b"timestamp,a"] if suffix == ".csv" else []
        path.write_bytes(b"\n".join(head + body) + b"\n")
        rejects = Rejects(log_first=1)
        got = list(ReplaySource(ReplayConfig(path=str(path)), ["a"], rejects).records())     # never raises
        # JSON lines: each line with something on it ('\r' ends one too) gives a record or is counted.
        # CSV: one that holds no field at all ('""', ' ': one blank field) is a blank row, skipped unsaid,
        # and a quote may join lines into one row, so only: something is said when a line holds a field.
        lines = [text for raw in body for text in raw.decode("utf-8", "replace").replace("\r\n", "\n")
                 .replace("\r", "\n").split("\n")]
        worth = sum(1 for text in lines if text.strip() and (suffix == ".jsonl" or _holds_a_field(text)))
        assert len(got) + rejects.total >= (worth if suffix == ".jsonl" else min(worth, 1)), (body, rejects.counts)

    replay()
