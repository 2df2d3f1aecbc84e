"""Health's `last_restart_gap` and /metrics carry the seconds the agent was down, beside the ticks skipped (clock24).

clock23 made the restart gap's log line say both figures — the ticks the checkpoint had not taken and the seconds the
agent was down (from its last sign of life to the start) — because after a kill -9 the ticks are the checkpoint's age
(user13: "+7 min" for a 2-s kill). Health's `last_restart_gap` kept the ticks alone (`skipped_s`), and Prometheus had
only the count: a fleet read the checkpoint's age as downtime. Now health has `down_s` and `last_alive` (null when no
sign of life was known) and /metrics `stad_restart_gap_skipped_seconds` and `stad_restart_down_seconds` (NaN before
any gap).

A real agent on stdin (tests/silence_feed.py: 0.25-s ticks stamped with this host's clock) with a real Mosquitto and
its /metrics endpoint: data, a checkpoint, more data, kill -9; restarted, data again. Every health payload is checked
against agent/schemas/health.schema.json, every scrape by `promtool check metrics` when it is installed."""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
import urllib.request

import jsonschema
import yaml

from agent.resume import ALIVE_S
from conftest import REPO
from mqtt_broker import Collector, free_port, make_broker  # noqa: F401 — fixtures
from restart_helpers import AgentProcess
from silence_feed import TICK, seconds, send, warm_and_live, write_config

HEALTH = json.loads((REPO / "agent/schemas/health.schema.json").read_text())
PROMTOOL = shutil.which("promtool")


def _scrape(port: int) -> str:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    if PROMTOOL:
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    return text


def _value(text: str, name: str) -> float:
    return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))


def _healths(sub: Collector) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on("/health")]


def test_health_and_metrics_carry_the_seconds_the_agent_was_down(tmp_path, make_broker):
    broker = make_broker()
    metrics_port = free_port()
    cfg = write_config(tmp_path, "gw-h", 1)
    doc = yaml.safe_load(cfg.read_text())
    doc["sinks"].insert(0, {"type": "mqtt", "health_interval_s": 1,
                            "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 1,
                                       "reconnect_max_s": 2}})
    doc["metrics"] = {"listen": f"127.0.0.1:{metrics_port}"}
    cfg.write_text(yaml.safe_dump(doc))
    sub = Collector(broker.port, ["stad/#"])
    sub.wait_subscribed()

    first = AgentProcess(tmp_path, cfg, "run1")
    try:
        warm_and_live(first, tmp_path / "state")
        before = _scrape(metrics_port)      # no restart gap this life: NaN, health null
        assert math.isnan(_value(before, "stad_restart_down_seconds")), before
        assert math.isnan(_value(before, "stad_restart_gap_skipped_seconds")), before
        send(first, 4)
        down = time.time()
        first.kill()                        # kill -9 while the data flows
    finally:
        if first.proc.poll() is None:
            first.kill()

    second = AgentProcess(tmp_path, cfg, "run2")
    try:
        assert "resumed from checkpoint" in second.ready()
        up = time.time()
        send(second, 16)
        assert sub.wait_for(lambda ms: any(m.topic.endswith("/health") and json.loads(m.payload)["last_restart_gap"]
                                           for m in ms), 60), [h["last_restart_gap"] for h in _healths(sub)][-3:]
        scraped = _scrape(metrics_port)
        assert second.finish() == 0
    finally:
        if second.proc.poll() is None:
            second.kill()
    sub.close()
    healths = _healths(sub)
    for h in healths:
        jsonschema.validate(h, HEALTH)
    gap = next(h["last_restart_gap"] for h in healths if h["last_restart_gap"])
    err = second.stderr()
    said = re.search(r"the agent was down [^(]*\(last alive (\S+), started again (\S+)\)", err)
    assert said, err[-3000:]
    last_alive, started = (seconds(s) for s in said.groups())
    # The seconds down: the log line's figure, from the last sign of life (within ALIVE_S of the kill) to the start.
    assert gap["last_alive"] == said.group(1), (gap, said.group(0))
    assert abs(gap["down_s"] - (started - last_alive)) <= 0.002, (gap, said.group(0))    # (stamps to the ms)
    assert down - ALIVE_S - 2.0 <= last_alive <= down + TICK, (down - last_alive, gap)
    assert down < started <= up, (started - down, up - started)
    assert 0 < gap["down_s"] <= gap["skipped_s"] + 1.0, gap
    # qa41: the rest of the gap, the ticks the killed run scored after its checkpoint, lost with it
    assert gap["lost_s"] == round(max(0.0, gap["skipped_s"] - gap["down_s"]), 3), gap
    assert gap["waiting_s"] is None and gap["waiting_starts"] == 0, gap
    # /metrics: the same two figures.
    assert _value(scraped, "stad_restart_down_seconds") == gap["down_s"], scraped
    assert _value(scraped, "stad_restart_gap_skipped_seconds") == gap["skipped_s"], scraped
    assert _value(scraped, "stad_restart_gaps_total") == 1.0, scraped
