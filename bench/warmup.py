"""What a long `warmup.replay` costs at start: peak RSS, time to READY=1, the ticks the fit used.

An integrator gives the agent all the normal data they have: a week or a month of 1-s recordings of
an 8-sensor pump skid. The shipped unit allows MemoryMax=512M and TimeoutStartSec=120 (extended only
by the agent's EXTEND_TIMEOUT_USEC), so both figures decide whether that gateway ever starts.

The recordings are made here, one CSV per day in a temp dir (never copied data): the skid's tags
(suction and discharge pressure, flow, motor current, winding and fluid temperature, vibration,
valve position) around their operating points with a day's cycle, a shared load factor and noise.
Each length is a fresh `stad-agent run --max-ticks 3` (numpy tier, a short replay as the live
source after the recording) under a NOTIFY_SOCKET this bench binds: the time from start to READY=1
and every EXTEND_TIMEOUT_USEC / WATCHDOG=1 before it; its own VmHWM (bench/machine.py RSS_CHILD);
the warm-up's log line (what it used, what it skipped).

    python bench/warmup.py [--days 1 7 28] [--trees /path/to/old/checkout .] [--one-file] [--out warmup.json]

`--trees`: the agent of each checkout in turn for every length (interleaved in one run, so the load
is shared alike); default this checkout.

Prints JSON: one object per length with peak_rss_mb, ready_s, cpu_s (the run's user + system), extend (count and the largest gap
between two before READY), watchdog pings before READY, the warm-up line; and the machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import RSS_CHILD, machine_info, out_file  # noqa: E402

#: name, operating point, daily swing (share of the point), noise std (share of the point)
SKID = [("PT101", 1.5, 0.05, 0.01), ("PT102", 5.1, 0.08, 0.008), ("FT101", 40.0, 0.15, 0.01),
        ("IT101", 19.7, 0.10, 0.008), ("TT101", 44.0, 0.04, 0.002), ("TT102", 27.0, 0.06, 0.003),
        ("VT101", 2.25, 0.05, 0.03), ("ZT101", 65.0, 0.05, 0.005)]
DAY = 86_400
START = 1_795_000_000          # 2026-11-18T...Z: the first recorded day


def write_days(folder: Path, days: int, seed: int = 7) -> list[Path]:
    """`days` CSV files of 1-s ticks, one per day, named by date (replay order is name order)."""
    rng = np.random.default_rng(seed)
    files = []
    for d in range(days):
        t0 = START + d * DAY
        t = np.arange(DAY, dtype=float)
        load = 1 + 0.5 * np.sin(2 * np.pi * t / DAY) + 0.05 * np.cumsum(rng.normal(0, 0.002, DAY))
        cols = [(point * (1 + swing * load) + rng.normal(0, noise * point, DAY)) for _, point, swing, noise in SKID]
        stamps = np.array([time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t0 + s)) for s in range(0, DAY)])
        path = folder / f"skid1_{time.strftime('%Y-%m-%d', time.gmtime(t0))}.csv"
        with open(path, "w") as fh:
            fh.write("timestamp," + ",".join(n for n, *_ in SKID) + "\n")
            body = np.column_stack([c.round(3) for c in cols])
            for stamp, row in zip(stamps, body.tolist()):
                fh.write(stamp + "," + ",".join(f"{v:.3f}" for v in row) + "\n")
        files.append(path)
    return files


def config(folder: Path, recording: Path, live: Path, state: Path) -> dict:
    return {
        "node": {"id": "bench-skid1"}, "tick_s": 1, "topology": "group",
        "sensors": [{"name": n, "group": "skid1"} for n, *_ in SKID],
        "sources": [{"type": "replay", "path": str(live), "speed": 0}],
        "window": {"steps": 64, "carry_forward_s": 5, "lateness_ticks": 1},
        "warmup": {"ticks": 1800, "fit_fraction": 0.7, "replay": str(recording)},
        "scoring": {"chain": ["numpy"]},
        "threshold": {"method": "pot", "risk": 0.0001, "init_quantile": 0.98},
        "sinks": [{"type": "jsonl", "path": str(state / "alerts.jsonl")}],
        "state_dir": str(state), "log_level": "info",
    }


class Notify:
    """A bound NOTIFY_SOCKET: each datagram's lines with their arrival time."""

    def __init__(self, path: Path):
        self.address = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.address)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.done = False
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        while not self.done:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages += [(time.monotonic(), line) for line in data.decode().splitlines()]

    def close(self) -> None:
        self.done = True
        self.thread.join()
        self.sock.close()


