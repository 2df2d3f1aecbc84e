"""Two sinks of one type (two jsonl files, one on each disk) each reported (review39): health's `sinks`, the stop
summary's `undelivered` and the metrics' drop reasons were keyed by type alone, so the second's figures replaced
the first's — a jsonl sink dropping every event on a full disk read in health (and /metrics) as one that wrote them
all, beside a second that did. Now the second of a type is `<type>#2`. Real parts: the agent on a simulated incident,
its first jsonl sink on /dev/full (every write ENOSPC, as a full disk), its second on a file."""
from __future__ import annotations

import json
import os

import pytest
import yaml

from agent import config
from agent.service import Agent


@pytest.mark.skipif(not os.access("/dev/full", os.W_OK), reason="no writable /dev/full here")
def test_a_second_jsonl_sink_does_not_hide_the_first_ones_drops(tmp_path):
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "node": {"id": "t"}, "tick_s": 1, "topology": "none", "sensors": ["S01_flow", "S01_occ", "S01_speed"],
        "sources": [{"type": "simulate", "duration_s": 400,
                     "anomalies": [{"kind": "incident", "at_s": 200, "duration_s": 100, "magnitude": 5}]}],
        "window": {"steps": 8}, "warmup": {"ticks": 32},
        "sinks": [{"type": "jsonl", "path": "/dev/full"}, {"type": "jsonl", "path": "alerts.jsonl"}],
        "state_dir": "state"}))
    agent = Agent(config.load(tmp_path / "agent.yaml"))
    agent.run()
    alerts = [e for e in map(json.loads, (tmp_path / "alerts.jsonl").read_text().splitlines()) if e["kind"] == "alert"]
    assert alerts
    sinks = agent.health_snapshot()["sinks"]
    assert sinks["jsonl"]["path"] == "/dev/full" and sinks["jsonl"]["dropped"] == {"alert": len(alerts)}, sinks
    assert sinks["jsonl#2"]["written"] == len(alerts) and sinks["jsonl#2"]["dropped"] == {}, sinks
    assert agent.summary()["undelivered"] == {"jsonl": {"alert": len(alerts)}}
