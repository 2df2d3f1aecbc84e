"""A SIGTERM while `warmup.replay` is read stops the agent within a bounded time (agent/warmup.py
ReplayStopped), exit 0, and leaves no checkpoint of the half-read warm-up (the next start reads the
recording again). Before, the stop waited for the whole read and the fit: on the code before this
test the agent exited 0 only after reading all 600,000 recorded ticks here and fitting (the test took
25 s and failed: no stop line); now it stops 1,023 ticks in, 0.06 s after the SIGTERM. A month of a real skid took minutes: past TimeoutStopSec.

A real `python -m agent run` under a NOTIFY_SOCKET this test binds; the recording made here.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import yaml

from conftest import NotifySocket, agent_env

T0 = 1_700_000_000
FILES, ROWS = 4, 150_000          # 600,000 ticks: ~20 s to read on an idle x86-64 core


def write_recording(folder: Path) -> int:
    folder.mkdir()
    rng = np.random.default_rng(18)
    for f in range(FILES):
        t = T0 + f * ROWS + np.arange(ROWS)
        data = np.column_stack([t, 10 + 0.2 * rng.standard_normal(ROWS), 5 + 0.2 * rng.standard_normal(ROWS)])
        np.savetxt(folder / f"day{f}.csv", data, fmt=["%.0f", "%.3f", "%.3f"], delimiter=",",
                   header="timestamp,a,b", comments="")
    return FILES * ROWS


def test_sigterm_during_the_replay_stops_at_once_and_writes_no_checkpoint(tmp_path):
    total = write_recording(tmp_path / "recorded")
    live = tmp_path / "live.csv"
    live.write_text("timestamp,a,b\n" + "".join(f"{T0 + total + 10 + i},10,5\n" for i in range(50)))
    cfg = {"sensors": ["a", "b"], "tick_s": 1, "topology": "none",
           "sources": [{"type": "replay", "path": str(live)}], "window": {"steps": 16, "carry_forward_s": 2},
           "warmup": {"ticks": 200, "replay": "recorded"}, "scoring": {"chain": ["numpy"]},
           "sinks": [], "state_dir": "state", "checkpoint_s": 1}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    notify = NotifySocket(f"@stad-clock18-{uuid.uuid4().hex[:12]}")
    env = agent_env(NOTIFY_SOCKET=notify.address)
    env.pop("WATCHDOG_USEC", None)
    err = tmp_path / "agent.stderr"
    try:
        with err.open("w") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=tmp_path,
                                    env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            # The read's first ping (at its first record) says the replay is under way.
            deadline = time.monotonic() + 120
            while not notify.lines("EXTEND_TIMEOUT_USEC"):
                assert proc.poll() is None, err.read_text()
                assert time.monotonic() < deadline, "the replay's first ping did not come within 120 s"
                with notify.lock:
                    notify.lock.wait(0.5)
            assert any(m.startswith("STATUS=warming up: ") and m.endswith("recorded ticks read")
                       for m in notify.lines("STATUS="))
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            code = proc.wait(timeout=60)          # generous for a loaded machine; the whole read is ~20 s idle
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        notify.close()
    log = err.read_text()
    assert code == 0, log
    stopped = re.search(r"warm-up: a stop was asked after ([\d,]+) recorded ticks read of warmup.replay: "
                        r"not fitted, no checkpoint written", log)
    assert stopped, log
    read = int(stopped.group(1).replace(",", ""))
    print(f"stopped after {read} ticks read, {took:.2f} s after SIGTERM")
    assert read < ROWS, (read, took)          # stopped inside the newest file, not after the read
    assert "fitting on" not in " ".join(notify.lines("STATUS=")), "the fit ran after the stop"
    state = tmp_path / "state"
    assert not (state / "checkpoint.bin").exists() and not (state / "alive.json").exists(), \
        sorted(p.name for p in state.iterdir())
    assert "stopped: signal SIGTERM" in log, log
