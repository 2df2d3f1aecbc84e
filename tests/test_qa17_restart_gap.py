"""A clean restart of a live agent must not page the control room (qa17, from user3's journal).

SIGTERM, start again a few seconds later on the same state_dir (a config reload, an upgrade): the
checkpoint's last tick is a few seconds behind the first live record. That gap is the agent's own
downtime. The old code took it for a move of the data's time base (WARNING `time base moved: the
data jumped +7 s`, `time_base_moves.forward` counted — README tells operators to alert on it) and
closed the ticks it did not run as an outage: every sensor a `missing` fault (fault + fault_end to
every subscriber). Now it is a restart gap, said once at INFO with its length and counted on its
own; a sensor that stays silent after the restart still becomes `missing`, and a jump of the data
while the agent runs is still a time-base move."""
from __future__ import annotations

import json
import random
import socket
import threading
import time
from pathlib import Path

import numpy as np
import yaml

from agent.alerts import iso
from agent.records import Record, Rejects
from agent.window import Aligner
from conftest import free_port, start_logged_agent, wait_for

SENSORS = ["a_x", "a_y", "b_x", "b_y"]
TICK = 0.25


class Sender:
    """A device sending every sensor (bar `silent`) every tick, stamped with this host's clock."""

    def __init__(self, port: int):
        self.port, self.sent, self.silent = port, 0, set()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        r = random.Random(1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            while not self.stopped.wait(TICK):      # (the device's cadence: the input, not a wait)
                values = {k: 10 + r.gauss(0, 1) for k in SENSORS if k not in self.silent}
                out.sendto(json.dumps({"ts": time.time(), "values": values}).encode(), ("127.0.0.1", self.port))
                self.sent += 1

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "node": {"id": "gw-r", "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": SENSORS,
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": port}],
        "window": {"steps": 16, "carry_forward_s": 3 * TICK, "lateness_ticks": 1, "idle_flush_s": 1.5 * TICK},
        "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": 1}))
    return path


def run_once(cfg: Path, tmp_path: Path, name: str, sender: Sender, ticks_after_first: int) -> str:
    """`stad-agent run` until its first tick is logged and the sender has sent `ticks_after_first`
    more records; SIGTERM; its stderr."""
    proc = start_logged_agent(cfg, tmp_path, name)
    err = tmp_path / f"{name}.err"
    try:
        wait_for(lambda: "first tick" in err.read_text(), f"{name}: first tick", timeout=120, proc=proc)
        sent = sender.sent
        wait_for(lambda: sender.sent >= sent + ticks_after_first, f"{name}: {ticks_after_first} records",
                 timeout=120, proc=proc)
    finally:
        proc.terminate()
        proc.wait(60)
    return err.read_text()


