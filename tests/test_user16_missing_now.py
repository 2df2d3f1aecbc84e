"""health's `sensors_missing` means no readings now. A sender that falls silent is one `source` fault; when its
readings come again the fault stays open until they have been back `faults.clear_s` — and health listed its
sensors in `sensors_missing` all that while, readings arriving (qa35's soak; user16). Then the open fault stayed in
`faults_active` and the source `down` for clear_s while its sensors left `sensors_missing`; since faults11 an outage
of the whole source (every sensor it carries silent together, not within clear_s of its last one) ends on the first
tick its readings are back (docs/measured/faults.md), so a snapshot a second after they came again shows neither
the fault nor the sensors missing, whatever `clear_s` (a lone sensor's `missing` still waits clear_s, in
`faults_clearing`: tests/test_faults11_source_end.py). A real agent process fed on stdin at its cadence, its health
read from a real Mosquitto (the retained health topic)."""
from __future__ import annotations

import json
import threading
import time

import yaml

from conftest import wait_for
from mqtt_broker import Collector, make_broker, broker  # noqa: F401 — fixtures
from restart_helpers import AgentProcess
from silence_feed import TICK, send

WARMUP = 40


def _config(tmp, port: int):
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "node": {"id": "gw-missing", "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": ["a", "b"],
        "sources": [{"type": "stdin"}],
        "window": {"steps": 16, "carry_forward_s": 0.5, "idle_flush_s": 0.5,   # silent ticks close on the clock
                   "max_clock_skew_s": 0},
        "warmup": {"ticks": WARMUP}, "scoring": {"chain": ["numpy"]},
        "faults": {"missing_s": 1, "clear_s": 600},                  # not what a whole source's outage waits for
        "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.2,
                                              "reconnect_max_s": 1.0}, "health_interval_s": 1}],
        "state_dir": "state"}))
    return path


def _healths(messages) -> list[dict]:
    return [json.loads(m.payload) for m in messages if m.topic.endswith("/health")]


def _down(h: dict) -> bool:
    return any(s["down"] for s in (h.get("sources") or {}).values())


def test_a_source_faults_sensors_leave_sensors_missing_when_their_readings_come_again(tmp_path, broker):
    collector = Collector(broker.port, ["stad/lab/gw-missing/health"], persistent=False)
    collector.wait_subscribed()
    agent = AgentProcess(tmp_path, _config(tmp_path, broker.port), "run")
    sending = threading.Event()
    try:
        agent.ready()
        send(agent, WARMUP + 8)          # live, at its cadence (a backlog at once: the wall clock closes ticks first)
        # the sender falls silent
        assert collector.wait_for(lambda got: any(_down(h) for h in _healths(got)), 120), \
            _healths(collector.on("/health"))[-1:]
        silent = next(h for h in _healths(collector.on("/health")) if _down(h))
        assert silent["faults_active"] == {"a": "missing", "b": "missing"} and silent["warm"], silent
        assert sorted(silent["sensors_missing"]) == ["a", "b"], silent                 # no readings: missing now

        back = time.time()
        feeder = threading.Thread(target=lambda: [send(agent, 1) for _ in iter(sending.is_set, True)], daemon=True)
        feeder.start()

        def after_back(h: dict) -> bool:     # a snapshot taken a second and more after the readings came again
            return time.mktime(time.strptime(h["ts"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone > back + 1.0
        assert collector.wait_for(lambda got: any(after_back(h) for h in _healths(got)), 120), \
            _healths(collector.on("/health"))[-1:]
        now = next(h for h in _healths(collector.on("/health")) if after_back(h))
        assert now["sensors_missing"] == [], now            # qa35: ['a', 'b'] while their readings arrived
        # ended with the readings (before faults11: open, the source `down`, `faults_clearing` counting to 600 s)
        assert not _down(now) and now["faults_active"] == {} and now["faults_clearing"] == {}, now
    finally:
        sending.set()
        if agent.proc.poll() is None:
            agent.terminate()
        collector.close()
    wait_for(lambda: "summary:" in agent.stderr(), "the stop's summary")
