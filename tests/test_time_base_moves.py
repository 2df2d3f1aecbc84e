"""Moves of the time base on health, in Prometheus and on the summary line. A confirmed step back of
the data, a jump ahead and a restart on a checkpoint ahead of the host's clock were each said once in
the log and nowhere else: an operator reading the status topic or a dashboard saw rows scored twice
over an hour (a step back), or ticks missing (a jump), without a counter or the step that explained
it. Now `time_base_moves` (each kind from 0) and `last_time_base_move` on health, the counter
`stad_time_base_moves_total{kind}`, and `time base moved: …` on the summary line."""
from __future__ import annotations

import json
import random
import socket
import threading
import urllib.request

import pytest

from agent import config
from agent.service import Agent
from conftest import wait_for
from mqtt_broker import Collector, broker, free_port, make_broker  # noqa: F401 — fixtures
from payloads import check

T0 = 1_767_600_000          # 2026-01-05T08:00:00Z


def stamp(i: int) -> float:
    """Row i every 10 s; from row 300 on 2 h earlier (the data stepped back), from row 500 on a day later."""
    return T0 + 10 * i - (7200 if i >= 300 else 0) + (86_400 if i >= 500 else 0)


def row(i: int) -> bytes:
    r = random.Random(i)
    return json.dumps({"ts": stamp(i), "a": 1 + r.gauss(0, 0.1), "b": 2 + r.gauss(0, 0.1)}).encode()


def test_a_step_back_and_a_jump_are_on_health_prometheus_and_the_summary(tmp_path, broker):
    # On the old code health had no time_base_moves (KeyError below), /metrics no such counter.
    pytest.importorskip("prometheus_client", reason="the prometheus extra is not installed")
    metrics_port = free_port()
    cfg = config.from_dict({
        "sensors": ["a", "b"], "tick_s": 10, "warmup": {"ticks": 50}, "scoring": {"chain": ["numpy"]},
        "window": {"steps": 16, "max_clock_skew_s": 0},        # stamps of January 2026: no skew check
        "node": {"id": "gw-moves", "site": "lab"},
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": 0}],
        "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port}, "health_interval_s": 1}],
        "metrics": {"listen": f"127.0.0.1:{metrics_port}"}, "state_dir": str(tmp_path / "state")},
        base_dir=str(tmp_path))
    health = Collector(broker.port, ["stad/lab/gw-moves/health"])
    health.wait_subscribed()
    agent = Agent(cfg)
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for i in range(600):
                out.sendto(row(i), ("127.0.0.1", agent.sources[0].port))
                if i % 50 == 49:        # (a datagram burst past the socket's buffer would be dropped)
                    wait_for(lambda: agent.records_in >= i + 1, f"{i + 1} records in", proc=None)

        def moved(messages) -> bool:
            return any(json.loads(m.payload).get("time_base_moves", {}).get("forward") == 1 for m in messages)
        assert health.wait_for(moved, timeout=120), [m.payload[:300] for m in health.messages[-2:]]
        last = [json.loads(m.payload) for m in health.on("/health")][-1]
        check("health", last)
        assert last["time_base_moves"] == {"back": 1, "forward": 1, "restart": 0}
        move = last["last_time_base_move"]
        assert (move["kind"], move["from"], move["to"], move["step_s"]) == (
            "forward", "2026-01-05T07:23:10.000Z", "2026-01-06T07:23:20.000Z", 86_410.0), move
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30).read().decode()
        for kind, n in (("back", 1), ("forward", 1), ("restart", 0)):
            assert f'stad_time_base_moves_total{{kind="{kind}"}} {n:.1f}' in scrape, scrape[-2000:]
    finally:
        agent.stop("test")
        runner.join(120)
        health.close()
    assert not runner.is_alive()
    snap = agent.summary()
    from agent.stop_summary import format_summary
    assert "time base moved: back 1, forward 1; " in format_summary(snap)
