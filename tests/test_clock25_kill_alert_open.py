"""user14's two pages for one incident, on a real agent process (clock25; the turn-by-turn cases, a second kill
during the refill among them, are tests/test_clock25_alert_across_refill.py).

A real `agent run` on stdin (a device's 0.25-s ticks stamped on this host's clock, `Sender`; a step on `a` opens
an alert), a checkpoint holding the open alert, more data, kill -9, and the agent started
again after a downtime longer than the window (4 s here, 300 s of `checkpoint_s` on user14's gateway: most
kills). The code before ended the alert `restart` at the first new data; the step, still on, opened a second
alert once the window refilled. Now: judged from the first score after the refill by the rules that end a live
alert (clock27; clock25 judged it on that one score) — continued (an `update` with `gap_s`), also when that first
score is calm and the step is back at the next tick; the step gone, one `end` with reason `restart` once
`clear_ticks` calm ticks in a row have been scored.

Why these once failed (clock26; they were marked slow), both causes in the test, the agent doing what its rules say:
- The judgment was one tick (until clock27), and this data's normal scores reach the calibrated threshold at some
  phases of its sawtooth (~2.58 against 2.61: the threshold is fitted on 36 ticks of it). The second life starts at
  a phase set by the wall clock; at 1 of the 17 phases traced turn by turn (no load needed: docs/measured/first-
  week.md, the clock26 round) the first score after the refill fell in the hysteresis band (threshold × 0.8 up to
  the threshold): held by the rule, the alert went on, and with clear_ticks 400 only the input's end closed it
  (`shutdown`). The threshold's floor (`min_threshold` 10: scores on normal ticks ≤ 2.6, with a carried one ≤ 4.9,
  on the step ≥ 111) keeps every normal tick calm at every phase, so the calm case ends after `clear_ticks`.
- The sender stamped the tick this host's clock was in: descheduled on a loaded machine for more than a tick, it
  skipped one, the agent carried the last reading over it, and on this data a repeated reading scores 4–5: a
  false alert before the step (with the floor, under the band). Now it never skips (`Sender`)."""
from __future__ import annotations

import json
import threading
import time

import yaml

from agent.checkpoint import CHECKPOINT_FILE, decode
from conftest import wait_for
from payloads import check_jsonl
from restart_helpers import AgentProcess
from silence_feed import TICK, seconds

STEPS = 16                  # a 4-s window: the downtime below is longer
WARMUP = 120
CLEAR = 4                   # clear_ticks: the calm case ends `restart` at the 4th calm score after the refill


def line(k: int, step: float = 0.0) -> str:
    """The reading of tick k: stamped on the tick (as a device on a fixed cadence stamps), its values following it
    (agent_turns.record's) — live data sent on a loaded machine is scored as the warm-up's backlog was."""
    return json.dumps({"ts": round(k * TICK, 3), "a": 10 + (k * 7919 % 13) / 13 + step,
                       "b": 5 + (k * 104729 % 17) / 17}) + "\n"


class Sender:
    """The device: one reading a tick, every tick, stamped with its tick, sent once this host's clock is in that
    tick. Behind (this process descheduled on a loaded machine) it sends the ticks it owes at once, as a device
    sends what it buffered — never skipping one: a skipped tick is a carried-forward reading to the agent, an
    anomaly on this data (the module's docstring)."""

    def __init__(self):
        self.k = None

    def send(self, agent: AgentProcess, n: int, step: float = 0.0) -> list[float]:
        cadence = threading.Event()
        stamps = []
        for _ in range(n):
            self.k = int(time.time() / TICK) if self.k is None else self.k + 1
            cadence.wait(max(0.0, self.k * TICK - time.time()))     # the device's cadence: the input
            stamps.append(self.k * TICK)
            agent.feed([line(self.k, step)])
        return stamps


