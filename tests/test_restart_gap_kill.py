"""kill -9 while a sender's first record back from a silence is held: a real agent process, its
checkpoint and a restart (clock16; the turn-by-turn cases are in tests/test_restart_gap_held.py).

The sender (stdin, stamps 5 s ahead of this host's clock — a device clock running fast, well within
window.max_clock_skew_s) goes silent 8 s; the wall clock (idle_flush_s) closes the silence as
missing ticks while the agent runs, so checkpoints go on being written, and the record back is held
until the wall clock passes it, 5 s on: the test waits for a checkpoint holding it, kills the agent,
starts it again and sends again. The old code said `restart gap: +4 s from the checkpoint's last
tick …:25.000 to the first new data …:29.200` — the silence's tail, up to the held record — and
closed the real downtime after it (5.3 s) as missing ticks; now the gap runs from the held record's
tick to the first new data."""
from __future__ import annotations

import json
import threading
import time

import yaml

from agent.checkpoint import CHECKPOINT_FILE, CheckpointRefused, decode
from conftest import wait_for
from restart_helpers import AgentProcess, resumed_run

TICK, AHEAD = 0.1, 5.0


def line() -> str:
    t = time.time()
    return json.dumps({"ts": round(t + AHEAD, 3), "a": 10 + (t * 7) % 1, "b": 5 + (t * 13) % 1}) + "\n"


def send(agent: AgentProcess, n: int) -> None:
    cadence = threading.Event()
    for _ in range(n):
        agent.feed([line()])
        cadence.wait(TICK)              # the device's cadence: the input, not a wait on the agent


def held_in_checkpoint(tmp) -> list[float]:
    try:
        _, state = decode((tmp / "state" / CHECKPOINT_FILE).read_bytes())
    except (OSError, CheckpointRefused):
        return []
    return [float(t) for t in state["aligner"]["held"]["ts"]]


def iso_tick(ts: float) -> str:
    k = int(ts / TICK + 1e-6)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(k * TICK)) + f".{int(round(k * TICK * 1000)) % 1000:03d}Z"


def test_a_kill_while_the_record_back_from_a_silence_is_held_skips_the_downtime_after_it(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "node": {"id": "gw-h", "site": "lab"}, "tick_s": TICK, "topology": "group", "sensors": ["a", "b"],
        "sources": [{"type": "stdin"}],
        "window": {"steps": 16, "carry_forward_s": 2 * TICK, "lateness_ticks": 1, "idle_flush_s": 1.5 * TICK},
        "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": 1}))
    first = AgentProcess(tmp_path, cfg, "run1")
    try:
        first.ready()
        send(first, 60)
        threading.Event().wait(8.0)     # the sender silent 8 s: the input
        back = line()
        first.feed([back])
        back_ts = json.loads(back)["ts"]
        wait_for(lambda: any(abs(t - back_ts) < 1e-3 for t in held_in_checkpoint(tmp_path)),
                 "a checkpoint holding the record back from the silence", 30, first.proc)
    finally:
        killed = time.time()
        first.kill()                    # SIGKILL
    first_new, err, (start, to) = resumed_run(tmp_path, cfg, lambda second: (json.loads(line())["ts"],
                                                                          send(second, 40))[0])
    # From the held record's tick (old code: from the checkpoint's last closed tick, 4 s before it,
    # to the held record's: the silence) — or from when the checkpoint holding it was written, if
    # ticks ended without data in between (the agent alive: clock17) — to the first new data, after
    # the downtime.
    assert iso_tick(back_ts) <= start <= iso_tick(killed + AHEAD), (start, iso_tick(back_ts), err[-3000:])
    assert to >= iso_tick(first_new), (to, iso_tick(first_new))
    assert "time base moved" not in err, err[-3000:]
