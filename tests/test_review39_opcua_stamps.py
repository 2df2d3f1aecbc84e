"""One OPC UA node's SourceTimestamp never moves the other sensors' stamps (review38's left item, fixed by review39).

agent/sources/opcua_session.py `_data` set the server's clock offset (the stamp of a held value: host + offset) from
every change of any node. A server that leaves one node's SourceTimestamp unset (OPC UA's DateTime 0, 1601-01-01)
put that node's records in 1601 (`bad timestamp`, the sensor never read) and every held value of every sensor with
them; one device whose clock is an hour off moved every held value an hour (`clock skew`, the quiet sensors told
missing). Now a stamp before 1970 (or past 2100) is no stamp: the change is read at its arrival, said once with the
node named; and each node keeps its own offset: a held value is stamped on its own node's clock (the median of the
others' for a node that has not changed yet). Real parts: the OPC UA source against tests/opcua_server.py (`stamp
NAME unset|S`), records read as the agent's source thread reads them."""
from __future__ import annotations

import logging
import time

import pytest

from agent.records import Rejects
from conftest import wait_until
from opcua_agent import Reader, config, server  # noqa: F401 — server: a pytest fixture, the process's shared server

pytest.importorskip("asyncua", reason="the opcua extra is not installed")
from agent.sources.opcua import OpcUaSource  # noqa: E402

#: a stamp this far from this host's clock is not the host's (the test's own slack on a loaded machine)
NEAR_S = 120.0


def _held_since(reader: Reader, sensor: str, since: int) -> list:
    return [r for r in list(reader.records)[since:] if r.held and sensor in r.values]


def test_an_unset_source_timestamp_is_read_at_arrival_and_moves_no_other_sensor(server, caplog):
    server.command("stamp pressure unset")
    rejects = Rejects()
    reader = Reader(OpcUaSource(config(server.port), ["pressure", "temp_motor"], rejects))
    try:
        with caplog.at_level(logging.WARNING, logger="stad.opcua"):
            assert wait_until(lambda: reader.sensors() == {"pressure", "temp_motor"}, 60), rejects.as_dict()
            server.command("hold temp_motor")       # its value holds: held records, stamped on the offset
            since = len(reader.records)
            assert wait_until(lambda: len(_held_since(reader, "temp_motor", since)) >= 3, 60), rejects.as_dict()
        now = time.time()
        pressure = [r.ts for r in list(reader.records) if "pressure" in r.values]
        assert pressure and all(abs(ts - now) < NEAR_S for ts in pressure), pressure[:5]
        held = [r.ts for r in _held_since(reader, "temp_motor", since)]
        assert all(abs(ts - now) < NEAR_S for ts in held), held[:5]
        said = [r.getMessage() for r in caplog.records if "nodes.pressure" in r.getMessage()
                and "1601-01-01" in r.getMessage()]
        assert len(said) == 1, [r.getMessage() for r in caplog.records]
    finally:
        reader.close()


def test_one_node_with_a_skewed_clock_keeps_its_own_offset(server):
    server.command("stamp pressure 3600")           # its device's clock an hour ahead; temp_motor's is the server's
    rejects = Rejects()
    reader = Reader(OpcUaSource(config(server.port), ["pressure", "temp_motor"], rejects))
    try:
        # a change of each on its own clock (a first notification may carry the stored value's older stamp)
        assert wait_until(lambda: any(abs(r.ts - time.time() - 3600) < NEAR_S for r in list(reader.records))
                          and any(abs(r.ts - time.time()) < NEAR_S and "temp_motor" in r.values
                                  for r in list(reader.records)[1:]), 60), rejects.as_dict()
        server.command("hold temp_motor")
        server.command("hold pressure")
        since = len(reader.records)
        assert wait_until(lambda: all(len(_held_since(reader, s, since)) >= 3 for s in ("pressure", "temp_motor")),
                          60), (rejects.as_dict(), reader.source.offsets)
        now = time.time()
        temp = [r.ts for r in _held_since(reader, "temp_motor", since)]
        assert all(abs(ts - now) < NEAR_S for ts in temp), [ts - now for ts in temp[:5]]
        # the skewed node's held values stay on its own clock, as its changes were (each is judged alike downstream)
        pressure = [r.ts for r in _held_since(reader, "pressure", since)]
        assert all(abs(ts - now - 3600) < NEAR_S for ts in pressure), [ts - now for ts in pressure[:5]]
    finally:
        reader.close()
