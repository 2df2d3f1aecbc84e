"""user14's two pages for one incident, on a real agent process (clock25; the turn-by-turn cases, a second kill
during the refill among them, are tests/test_clock25_alert_across_refill.py).

A real `agent run` on stdin (tests/silence_feed.py's sender: 0.25-s ticks stamped with this host's clock, a
step on `a` opens an alert), a checkpoint holding the open alert, more data, kill -9, and the agent started
again after a downtime longer than the window (4 s here, 300 s of `checkpoint_s` on user14's gateway: most
kills). The code before ended the alert `restart` at the first new data; the step, still on, opened a second
alert once the window refilled. Now: judged at the first score after the refill — continued (an `update` with
`gap_s`), or, the step gone, one `end` with reason `restart` then.

Marked slow: in the whole short suite beside two busy loops (5 Dec 2026, after its window got 8 ticks of lateness)
the condition-gone case still ended `shutdown` once in two runs — the input closed before the judgment ended the
alert; cause not traced (alone beside two busy loops it passed every run). The short suite keeps both cases
turn by turn (tests/test_clock25_alert_across_refill.py); `-m slow` runs these."""
from __future__ import annotations

import json
import threading
import time

import pytest
import yaml

from conftest import wait_for
from payloads import check_jsonl
from restart_helpers import AgentProcess
from silence_feed import TICK, seconds

pytestmark = pytest.mark.slow

STEPS = 16                  # a 4-s window: the downtime below is longer
WARMUP = 120


def line(k: int, step: float = 0.0) -> str:
    """The reading of tick k: stamped on the tick (as a device on a fixed cadence stamps), its values following it
    (agent_turns.record's) — live data sent on a loaded machine is scored as the warm-up's backlog was."""
    return json.dumps({"ts": round(k * TICK, 3), "a": 10 + (k * 7919 % 13) / 13 + step,
                       "b": 5 + (k * 104729 % 17) / 17}) + "\n"


class Sender:
    """The device: one reading a tick, on its cadence, stamped with the tick this host's clock is in (the next
    one, when sending fell behind)."""

    def __init__(self):
        self.k = None

    def send(self, agent: AgentProcess, n: int, step: float = 0.0) -> list[float]:
        cadence = threading.Event()
        stamps = []
        for _ in range(n):
            now = int(time.time() / TICK)
            self.k = now if self.k is None else max(now, self.k + 1)
            stamps.append(self.k * TICK)
            agent.feed([line(self.k, step)])
            cadence.wait(TICK)          # the device's cadence: the input, not a wait on the agent
        return stamps


def _config(tmp):
    cfg = tmp / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "node": {"id": "gw-k", "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": ["a", "b"],
        "sources": [{"type": "stdin"}],
        "window": {"steps": STEPS, "carry_forward_s": 4 * TICK, "lateness_ticks": 8},   # (slack for a loaded machine: ci54)
        "warmup": {"ticks": WARMUP}, "scoring": {"chain": ["numpy"]},
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 400, "cooldown_ticks": 2, "update_interval_s": 3600},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": 1}))
    return cfg


def _alerts(tmp) -> list[dict]:
    path = tmp / "alerts.jsonl"
    return [e for e in check_jsonl(path) if e["kind"] == "alert"] if path.exists() else []


def _alert_open_then_killed(tmp, cfg) -> tuple[str, float]:
    """Warm-up backlog, normal data, the step (an alert opens), a checkpoint after it, the step on for longer
    than the window after that checkpoint, kill -9: (the alert's id, when it was killed)."""
    first = AgentProcess(tmp, cfg, "run1")
    try:
        first.ready()
        device = Sender()
        device.k = int(time.time() / TICK) - WARMUP - 10
        first.feed([line(device.k + i) for i in range(WARMUP + 10)])      # the backlog, at once
        device.k += WARMUP + 9
        device.send(first, 12)
        stepped = device.send(first, 12, step=8.0)[0]
        opened = wait_for(lambda: [e for e in _alerts(tmp) if e["event"] == "new"], "the alert opened by the step",
                          60, first.proc)[0]
        assert [e["event"] for e in _alerts(tmp)] == ["new"] and seconds(opened["start"]) >= stepped - TICK, opened
        ckpt = tmp / "state" / "checkpoint.bin"
        seen = time.time()
        wait_for(lambda: ckpt.exists() and ckpt.stat().st_mtime > seen, "a checkpoint with the alert open", 60,
                 first.proc)
        device.send(first, STEPS + 8, step=8.0)     # the step goes on: ticks the next start will not have seen
    finally:
        killed = time.time()
        first.kill()                        # SIGKILL
    return opened["alert_id"], killed


def _second_life(tmp, cfg, killed: float, step: float) -> tuple[float, str]:
    """Up again, down longer than the window (the downtime: the input), the window's records and 8 more, the input
    closed (a clean stop): (the first's stamp, stderr)."""
    second = AgentProcess(tmp, cfg, "run2")
    try:
        assert "resumed from checkpoint" in second.ready()
        threading.Event().wait(max(0.0, killed + 2 * STEPS * TICK - time.time()))    # the downtime: the input
        first_new = Sender().send(second, STEPS + 8, step=step)[0]
        assert second.finish() == 0
    finally:
        if second.proc.poll() is None:
            second.kill()
    return first_new, second.stderr()


def _one_alert(evs: list[dict], alert_id: str) -> None:
    assert {e["alert_id"] for e in evs} == {alert_id}, [(e["alert_id"], e["event"], e["seq"]) for e in evs]
    assert [e["seq"] for e in evs] == list(range(len(evs))), [(e["event"], e["seq"]) for e in evs]
    assert [e["event"] for e in evs].count("new") == 1


def test_a_kill_9_with_the_condition_lasting_pages_once(tmp_path):
    cfg = _config(tmp_path)
    alert_id, killed = _alert_open_then_killed(tmp_path, cfg)
    before = len(_alerts(tmp_path))
    first_new, err = _second_life(tmp_path, cfg, killed, 8.0)
    evs = _alerts(tmp_path)
    _one_alert(evs, alert_id)
    after = evs[before:]
    # (the input closed: a clean stop ends the open alert `shutdown`)
    assert [(e["event"], e["reason"]) for e in after] == [("update", None), ("end", "shutdown")], \
        ([(e["event"], e.get("reason")) for e in after], err[-3000:])
    assert after[0]["gap_s"] > STEPS * TICK, after[0]
    assert seconds(after[0]["ts"]) >= first_new + (STEPS - 2) * TICK, (after[0]["ts"], first_new)
    assert "judged at the first score after the window refills" in err, err[-3000:]


def test_a_kill_9_with_the_condition_gone_ends_the_alert_restart_once(tmp_path):
    cfg = _config(tmp_path)
    alert_id, killed = _alert_open_then_killed(tmp_path, cfg)
    before = len(_alerts(tmp_path))
    first_new, err = _second_life(tmp_path, cfg, killed, 0.0)
    evs = _alerts(tmp_path)
    _one_alert(evs, alert_id)
    after = evs[before:]
    assert [(e["event"], e["reason"]) for e in after] == [("end", "restart")], (after, err[-3000:])
    end = after[0]
    # Judged once the window refilled (the code before: at the first new data); ended at the last tick it was
    # known above the threshold, before the kill.
    assert seconds(end["ts"]) >= first_new + (STEPS - 2) * TICK, (end["ts"], first_new)
    assert end["gap_s"] > STEPS * TICK and seconds(end["end"]) <= killed, end
