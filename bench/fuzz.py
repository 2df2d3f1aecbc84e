"""Fuzzed input through the real agent (stdin and udp): records sent and taken, rejects by reason,
throughput, the agent's peak RSS, and the cost of one 25 MB line. Prints JSON.

Run: python bench/fuzz.py [--records 200000] [--seed 1] [--udp-rate 2000]

The agent runs as `python -m agent run` (numpy tier, 3 sensors, 1 ms ticks so that a live stream
of many records stays within the host-clock skew allowed). Every fuzzed record is one of the kinds
below; the agent's summary line gives what it took and rejected, by reason.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TICK_S = 0.001
CONFIG = """
tick_s: {tick}
sensors: [a, b, c]
sources: [{source}]
warmup: {{ticks: 300}}
window: {{steps: 8, lateness_ticks: 1, carry_forward_s: 0.003}}
scoring: {{chain: [numpy]}}
sinks: [{{type: jsonl, path: alerts.jsonl}}]
state_dir: state
log_level: error
"""

# kind -> weight; 'valid' lines are the only ones meant to be taken whole
KINDS = {"valid": 70, "junk": 4, "truncated json": 3, "bad time": 3, "unknown sensor": 3, "nan value": 3,
         "far future": 3, "year 2099": 1, "no ts": 2, "duplicate": 3, "late": 3, "long line": 1, "u2028": 1}


def fuzz_lines(n: int, seed: int, t0: float) -> tuple[list[bytes], dict[str, int]]:
    rng = random.Random(seed)
    kinds, weights = zip(*KINDS.items())
    lines, made, k = [], {kind: 0 for kind in kinds}, 0
    for _ in range(n):
        kind = rng.choices(kinds, weights)[0]
        made[kind] += 1
        ts = t0 + k * TICK_S
        if kind == "valid":
            k += 1
            obj = {"ts": ts, "a": rng.gauss(10, 1), "b": rng.gauss(5, 1), "c": rng.random()}
        elif kind == "junk":
            lines.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 60))).replace(b"\n", b" "))
            continue
        elif kind == "truncated json":
            lines.append(json.dumps({"ts": ts, "a": 1.0}).encode()[:-3])
            continue
        elif kind == "bad time":
            obj = {"ts": rng.choice(["yesterday", None, True, [1]]), "a": 1.0}
        elif kind == "unknown sensor":
            obj = {"ts": ts, "sensor": "zz" * rng.randint(1, 4), "value": 1.0}
        elif kind == "nan value":
            lines.append(f'{{"ts": {ts}, "a": NaN}}'.encode())
            continue
        elif kind == "far future":
            obj = {"ts": ts + rng.choice([3600, 23 * 3600, 25 * 3600, 40 * 86400]), "a": 1.0}
        elif kind == "year 2099":
            obj = {"ts": 4_070_908_800.0, "a": 1.0}
        elif kind == "no ts":
            obj = {"b": 1.0}
        elif kind == "duplicate":
            obj = {"ts": t0 + max(k - 1, 0) * TICK_S, "a": 2.0}
        elif kind == "late":
            obj = {"ts": t0 + max(k - 50, 0) * TICK_S, "c": 0.5}
        elif kind == "long line":
            obj = {"ts": ts, "a": 1.0, "event": "x" * 200_000}
        else:   # u2028 inside a string: one line, not two
            obj = {"ts": ts, "c": 0.25, "event": "p\u2028q"}
        lines.append(json.dumps(obj, ensure_ascii=False).encode())
    return lines, made


class PeakRss:
    """The agent's own peak RSS (VmHWM), read from /proc while it runs: getrusage's figure for
    children would count the pages a child shares with this (large) process at fork."""

    def __init__(self, pid: int):
        self.pid, self.kb = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            try:
                with open(f"/proc/{self.pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            self.kb = max(self.kb, int(line.split()[1]))
            except (OSError, ValueError):
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.kb / 1024, 1)


def summary_of(stderr: str) -> dict:
    m = re.search(r"summary: (\d+) ticks, (\d+) records in, rejected (\d+) \(([^)]*)\)", stderr)
    if not m:
        raise RuntimeError(f"no summary line in the agent's output:\n{stderr[-3000:]}")
    reasons = {} if m.group(4) == "none" else {k.strip(): int(v) for k, v in
                                               (part.rsplit(":", 1) for part in m.group(4).split(", "))}
    return {"ticks": int(m.group(1)), "records_in": int(m.group(2)), "rejected": int(m.group(3)),
            "rejected_by_reason": reasons}


def run_stdin(tmp: Path, lines: list[bytes]) -> dict:
    cfg = tmp / "stdin.yaml"
    cfg.write_text(CONFIG.format(tick=TICK_S, source="{type: stdin, max_line_bytes: 65536}"))
    feed = tmp / "stdin.jsonl"
    feed.write_bytes(b"\n".join(lines) + b"\n")
    t0 = time.perf_counter()
    with feed.open("rb") as stdin:
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], stdin=stdin,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp, env=_env())
        rss = PeakRss(proc.pid)
        _, err = proc.communicate(timeout=3600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(err.decode()[-3000:])
    out = summary_of(err.decode())
    out.update({"lines_sent": len(lines), "wall_s": round(wall, 2), "lines_per_s": round(len(lines) / wall),
                "agent_peak_rss_mb": rss.stop()})
    return out


def run_udp(tmp: Path, lines: list[bytes], rate: float) -> dict:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = tmp / "udp.yaml"
    cfg.write_text(CONFIG.format(tick=TICK_S, source=f"{{type: udp, bind: 127.0.0.1, port: {port}, max_datagram: 65507}}"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        address = f"@stad-fuzz-{os.getpid()}-{port}"
        notify.bind("\0" + address[1:])
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, cwd=tmp, env={**_env(), "NOTIFY_SOCKET": address})
        rss = PeakRss(proc.pid)
        # Its port is bound once it says READY=1: a fixed 2 s lost the first datagrams, uncounted, under load
        # (chaos1: 1137 of 19788 at a load of 28 on 2 cores).
        ready_within(notify, proc, 120)
    t0 = time.perf_counter()
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i, line in enumerate(lines):
            if len(line) <= 65507:
                tx.sendto(line, ("127.0.0.1", port))
                sent += 1
            ahead = i / rate - (time.perf_counter() - t0)
            if ahead > 0.005:
                time.sleep(ahead)       # paced at `rate`; faster than the agent scores shows as 'kernel drop'
    send_s = time.perf_counter() - t0
    time.sleep(3.0)
    proc.send_signal(2)
    _, err = proc.communicate(timeout=120)
    out = summary_of(err.decode())
    out["unaccounted"] = sent - accounted(out)
    out.update({"datagrams_sent": sent, "send_s": round(send_s, 2), "datagrams_per_s_sent": round(sent / send_s),
                "rate_asked": rate, "agent_peak_rss_mb": rss.stop()})
    return out


def ready_within(notify: socket.socket, proc: subprocess.Popen, timeout: float) -> None:
    """Wait for the agent's READY=1 on its NOTIFY_SOCKET (`notify`, bound)."""
    notify.settimeout(0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the agent exited before READY: {proc.stderr.read().decode()[-3000:]}")
        try:
            if "READY=1" in notify.recv(4096).decode().splitlines():
                return
        except socket.timeout:
            continue
    raise RuntimeError(f"no READY=1 from the agent within {timeout} s")


#: Reject reasons counted per datagram (its line never became a record) rather than per value of a record.
PER_LINE = ("bad json", "bad time", "line too long", "datagram too long", "kernel drop")


def accounted(summary: dict) -> int:
    """Datagrams the agent's summary accounts for: each one line, either a record in or rejected before it
    became one (the rejects of a record's values are within `records_in`)."""
    return summary["records_in"] + sum(summary["rejected_by_reason"].get(r, 0) for r in PER_LINE)


def long_line_s(tmp: Path) -> dict:
    """One 25 MB line between two good ones, through stdin (was 12 s of re-copying, issue 12)."""
    cfg = tmp / "long.yaml"
    cfg.write_text(CONFIG.format(tick=TICK_S, source="{type: stdin}"))
    now = time.time()
    data = (json.dumps({"ts": now, "a": 1}) + "\n" + '{"a": "' + "x" * 25_000_000 + '"}\n'
            + json.dumps({"ts": now + 0.001, "a": 2}) + "\n").encode()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg)], input=data, capture_output=True,
                          cwd=tmp, timeout=600, env=_env())
    wall = time.perf_counter() - t0
    return {"bytes": len(data), "wall_s": round(wall, 2), **summary_of(proc.stderr.decode())}


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--udp-rate", type=float, default=2000.0, help="datagrams per second sent to the udp source")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        lines, made = fuzz_lines(args.records, args.seed, time.time() - 10)
        stdin = run_stdin(tmp, lines)
        lines, made_udp = fuzz_lines(args.records, args.seed + 1, time.time() + 2.0)
        udp = run_udp(tmp, lines, args.udp_rate)
        long = long_line_s(tmp)
    print(json.dumps({"benchmark": "fuzz", "records": args.records, "seed": args.seed, "kinds_sent_stdin": made,
                      "kinds_sent_udp": made_udp, "stdin": stdin, "udp": udp, "long_line_25MB": long,
                      "machine": machine_info()}, indent=2))


if __name__ == "__main__":
    main()
