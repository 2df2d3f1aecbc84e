"""What the silence's sign of life (agent/alive.py `_alive_due`, ALIVE_S) costs: one write, the
check each loop turn, and the writes per hour of silence (flash wear on a gateway).

The write is the agent's own: a real `Agent` (stdin source, numpy tier, its state_dir in --dir: put
it on the filesystem the gateway's state_dir lives on) whose checkpoint was written, then silent:
`_mark_alive` writes `alive.json` (temporary file, fsync, rename, directory fsync). The check is
`_alive_due` when not due (every loop turn pays it). Interleaved, N of each, p50/p90 in µs.
Then an alert opens (a step on `a`) and the write that replaces the touch while data flows with it above the
threshold (`_mark_above`, clock26: alive.json read, its claim kept, the alert's last tick above added, written
atomically), N times: mark_above_us, at most one each ALIVE_S while an alert is above.

    python bench/alive.py [--dir /var/lib/stad-edge-bench] [-n 300]

Prints JSON: write_us, check_us (p50, p90), bytes per write, writes and bytes per hour of silence,
the machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=None, help="where the state_dir goes (default: a temp dir)")
    ap.add_argument("-n", type=int, default=300)
    args = ap.parse_args()
    from agent.config import from_dict
    from agent.records import Record
    from agent.alive import ALIVE_FILE, ALIVE_S
    from agent.service import Agent

    base = Path(tempfile.mkdtemp(dir=args.dir, prefix="stad-alive-"))
    cfg = from_dict({"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sources": [{"type": "stdin"}],
                     "window": {"steps": 16, "carry_forward_s": 2}, "warmup": {"ticks": 20},
                     "scoring": {"chain": ["numpy"]}, "sinks": [], "state_dir": str(base / "state")},
                    base_dir=str(base))
    agent = Agent(cfg)
    now = time.time()
    for i in range(60):                 # a minute of data up to now, then the checkpoint, then silence
        agent.records_in += 1
        agent._intake(Record(ts=now - 60 + i, values={"a": 1.0 + i % 3, "b": 2.0 + i % 2}, received=now - 60 + i), None)
    assert agent.save_checkpoint() is not None
    path = base / "state" / ALIVE_FILE
    write, check = [], []
    for _ in range(args.n):
        t = time.perf_counter()
        agent._mark_alive()
        write.append(time.perf_counter() - t)
        t = time.perf_counter()
        agent._alive_due(float("-inf"))     # not due: what every loop turn pays
        check.append(time.perf_counter() - t)
    assert path.exists()
    size = path.stat().st_size
    for i in range(10):                 # a step on `a`: an alert opens
        agent.records_in += 1
        agent._intake(Record(ts=now + i, values={"a": 50.0, "b": 2.0 + i % 2}, received=now + i), None)
    assert agent.pipeline.alerts.open is not None
    above = []
    for _ in range(args.n):
        agent._above_kept = None        # (its last tick above moved: due)
        t = time.perf_counter()
        wrote = agent._mark_above()
        above.append(time.perf_counter() - t)
        assert wrote
    above_size = path.stat().st_size
    agent._close(True)
    shutil.rmtree(base)
    per_hour = 3600.0 / ALIVE_S
    out = {"alive_s": ALIVE_S, "n": args.n, "dir": str(base.parent),
           "write_us": {"p50": float(np.median(write)) * 1e6, "p90": float(np.quantile(write, 0.9)) * 1e6},
           "check_us": {"p50": float(np.median(check)) * 1e6, "p90": float(np.quantile(check, 0.9)) * 1e6},
           "bytes_per_write": size, "writes_per_hour_of_silence": per_hour,
           "bytes_per_hour_of_silence": per_hour * size, "writes_per_hour_while_data_flows": 0,
           "mark_above_us": {"p50": float(np.median(above)) * 1e6, "p90": float(np.quantile(above, 0.9)) * 1e6},
           "bytes_per_mark_above": above_size, "mark_above_writes_per_hour_while_an_alert_is_above": per_hour,
           "load": os.getloadavg(), "machine": machine_info(packages=("numpy",))}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
