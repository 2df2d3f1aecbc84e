"""user23's week on a pump skid read over OPC UA and watched by Prometheus (docs/measured/first-week.md, user23):
what an operator met that was small enough to fix, each test failing on the code before it."""
from __future__ import annotations

import logging
import threading

import pytest

from agent.records import Rejects
from conftest import wait_until
from opcua_agent import server  # noqa: F401 — a pytest fixture: the process's shared server, reset for each test

pytest.importorskip("asyncua", reason="the opcua extra is not installed")
from agent.sources.opcua import OpcUaConfig, OpcUaSource  # noqa: E402


def test_each_lost_opcua_server_is_said_once_not_with_asyncuas_traceback_and_a_warning_per_retry(server, caplog):
    """The server killed while subscribed, then back: the journal had asyncua's `ERROR … Publish iteration crashed`
    with its traceback and a `close_secure_channel was called but connection is closed` WARNING at each reconnect
    attempt beside the source's own `unreachable … retrying` line (user23 read the traceback as a crash); and that
    line came for the agent's first outage alone, none for the server's second restart."""
    caplog.set_level(logging.INFO)
    rejects = Rejects()
    cfg = OpcUaConfig(url=f"opc.tcp://127.0.0.1:{server.port}/stad-test", nodes={"pressure": "ns=2;s=Skid1.pressure"},
                      sampling_interval_ms=100, publishing_interval_ms=100, timeout_s=2, check_interval_s=0.2,
                      reconnect_min_s=0.2, reconnect_max_s=0.4)
    src = OpcUaSource(cfg, ["pressure"], rejects)
    records: list = []
    reader = threading.Thread(target=lambda: records.extend(src.records()), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: records, 60), rejects.as_dict()
        for outage in (1, 2):           # the server restarted twice in the week: each outage is said once
            retries = rejects.counts["opcua unreachable"]
            server.kill()
            assert wait_until(lambda: rejects.counts["opcua unreachable"] >= retries + 4, 60), rejects.as_dict()
            server.start()
            before = len(records)
            assert wait_until(lambda: len(records) > before and src.connected.is_set(), 60), rejects.as_dict()
    finally:
        src.close()
        reader.join(timeout=15)
    ours = [r.getMessage() for r in caplog.records if r.name == "stad.opcua" and "unreachable" in r.getMessage()]
    assert len(ours) == 2, ours         # before, the second outage had no line at all
    theirs = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records
              if r.name.startswith("asyncua") and r.levelno >= logging.WARNING]
    assert theirs == [], theirs
