"""kill -9 at random moments while alerts are open and the MQTT outbox fills (no broker): after
every restart the agent scores from its first tick; the outbox passes PRAGMA integrity_check;
in the end every alert has its end, seq runs 0, 1, … without gap or repeat, and the outbox and
the JSONL hold the same events, each once, none torn.

The feed is a live stream that goes on while the agent is down: after a kill it resumes where it
was (the rows in the dead agent's pipe are lost), or 20-80 rows later (the link was down too: a
gap longer than the window), or, like a source that re-sends what it buffered, from shortly after
the last alert event (rows the restored state has already seen are then rejected as late)."""
from __future__ import annotations

import random
import re
import time
from datetime import datetime

import pytest

from mqtt_broker import free_port
from restart_helpers import (T0, WARMUP, AgentProcess, alert_lines, check_alert_stream, check_sinks_agree,
                             outbox_rows, row, wait_for, write_config)
from agent.checkpoint import CHECKPOINT_FILE, decode

FEED_PAUSE_S = 0.02          # 4 rows per pause: a live source at ~200 rows/s


def _open_alert(tmp) -> bool:
    events = alert_lines(tmp)
    return bool(events) and events[-1]["event"] != "end"


def kill_loop(tmp_path, kills: int, seed: int) -> dict:
    rnd = random.Random(seed)
    cfg = write_config(tmp_path, mqtt_port=free_port())
    i = 0
    # First run: through the warm-up, until a checkpoint of a warm agent exists.
    agent = AgentProcess(tmp_path, cfg, "run0")
    agent.ready()
    agent.feed(row(j) for j in range(0, 120))
    i = 120
    agent.wait_log(r"warm-up done")
    wait_for(lambda: (tmp_path / "state" / CHECKPOINT_FILE).exists() and checkpoint_ticks(tmp_path) > WARMUP,
             "a checkpoint of the warm agent", proc=agent.proc)
    agent.kill()
    outcomes = {"continued": 0, "gap_restart": 0, "kills_with_open_alert": 0}
    for k in range(1, kills + 1):
        outbox_rows(tmp_path)                                   # integrity_check after every kill
        mode = rnd.random()
        if mode < 0.35 and alert_lines(tmp_path):       # the source re-sends what it buffered
            i = max(120, _row_of(alert_lines(tmp_path)[-1]["ts"]) + rnd.randint(1, 6))
        elif mode > 0.7:                                # the sensors' link was down too: data lost
            i += rnd.randint(20, 80)
        agent = AgentProcess(tmp_path, cfg, f"run{k}")
        status = agent.ready()
        assert "resumed from checkpoint" in status, status
        target_open = rnd.random() < 0.7
        extra = rnd.randint(0, 12)
        # Some runs live until they have written a checkpoint of their own, others die sooner.
        newer_than = checkpoint_ticks(tmp_path) if rnd.random() < 0.4 else None
        fed_here = 0
        first_tick = None
        while True:
            assert agent.proc.poll() is None and fed_here < 5000, agent.stderr()[-3000:]
            agent.feed(row(j) for j in range(i, i + 4))
            i += 4
            fed_here += 4
            time.sleep(FEED_PAUSE_S)        # the source's rate (the agent keeps up), not a wait for an outcome
            if not first_tick:
                # Rows the restored state has seen are rejected as late; the first new one is scored.
                first_tick = re.search(r"first tick (\S+): (.*)$", agent.stderr(), re.M)
                if not first_tick:
                    continue
                assert first_tick.group(2).startswith("scored by numpy"), first_tick.group(0)
            if newer_than is not None and checkpoint_ticks(tmp_path) <= newer_than and fed_here < 2000:
                continue
            if target_open and _open_alert(tmp_path):
                if extra <= 0:
                    outcomes["kills_with_open_alert"] += 1
                    break
                extra -= 4
            elif not target_open and fed_here >= 8 + 4 * rnd.randint(0, 10):
                break
            if fed_here > 400 + (2000 if newer_than is not None else 0):
                break
        agent.kill()
    outbox_rows(tmp_path)
    final = AgentProcess(tmp_path, cfg, "final")
    assert "resumed from checkpoint" in final.ready()
    final.feed(row(j) for j in range(i, i + 150))               # ends calm: every alert can clear
    assert final.finish() == 0
    for k in range(kills + 1):
        err = (tmp_path / f"run{k}.stderr").read_text()
        assert "Traceback" not in err and not re.search(r"checkpoint \S+ refused", err), err[-3000:]
    by_alert = check_alert_stream(alert_lines(tmp_path))
    check_sinks_agree(tmp_path)
    for events in by_alert.values():
        if any(e["gap_s"] is not None for e in events):
            outcomes["gap_restart" if events[-1]["reason"] == "restart" else "continued"] += 1
    outcomes["alerts"] = len(by_alert)
    return outcomes


def checkpoint_ticks(tmp) -> int:
    meta, _ = decode((tmp / "state" / CHECKPOINT_FILE).read_bytes())
    return meta["ticks"]


def _row_of(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) - T0


def test_kill_9_a_few_times_while_alerts_are_open(tmp_path):
    outcomes = kill_loop(tmp_path, kills=3, seed=11)
    assert outcomes["alerts"] >= 2


@pytest.mark.slow
def test_kill_9_many_times_while_alerts_are_open(tmp_path):
    outcomes = kill_loop(tmp_path, kills=24, seed=5)
    assert outcomes["kills_with_open_alert"] >= 8, outcomes
    assert outcomes["continued"] >= 1 and outcomes["gap_restart"] >= 1, outcomes