def _config(tmp):
    cfg = tmp / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "node": {"id": "gw-k", "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": ["a", "b"],
        "sources": [{"type": "stdin"}],
        "window": {"steps": STEPS, "carry_forward_s": 4 * TICK, "lateness_ticks": 8},   # (slack for a loaded machine: ci54)
        "warmup": {"ticks": WARMUP}, "scoring": {"chain": ["numpy"]},
        "threshold": {"min_threshold": 10.0},       # above every normal tick's band, under the step's (docstring)
        "alerts": {"min_duration_ticks": 2, "clear_ticks": CLEAR, "cooldown_ticks": 2, "update_interval_s": 3600},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": 1}))
    return cfg


def _alerts(tmp) -> list[dict]:
    path = tmp / "alerts.jsonl"
    return [e for e in check_jsonl(path) if e["kind"] == "alert"] if path.exists() else []


def _checkpointed_alert(tmp) -> str | None:
    """The alert_id open in the checkpoint (None: none, or no checkpoint yet). Read, not told by its time: the
    checkpoint holding the alert may be written in the same moment as the alert's line, before a time taken
    after that line (a coarse file clock), and with the sender idle none comes after it (clock26)."""
    path = tmp / "state" / CHECKPOINT_FILE
    if not path.exists():
        return None
    opened = decode(path.read_bytes())[1]["pipeline"]["alerts"]["open"]
    return None if opened is None else opened["alert_id"]


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
        wait_for(lambda: _checkpointed_alert(tmp) == opened["alert_id"], "a checkpoint with the alert open", 60,
                 first.proc)
        device.send(first, STEPS + 8, step=8.0)     # the step goes on: ticks the next start will not have seen
    finally:
        killed = time.time()
        first.kill()                        # SIGKILL
    return opened["alert_id"], killed


def _second_life(tmp, cfg, killed: float, *parts: tuple[int, float]) -> tuple[float, str]:
    """Up again, down longer than the window (the downtime: the input), then `parts` — (ticks, step) in turn —,
    the input closed (a clean stop): (the first new tick's stamp, stderr)."""
    second = AgentProcess(tmp, cfg, "run2")
    try:
        assert "resumed from checkpoint" in second.ready()
        threading.Event().wait(max(0.0, killed + 2 * STEPS * TICK - time.time()))    # the downtime: the input
        device = Sender()
        first_new = device.send(second, *parts[0])[0]
        for n, step in parts[1:]:
            device.send(second, n, step)
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
    first_new, err = _second_life(tmp_path, cfg, killed, (STEPS + 8, 8.0))
    evs = _alerts(tmp_path)
    _one_alert(evs, alert_id)
    after = evs[before:]
    # (the input closed: a clean stop ends the open alert `shutdown`)
    assert [(e["event"], e["reason"]) for e in after] == [("update", None), ("end", "shutdown")], \
        ([(e["event"], e.get("reason")) for e in after], err[-3000:])
    assert after[0]["gap_s"] > STEPS * TICK, after[0]
    assert seconds(after[0]["ts"]) >= first_new + (STEPS - 2) * TICK, (after[0]["ts"], first_new)
    assert f"judged from the first score after the window refills ({STEPS} ticks) as a live alert is — it goes on " \
        f"unless {CLEAR} calm ticks in a row end it (reason restart)" in err, err[-3000:]


def test_a_kill_9_with_the_first_score_after_the_refill_calm_and_the_condition_back_pages_once(tmp_path):
    """The step off for the window's ticks and the first score after them (the refill counts from the first new
    tick: STEPS ticks, then the first score), on again from the next tick: the alert goes on (clock27; the code before
    ended it `restart` on that calm score and the step paged a new alert two ticks later)."""
    cfg = _config(tmp_path)
    alert_id, killed = _alert_open_then_killed(tmp_path, cfg)
    before = len(_alerts(tmp_path))
    first_new, err = _second_life(tmp_path, cfg, killed, (STEPS + 1, 0.0), (STEPS, 8.0))
    evs = _alerts(tmp_path)
    _one_alert(evs, alert_id)
    after = evs[before:]
    assert [(e["event"], e["reason"]) for e in after] == [("update", None), ("end", "shutdown")], \
        ([(e["event"], e.get("reason")) for e in after], err[-3000:])
    assert after[0]["gap_s"] > STEPS * TICK and seconds(after[0]["ts"]) > first_new + STEPS * TICK, after[0]


def test_a_kill_9_with_the_condition_gone_ends_the_alert_restart_once(tmp_path):
    cfg = _config(tmp_path)
    alert_id, killed = _alert_open_then_killed(tmp_path, cfg)
    before = len(_alerts(tmp_path))
    first_new, err = _second_life(tmp_path, cfg, killed, (STEPS + 8, 0.0))
    evs = _alerts(tmp_path)
    _one_alert(evs, alert_id)
    after = evs[before:]
    assert [(e["event"], e["reason"]) for e in after] == [("end", "restart")], (after, err[-3000:])
    end = after[0]
    # Judged once the window refilled (clock25's code before: at the first new data) and ended after CLEAR calm
    # scores (clock27; clock25 at the first); at the last tick it was known above the threshold, before the kill.
    assert seconds(end["ts"]) >= first_new + (STEPS + CLEAR - 3) * TICK, (end["ts"], first_new)
    assert end["gap_s"] > STEPS * TICK and seconds(end["end"]) <= killed, end
