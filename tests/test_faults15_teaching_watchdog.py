"""faults15: the fault rules' teaching on `warmup.replay` (faults/recorded.py, at the first live tick, after READY=1)
pings the watchdog. It is seconds of CPU (bench/faults.py teach-cost: 20,000 ticks of 8 sensors 1.7 s a teaching
here, up to 4 teachings; a gateway's CPU several times slower) in which the processing loop pinged nothing: under
the shipped unit's WatchdogSec=30 a slow gateway would be killed as hung at its first live tick.

A real `python -m agent run` under a fake systemd (NOTIFY_SOCKET, WATCHDOG_USEC 0.1 s: pings due every 0.05 s) on real
files: a corridor recording of 5,000 ticks as warmup.replay, an hour of live CSV after it. Between the status that
says the teaching began and the one that says it ended, the watchdog was pinged (before: neither status, no ping
while it ran — the teaching takes far longer than 0.05 s on any machine)."""
from __future__ import annotations

import yaml

from conftest import NotifySocket, running_agent, wait_until
from recorded_warmup import SENSORS, write


def test_the_teaching_at_the_first_live_tick_pings_the_watchdog(tmp_path):
    write(tmp_path / "clean" / "day.csv", "2026-01-04T00:00:00Z", 5000 * 30 / 3600, seed=3)
    write(tmp_path / "live.csv", "2026-01-05T17:40:00Z", 1.0, seed=4)
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "tick_s": 30.0, "topology": "corridor", "sensors": SENSORS,
        "sources": [{"type": "replay", "path": str(tmp_path / "live.csv")}],
        "window": {"steps": 32, "carry_forward_s": 90},
        "warmup": {"ticks": 5000, "replay": str(tmp_path / "clean")},
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": str(tmp_path / "events.jsonl")}],
        "state_dir": str(tmp_path / "state")}))
    notify = NotifySocket(f"@stad-faults15-{tmp_path.name[-20:]}")
    with running_agent(cfg, notify, {"WATCHDOG_USEC": "100000"}) as proc:
        assert wait_until(lambda: proc.poll() is not None, 600), "the agent did not finish its input"
        assert proc.returncode == 0, proc.stderr.read()[-3000:]
    said = [m for _, m in notify.messages]
    begun = next((k for k, m in enumerate(said) if m.startswith("STATUS=teaching the fault rules on 5,000")), None)
    assert begun is not None, [m for m in said if m.startswith("STATUS=")]
    ended = next(k for k, m in enumerate(said) if k > begun and m.startswith("STATUS=fault rules taught on 5,000"))
    assert "WATCHDOG=1" in said[begun:ended], said[begun:ended]
