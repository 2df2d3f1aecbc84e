"""SIGTERM with an alert open, the source a paced replay (the demo's simulator is paced the same way):
the alert stays open for the next start, as README and tests/test_clean_stop_continues.py (a stdin
source) say — not ended with reason `shutdown` (review19).

A paced source answers the stop by ending: its thread's next put is refused, and it queues its end
marker. The loop, waiting in the queue when the signal came, took that marker for the input's end
(every source ended) and ended the open alert (`shutdown`) while the summary said `stopped: signal
SIGTERM`: with records 0.1 s apart almost every time, with the demo's 0.5 s about half the time. The
next start then had nothing to continue, and a control room got an `end` for an incident still going
on. A real agent, a real paced replay, a real signal.
"""
from __future__ import annotations

import json
import math
import random

from conftest import start_logged_agent, stop_agent, wait_for

T0 = 1767225600


def recording(path, first: int, last: int, shifted_from: int | None = None) -> None:
    """Two sensors on a slow wave; from `shifted_from` on, both jump about together by tens of σ
    every tick: an alert that stays open."""
    rnd = random.Random(first)
    lines = ["timestamp,a,b"]
    for i in range(first, last):
        shift = 25 * rnd.gauss(0, 1) if shifted_from is not None and i >= shifted_from else 0.0
        a, b = (10 + 2 * math.sin(i / 7 + k) + rnd.gauss(0, 0.1) + shift for k in (0, 1))
        lines.append(f"{T0 + i},{a:.4f},{b:.4f}")
    path.write_text("\n".join(lines) + "\n")


def alerts(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_sigterm_with_a_paced_source_leaves_the_open_alert_open(tmp_path):
    recording(tmp_path / "normal.csv", 0, 600)
    recording(tmp_path / "live.csv", 600, 6000, shifted_from=630)   # 9 min of data at 10×: never ends here
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("tick_s: 1\nsensors: [a, b]\n"
                   "sources: [{type: replay, path: live.csv, speed: 10}]\n"
                   "window: {steps: 16}\nwarmup: {ticks: 100, replay: normal.csv}\nscoring: {chain: [numpy]}\n"
                   "sinks: [{type: jsonl, path: alerts.jsonl}]\nstate_dir: state\n")
    proc = start_logged_agent(cfg, tmp_path)
    try:
        [new] = wait_for(lambda: [e for e in alerts(tmp_path / "alerts.jsonl") if e["event"] == "new"],
                         "the alert's new event", proc=proc)
        stop_agent(proc, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = (tmp_path / "agent.err").read_text()
    assert proc.returncode == 0 and "stopped: signal SIGTERM" in err, err[-3000:]
    assert [e for e in alerts(tmp_path / "alerts.jsonl") if e["event"] == "end"] == [], err[-3000:]
    assert f"alert {new['alert_id']} (next seq" in err and "left open at the stop" in err, err[-3000:]
