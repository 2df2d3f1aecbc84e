"""Faults at once, the way a roadside gateway meets them, on a real `stad-agent run` process (fake
systemd, stdin source), a real Mosquitto and a real full disk (a 2 MiB tmpfs for state_dir).

The broker goes away while alerts are raised, then the state disk fills, then the broker comes
back, then the disk is freed: every alert event raised reaches the subscriber (each once after
de-duplicating by alert_id and seq, each valid against the schema), and what happened meanwhile is
said once per fault and counted where an operator looks — health, /metrics, the summary line.
"""
from __future__ import annotations

import json
import re
import urllib.request

import jsonschema
import pytest

from conftest import REPO, free_port, wait_for
from mqtt_broker import Collector, make_broker  # noqa: F401 — make_broker: a pytest fixture
from restart_helpers import AgentProcess, alert_lines, finished, full_disk_config, row
from small_fs import small_fs  # noqa: F401 — a pytest fixture

pytest.importorskip("prometheus_client")
HEALTH = json.loads((REPO / "agent/schemas/health.schema.json").read_text())
ALERT = json.loads((REPO / "agent/schemas/alert.schema.json").read_text())


def _metric(port: int, name: str) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(rf"^{name}\{{(.*?)\}} (\S+)$", text, re.M)}


def test_broker_away_and_a_full_state_disk_lose_no_alert_and_say_so_once_and_count_it(tmp_path, small_fs,
                                                                                      make_broker):
    broker = make_broker()
    metrics_port = free_port()
    cfg_path = full_disk_config(tmp_path, broker.port,
                                lambda cfg: cfg.update(metrics={"listen": f"127.0.0.1:{metrics_port}"}))
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()
    agent = AgentProcess(tmp_path, cfg_path, "agent")
    try:
        agent.ready()
        agent.feed([row(i) for i in range(0, 200)])             # warm-up, then the first alert
        assert sub.wait_for(lambda ms: any(m.topic.endswith("/alerts") for m in ms), 120)

        wait_for(lambda: (small_fs.path / "checkpoint.bin").exists(), "a first checkpoint", 60, agent.proc)
        broker.kill()
        agent.wait_log(r"cannot use broker .*(unreachable|lost)")
        small_fs.fill()
        agent.feed([row(i) for i in range(200, 600)])           # four more alerts, on a full disk
        agent.wait_log(r"cannot write the alert journal .*No space left on device")
        agent.wait_log(r"cannot write the checkpoint .*No space left on device; a restart will resume from "
                       r"the previous one \(written \d+ s ago\)")
        wait_for(lambda: _metric(metrics_port, "stad_state_write_failures_total")['file="alert_journal"'] > 1,
                 "alert journal failures on /metrics", 60, agent.proc)

        broker.start()
        assert sub.wait_for(lambda ms: any(m.topic.endswith("/health") and m.retain is False
                                           and json.loads(m.payload)["state_writes"]["alert_journal"]["problem"]
                                           for m in ms), 120)
        small_fs.free()
        agent.feed([row(i) for i in range(600, 800)])
        agent.wait_log(r"the alert journal .* is written again \(\d+ write\(s\) failed over \d+ s\)")
        agent.wait_log(r"the checkpoint .* is written again")
        journal_failures = _metric(metrics_port, "stad_state_write_failures_total")['file="alert_journal"']
        assert _metric(metrics_port, "stad_broker_outages_total") == {'sink="mqtt"': 1.0}

        def mended(m) -> bool:
            writes = json.loads(m.payload)["state_writes"] if m.topic.endswith("/health") else {}
            return bool(writes) and all(writes[k]["problem"] is None and writes[k]["failed"]
                                        for k in ("alert_journal", "checkpoint"))
        assert sub.wait_for(lambda ms: any(mended(m) for m in ms), 60)
        health = json.loads(next(m for m in reversed(sub.on("/health")) if mended(m)).payload)
    finally:
        err = finished(agent)
    # One line when the journal's writes start failing and one when they work again — not one per event.
    assert len(re.findall(r"cannot write the alert journal", err)) == 1, err[-3000:]
    # (the sign of life, alive.json, under the same key, may fail first on a loaded machine: said apart, once)
    assert len(re.findall(r"cannot write the checkpoint \S*checkpoint\.bin", err)) == 1, err[-3000:]
    summary = err.strip().splitlines()[-1]
    assert re.search(r"state file writes failed: checkpoint \d+, alert journal (\d+);", summary), summary
    assert int(re.search(r"alert journal (\d+);", summary).group(1)) == journal_failures >= 2

    # Every alert event reached the subscriber, each once after de-duplicating, as the JSONL has them:
    # what the full disk kept out of the outbox was held in memory and stored when space returned.
    assert "events dropped this run" not in summary, summary
    jsonl = {(e["alert_id"], e["seq"]) for e in alert_lines(tmp_path)}

    def received(ms) -> set:
        return {(p["alert_id"], p["seq"]) for p in (json.loads(m.payload) for m in ms if m.topic.endswith("/alerts"))}
    assert sub.wait_for(lambda ms: received(ms) == jsonl, 60), sorted(jsonl - received(sub.messages))
    sub.close()
    alerts = [json.loads(m.payload) for m in sub.messages if m.topic.endswith("/alerts")]
    for payload in alerts:
        jsonschema.validate(payload, ALERT)
    assert len(jsonl) > 20 and any(p["replayed"] for p in alerts)
    healths = [json.loads(m.payload) for m in sub.messages if m.topic.endswith("/health")]
    for h in healths:
        jsonschema.validate(h, HEALTH)
    # The broker's outage, said after it: once, with its times.
    outage = health["sinks"]["mqtt"]
    assert outage["outages"] == 1 and outage["last_outage"]["to"] >= outage["last_outage"]["from"]
    assert outage["last_outage"]["seconds"] >= 0
    last = health["state_writes"]
    assert last["alert_journal"]["problem"] is None and last["alert_journal"]["failed"] == journal_failures
    assert last["checkpoint"]["failed"] >= 1 and last["checkpoint"]["problem"] is None
