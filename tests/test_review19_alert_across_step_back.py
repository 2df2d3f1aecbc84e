"""An alert open when the data's clock steps back (a recording host's clock set back 2 h mid-file;
the demo run again on its state) ends with reason `restart` — and its `end` event keeps the alert's
`start`, the one its `new` published, with its `end` and `ts` on the old time base (review19).

The step back moves the learned state's times with the time base (agent/timebase.py `shift_times`)
and then ended the open alert: its `start` and `end` had been moved too. A control room's row for
the alert (keyed by `alert_id`, which names the real start) got a start 2 h earlier than the one
`new` gave — with the demo run again, 30.8 h earlier, and an `end` before the alert began. A real
agent on a real file.
"""
from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

from conftest import agent_env

REPO = Path(__file__).resolve().parent.parent
T0 = 1767225600


def write_csv(path: Path, rows: range, rnd: random.Random, shifted: range = range(0), back_from: int | None = None):
    lines = ["timestamp,a,b"]
    for i in rows:
        shift = 25 * rnd.gauss(0, 1) if i in shifted else 0.0
        ts = T0 + i - (7200 if back_from is not None and i >= back_from else 0)
        a, b = (10 + 2 * math.sin(i / 7 + k) + rnd.gauss(0, 0.1) + shift for k in (0, 1))
        lines.append(f"{ts},{a:.4f},{b:.4f}")
    path.write_text("\n".join(lines) + "\n")


def test_an_alert_ended_by_a_step_back_keeps_its_start(tmp_path):
    rnd = random.Random(5)
    write_csv(tmp_path / "normal.csv", range(600), rnd)
    # Both sensors jump about from row 630 (an alert opens); at row 680, mid-alert, the clock steps back 2 h.
    write_csv(tmp_path / "live.csv", range(600, 1200), rnd, shifted=range(630, 700), back_from=680)
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("tick_s: 1\nsensors: [a, b]\nsources: [{type: replay, path: live.csv}]\n"
                   "window: {steps: 16}\nwarmup: {ticks: 100, replay: normal.csv}\nscoring: {chain: [numpy]}\n"
                   "sinks: [{type: jsonl, path: alerts.jsonl}]\nstate_dir: state\n")
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=REPO, capture_output=True,
                         text=True, timeout=300, env=agent_env())
    assert res.returncode == 0, res.stderr[-3000:]
    assert "time base moved back: the data stepped -2.0 h" in res.stderr, res.stderr[-3000:]
    events = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    first = [e for e in events if e["alert_id"] == events[0]["alert_id"]]
    assert [(e["event"], e["reason"]) for e in first] == [("new", None), ("end", "restart")], first
    new, end = first
    assert end["start"] == new["start"], (new["start"], end["start"])
    # ISO-8601 UTC strings of one layout: ordered as times; the end on the old time base, judged there
    assert end["start"] <= end["end"] <= end["ts"], end