def faults(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [e for e in map(json.loads, path.read_text().splitlines()) if e.get("event") in ("fault", "fault_end")]


def restart(tmp_path: Path, silent_after: set[str], down_ticks: int = 8) -> tuple[str, list[dict]]:
    """Run, clean stop, ~`down_ticks` ticks down, run again (the sender silent for `silent_after`
    from the stop on): the second run's log and the sensor-fault events written after the restart."""
    port = free_port()
    cfg = write_config(tmp_path, port)
    sender = Sender(port)
    try:
        run_once(cfg, tmp_path, "run1", sender, ticks_after_first=30)
        assert (tmp_path / "state" / "checkpoint.bin").exists()
        before = len(faults(tmp_path / "alerts.jsonl"))
        sender.silent = set(silent_after)
        sent = sender.sent                  # the downtime: as long as the device takes to send down_ticks records
        wait_for(lambda: sender.sent >= sent + down_ticks, f"{down_ticks} records sent while the agent is down",
                 timeout=120)
        err = run_once(cfg, tmp_path, "run2", sender, ticks_after_first=40)
    finally:
        sender.stop()
    return err, faults(tmp_path / "alerts.jsonl")[before:]


def test_a_clean_restart_is_a_restart_gap_not_a_time_base_move_nor_missing_sensors(tmp_path):
    # On the old code: `time base moved: the data jumped +2 s` and a `missing` fault for every sensor.
    err, after = restart(tmp_path, silent_after=set())
    assert "checkpoint" in err and "loaded" in err, err[-3000:]
    assert "time base moved" not in err, err[-3000:]
    summary = [line for line in err.splitlines() if line.startswith("summary:")][-1]
    assert "time base moved" not in summary and "sensor faults 0 " in summary, summary
    # health (and so the summary line) carries the gap, as Prometheus does: a fleet that reads only
    # the status topic sees the gateway was down (review13: it was counted in /metrics alone)
    assert "restart gap skipped: " in summary, summary
    assert after == [], after
    said = [line for line in err.splitlines() if "restart gap" in line and not line.startswith("summary:")]
    assert len(said) == 1 and " INFO " in said[0], said
    assert "the agent's own downtime" in said[0], said


def test_a_downtime_longer_than_the_window_refills_it_before_the_next_score(tmp_path):
    """Fails on the code before this test: with the downtime skipped (no outage rows), the first
    score after a restart down longer than the window (16 ticks) was made on a window joining the
    ticks before the downtime to the new one as if adjacent; it now refills first, and says so."""
    err, after = restart(tmp_path, silent_after=set(), down_ticks=40)
    assert "time base moved" not in err and after == [], err[-3000:]
    first = [line for line in err.splitlines() if ": first tick " in line]
    assert first and "the agent was down longer than the window; the window refills for" in first[0], first


def test_a_sensor_silent_after_the_restart_is_still_missing(tmp_path):
    err, after = restart(tmp_path, silent_after={"b_y"})
    assert "time base moved" not in err, err[-3000:]
    raised = [(e["sensor"], e["kind"]) for e in after if e["event"] == "fault"]
    assert raised == [("b_y", "missing")], after


def live(ts: float, now: float) -> Record:
    return Record(ts=ts, values={"a": 1.0, "b": 2.0}, origin="udp", received=now)


def test_a_jump_of_the_data_after_the_restart_gap_is_still_a_time_base_move():
    first = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    t0 = time.time() - 600
    for i in range(30):
        first.push(live(t0 + i, t0 + i))
    state = first.state_dict()
    again = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    again.restore(state)
    rows = []
    t1 = t0 + 29 + 40                   # the agent was down 40 s
    for i in range(10):
        rows += again.push(live(t1 + i, t1 + i))
    assert again.restart_gaps == 1 and not again.moves, (again.restart_gaps, again.moves)
    gap = again.last_restart_gap            # on health: the 39 ticks between t0 + 29 and t1 not run
    assert gap is not None and gap["skipped_s"] == 39.0 and gap["to"] == iso(again.tick_of(t1)), gap
    # the last run's open ticks close, then the first new tick: none for the 40 s the agent was down
    ticks = [again.tick_of(r.ts) for r in rows]
    assert ticks and not [k for k in ticks if again.tick_of(t0 + 29) < k < again.tick_of(t1)], ticks
    assert not np.any([r.missing.any() for r in rows])
    t2 = t1 + 10 + 120                  # the device's clock jumps 2 min ahead while the agent runs
    for i in range(10):
        rows += again.push(live(t2 + i, t2 + i - 120))
    assert again.moves == {"forward": 1} and again.restart_gaps == 1, (again.moves, again.restart_gaps)


def test_no_data_after_a_restart_closes_the_ticks_as_an_outage_once_the_wait_is_over():
    first = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    t0 = time.time() - 600
    for i in range(30):
        first.push(live(t0 + i, t0 + i))
    again = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    again.restore(first.state_dict())
    start = t0 + 29 + 40                # the agent is up again; its sensors send nothing
    assert again.flush_until(start) == []           # waiting the aligner's reach for the first data
    rows = again.flush_until(start + again.reach_ticks + 1)
    assert rows and rows[-1].missing.all() and again.restart_gaps == 0, [r.ts for r in rows[-3:]]


def test_data_back_after_a_silence_the_clock_closed_is_no_time_base_move():
    """Fails on the code before this test: every sensor silent for a minute while the agent runs (a
    sender restarted, the network down), then back on time — the wall clock had closed the minute as
    an outage, yet the first record back was taken for a jump of the data's time base (WARNING `time
    base moved: the data jumped +1.0 min`, `forward` counted, which README tells operators to alert
    on). A device clock that does jump while the data flows is still a move."""
    al = Aligner(["a", "b"], 1.0, carry_forward_s=2, lateness_ticks=1, rejects=Rejects(), max_gap_ticks=17)
    t0 = time.time() - 600
    rows = []
    for i in range(30):
        rows += al.push(live(t0 + i, t0 + i)) + al.flush_until(t0 + i - 1.5)
    for i in range(30, 90):             # a minute with nothing: the wall clock closes its ticks
        rows += al.flush_until(t0 + i - 1.5)
    silent = [r for r in rows if r.missing.all()]
    assert len(silent) > 50, len(silent)            # the outage is there, as missing ticks
    for i in range(90, 100):
        rows += al.push(live(t0 + i, t0 + i)) + al.flush_until(t0 + i - 1.5)
    assert not al.moves, al.moves
    back = [r for r in rows if r.ts >= t0 + 90]
    assert back and not any(r.missing.any() for r in back), [r.ts for r in back]
    t2 = t0 + 100 + 120                 # now the device's clock jumps 2 min ahead while the data flows
    for i in range(10):
        rows += al.push(live(t2 + i, t2 + i - 120)) + al.flush_until(t2 + i - 120 - 1.5)
    assert al.moves == {"forward": 1}, al.moves