def run(days: int, day_files: list[Path], work: Path, tree: Path, one_file: bool = False) -> dict:
    case = work / f"d{days}-{abs(hash(str(tree)))}"
    recording, state = case / "recording", case / "state"
    recording.mkdir(parents=True)
    if one_file:                # the days in one file: longer than the bound, so read from its tail
        with open(recording / "skid1.csv", "w") as out:
            for i, f in enumerate(day_files[-days:]):
                with open(f) as fh:
                    out.writelines(fh if i == 0 else list(fh)[1:])
    else:
        for f in day_files[-days:]:
            (recording / f.name).symlink_to(f)
    live = case / "live.csv"
    t_live = START + len(day_files) * DAY + 3600
    live.write_text("timestamp," + ",".join(n for n, *_ in SKID) + "\n" + "".join(
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t_live + s)) + ","
        + ",".join(f"{p:.3f}" for _, p, *_ in SKID) + "\n" for s in range(10)))
    cfg = case / "skid.yaml"
    cfg.write_text(yaml.safe_dump(config(case, recording, live, state)))
    notify = Notify(case / "notify.sock")
    env = dict(os.environ, PYTHONPATH=str(tree), NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="30000000")
    load = os.getloadavg()
    before_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", RSS_CHILD, "run", "-c", str(cfg), "--max-ticks", "3"],
                         cwd=tree, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    after_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after_cpu.ru_utime + after_cpu.ru_stime - before_cpu.ru_utime - before_cpu.ru_stime
    notify.close()
    ready = [t for t, m in notify.messages if m == "READY=1"]
    before = [(t, m) for t, m in notify.messages if not ready or t < ready[0]]
    extends = [t0] + [t for t, m in before if m.startswith("EXTEND_TIMEOUT_USEC=")]
    hwm = [line.split()[1] for line in res.stderr.splitlines() if line.startswith("VmHWM_kB")]
    warm = [line.split("stad.", 1)[-1] for line in res.stderr.splitlines() if "warm-up" in line and "tick" in line]
    return {"tree": str(tree), "days": days, "one_file": one_file, "ticks": days * DAY, "rc": res.returncode,
            "peak_rss_mb": round(int(hwm[0]) / 1024, 1) if hwm else None,
            "ready_s": round(ready[0] - t0, 1) if ready else None, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "extend_timeout_msgs": len(extends) - 1,
            "max_gap_between_extends_s": round(max(np.diff(extends + ready[:1]), default=0.0), 1),
            "watchdog_before_ready": sum(m == "WATCHDOG=1" for _, m in before),
            "loadavg_1m_at_start": round(load[0], 2),
            "warmup_log": warm[:4], "stderr_tail": None if res.returncode == 0 else res.stderr[-2000:]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, nargs="+", default=[1, 7, 28])
    ap.add_argument("--trees", type=Path, nargs="+", default=[ROOT])
    ap.add_argument("--one-file", action="store_true", help="each length as one file, not a file a day")
    ap.add_argument("--out", type=out_file)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stad-warmup-") as tmp:
        work = Path(tmp)
        (work / "days").mkdir()
        t0 = time.monotonic()
        day_files = write_days(work / "days", max(args.days))
        made_s = time.monotonic() - t0
        results = [run(d, day_files, work, tree.resolve(), args.one_file) for d in args.days for tree in args.trees]
    out = {"bench": "warmup", "recordings_written_s": round(made_s, 1), "results": results,
           "machine": machine_info(packages=("numpy",)), "cpu_count": os.cpu_count()}
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
