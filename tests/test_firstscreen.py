"""The first screen: a banner that says what runs and where alerts go, warm-up progress (a
rewritten line on a terminal, one log line per 10 % otherwise), no third-party noise, and the
active tier's threshold."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.firstscreen import WarmupProgress
from agent.sources.simulate import SimulateConfig

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_says_what_runs_where_alerts_go_and_how_far_warm_up_is(tmp_path):
    pytest.importorskip("ai_edge_litert")
    if not (REPO / "agent/models/demo-corridor/manifest.json").exists():
        pytest.skip("the demo bundle (agent/models/demo-corridor) is not built")
    cfg = yaml.safe_load((REPO / "configs/demo.yaml").read_text())
    cfg["sources"][0]["speed"] = 0
    cfg["sinks"] = [{"type": "terminal"}, {"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")},
                    {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": 9}}]   # nobody listens on 9
    cfg["state_dir"] = str(tmp_path / "state")
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml"),
                          "--max-ticks", "2900"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    err = res.stderr
    assert "stad-agent demo-gw-01 at demo-corridor: 18 sensors, tick 30 s" in err
    assert "scoring: tier tflite: demo-corridor (model_int8.tflite, ai-edge-litert" in err
    assert "warm-up: 2880 ticks (24.0 h of data) before the first score" in err
    assert ("source: simulate corridor (seed 7, endless): simulated clock from 2026-01-05T00:00:00Z, "
            "as fast as it computes") in err
    assert f"sink: jsonl → {tmp_path / 'alerts.jsonl'}" in err
    assert (f"sink: mqtt → 127.0.0.1:9 under stad/demo-corridor/demo-gw-01/ (alerts, faults, status, health); "
            f"until the broker answers, alerts wait in {tmp_path / 'state' / 'mqtt-outbox.sqlite'}") in err
    # Not a terminal (as under systemd): one line per 10 %, then the done line.
    tenths = re.findall(r"warm-up (\d+)/2880 ticks \((\d+) %\), data time \S+ simulated", err)
    assert [int(p) for _, p in tenths] == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    done = re.search(r"warm-up done: 2880 ticks .*; scoring with tier tflite, threshold ([\d.]+) "
                     r"\(numpy fallback's ([\d.]+)\)", err)
    assert done, err[-2000:]
    assert float(done.group(1)) != float(done.group(2))      # the tier's own, not the fallback's
    assert "XNNPACK" not in err and "\nINFO: " not in err     # LiteRT's own print is routed to the log (debug)


def test_a_terminal_gets_one_rewritten_progress_line(capsys):
    source = SimulateConfig(speed=60.0, fast_forward_s=0.0)
    progress = WarmupProgress(needed=480, tick_s=30.0, source=source, terminal=True)
    progress.update(1, 1767571200.0)
    progress.update(480, 1767571200.0 + 479 * 30)
    err = capsys.readouterr().err
    assert err.startswith("\rwarm-up 1/480 ticks (0 %), data time 2026-01-05T00:00:00.000Z simulated; "
                          "about 4 min left at 60×")
    assert err.endswith("warm-up 480/480 ticks (100 %), data time 2026-01-05T03:59:30.000Z simulated; "
                        "done\x1b[K\n")
    assert err.count("\n") == 1


def test_time_left_follows_the_source_speed_and_fast_forward():
    paced = WarmupProgress(480, 30.0, SimulateConfig(speed=60.0, fast_forward_s=7200.0), terminal=False)
    assert paced.left(0) == "about 2 min left at 60×"          # 4 h of data, the first 2 h instant
    assert WarmupProgress(480, 30.0, SimulateConfig(speed=60.0, fast_forward_s=14400.0), terminal=False).left(0) \
        == "fast-forwarded, no wait"                            # the demo: warm-up lies in the fast-forward
    assert WarmupProgress(480, 30.0, SimulateConfig(speed=0.0), terminal=False).left(0) == \
        "as fast as the input comes"
    assert WarmupProgress(480, 30.0, None, terminal=False).left(240) == "about 2.0 h left at 1×"


def test_a_log_line_or_an_event_never_lands_on_the_end_of_the_progress_line(capsys):
    """A fault during warm-up (the demo's drift at 07:56) was glued to the unfinished progress line."""
    import logging
    import sys
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        progress = WarmupProgress(needed=480, tick_s=30.0, source=SimulateConfig(speed=60.0), terminal=True)
        progress.update(1, 1767571200.0)
        logging.getLogger("stad.test").warning("a log record during warm-up")
        progress.update(2, 1767571230.0)         # redrawn at once after being erased
        progress.clear()                          # the agent, before it emits an event
        progress.clear()                          # nothing drawn: nothing written
    finally:
        root.removeHandler(handler)
    err = capsys.readouterr().err
    drawn = "\rwarm-up {}/480 ticks ({} %), data time {} simulated; about {} min left at 60×\x1b[K"
    assert err == (drawn.format(1, 0, "2026-01-05T00:00:00.000Z", 4) + "\r\x1b[K" + "a log record during warm-up\n"
                   + drawn.format(2, 0, "2026-01-05T00:00:30.000Z", 4) + "\r\x1b[K")
