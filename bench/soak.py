"""A soak for a gateway left running for months: does anything the agent keeps grow without bound?
Prints JSON: per sample (every simulated day) the ticks, RSS, the state directory's bytes per file,
the health message's and the Prometheus page's bytes, and the length of every container the agent
holds (found by walking its objects, so a list nobody thought of is measured too); then, per
quantity, the slope over the run's second half and the ones that keep growing (`growing`).

    python bench/soak.py [--days 60] [--lives 4] [--seed 3] [--dir DIR] [--scorer tflite|numpy] [--keep] [--trim] [--no-mqtt]

What runs: the real agent (agent.service.Agent, in this process so its containers can be read
between ticks: the sampling runs in the agent's loop thread, at a tick, nothing else changes)
on configs/demo.yaml's corridor, unpaced (`speed: 0`), 30-s ticks, the simulator's seeded schedule
of every anomaly kind (an incident, spike, drift, stuck, dead or dropout every 3 simulated hours:
alerts and sensor faults come and go all run long), an MQTT sink to a real Mosquitto on a free
loopback port, a JSONL sink, a Prometheus endpoint (read every sample), checkpoints every 2 s.
Churn: the first half is `--lives` lives, each stopped (as systemd does) and started again from
the checkpoint, the simulator continuing where the last life stopped; the second half is one life,
so its slopes are not the restarts' saw. In both halves the broker goes away for two simulated days
(every 10 days; the outbox holds the events) and comes back; a new bundle is dropped into
`scoring.models_dir` (the one before the last removed, as a delivery job keeping two does) and swapped in
(shadow, then the swap) every 5 days (day 1, 6, 11, …)

A quantity is `growing` when over the second half its least-squares slope is positive and it rose
by more than 5 % and more than GROWTH_FLOOR (per kind) from the half's first sample to its last.
The slope is per simulated day. Needs mosquitto and mosquitto_passwd (bench/chaos.py's Broker). The agent
imported is the one on PYTHONPATH (`PYTHONPATH=/path/to/a/checkout`: another branch's, for a before/after).
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from collections import deque
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos import GW_PASSWORD, Broker, free_port  # noqa: E402
from machine import machine_info  # noqa: E402

from agent.config import load  # noqa: E402
from agent.service import Agent, return_free_heap  # noqa: E402

TICK_S = 30.0
DAY_TICKS = int(86400 / TICK_S)
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
#: A rise smaller than this over the second half is noise, not growth (RSS in KiB; bytes; lengths).
GROWTH_FLOOR = {"rss_kib": 2048, "state_bytes": 64 * 1024, "payload_bytes": 512, "len": 8}
_SKIP = (type, type(sys), type(len), type(lambda: 0), logging.Logger)


def container_sizes(root, max_depth: int = 9) -> dict[str, int]:
    """Length of every dict, list, deque, set and numpy array reachable from `root` through the agent's own
    objects (classes of the `agent` package), by attribute path; the items of a container are walked under
    `[*]` with their lengths summed, so a dict of per-alert dicts is one path. Each object is counted once."""
    out: dict[str, int] = {}
    seen: set[int] = set()

    def walk(obj, path: str, depth: int) -> None:
        if id(obj) in seen or depth > max_depth or isinstance(obj, _SKIP):
            return
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            out[path] = out.get(path, 0) + int(obj.size)
            return
        if isinstance(obj, (str, bytes)):
            if len(obj) > 256:
                out[path] = out.get(path, 0) + len(obj)
            return
        if isinstance(obj, dict):
            out[path] = out.get(path, 0) + len(obj)
            for v in list(obj.values()):
                walk(v, path + "[*]", depth + 1)
            return
        if isinstance(obj, (list, tuple, deque, set, frozenset)):
            if not isinstance(obj, tuple):
                out[path] = out.get(path, 0) + len(obj)
            for v in list(obj):
                walk(v, path + "[*]", depth + 1)
            return
        module = type(obj).__module__ or ""
        if not module.startswith("agent"):
            return
        attrs = dict(getattr(obj, "__dict__", {}))
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                attrs[slot] = getattr(obj, slot)
        for name, v in attrs.items():
            walk(v, f"{path}.{name}", depth + 1)

    walk(root, "agent", 0)
    return out


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def dir_bytes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def drop_bundle(models: Path, n: int) -> None:
    """A copy of the demo bundle under another model_id, moved into models_dir whole (as a delivery does);
    the one before the last removed."""
    tmp = models / f".soak-{n}"
    shutil.copytree(DEMO_BUNDLE, tmp)
    manifest = json.loads((tmp / "manifest.json").read_text())
    manifest["model_id"] = f"soak-{n}"
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (tmp / "manifest.sig").unlink(missing_ok=True)
    tmp.rename(models / f"soak-{n}")
    shutil.rmtree(models / f"soak-{n - 2}", ignore_errors=True)     # the delivery job keeps the newest two


def write_config(work: Path, broker_port: int, metrics_port: int, start: str, seed: int, scorer: str,
                 mqtt: bool = True) -> Path:
    cfg = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    cfg["sources"] = [{"type": "simulate", "scenario": "corridor", "seed": seed, "start": start, "speed": 0,
                       "anomaly_every_s": 3 * 3600.0}]
    cfg["scoring"] = {"chain": [scorer, "numpy"] if scorer != "numpy" else ["numpy"],
                      "bundle": "builtin:demo-corridor", "models_dir": str(work / "models"),
                      "models_poll_ticks": 16, "shadow_ticks": 60, "shadow_min_agreement": 0.0}
    (work / "gw.pw").write_text(GW_PASSWORD + "\n")
    cfg["sinks"] = [{"type": "jsonl", "path": str(work / "alerts.jsonl")}] + ([] if not mqtt else [
                    {"type": "mqtt", "health_interval_s": 1,
                     "broker": {"host": "127.0.0.1", "port": broker_port, "username": "gw",
                                "password": {"file": str(work / "gw.pw")}, "reconnect_min_s": 1,
                                "reconnect_max_s": 2}}])
    cfg["metrics"] = {"listen": f"127.0.0.1:{metrics_port}"}
    cfg["state_dir"] = str(work / "state")
    cfg["checkpoint_s"] = 2
    path = work / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class Soak:
    """The run: lives of the agent, the churn at simulated-day marks, a sample every day."""

    def __init__(self, args, work: Path):
        self.args, self.work = args, work
        self.total = args.days * DAY_TICKS
        self.broker = Broker(work / "broker")
        self.broker.dir.mkdir()
        self.broker.start()
        (work / "models").mkdir()
        self.metrics_port = free_port()
        # Samples go to a file, not a list: kept in this process, they were the RSS's slow rise (~50 KiB a day).
        self.samples_file = (work / "samples.jsonl").open("a")
        self.events: list[dict] = []
        self.swaps = 0

    def _at_tick(self, agent: Agent, tick: int, life_end: int) -> None:
        """Called in the agent's loop thread after each tick (nothing else runs in it meanwhile)."""
        if tick % DAY_TICKS:
            return
        day = tick // DAY_TICKS
        if day % 10 == 3 and self.broker.up:
            self.broker.stop(signal.SIGKILL)
            self.events.append({"day": day, "broker": "killed"})
        elif day % 10 == 5 and not self.broker.up:
            self.broker.start()
            self.events.append({"day": day, "broker": "started"})
        if day % 5 == 1 and self.args.scorer != "numpy":
            self.swaps += 1
            drop_bundle(self.work / "models", self.swaps)
            agent.hotswap.request("soak")
            self.events.append({"day": day, "bundle": f"soak-{self.swaps}"})
        self.samples_file.write(json.dumps(self.sample(agent, tick), default=float) + "\n")
        self.samples_file.flush()
        if tick >= life_end:
            agent.stop("soak: the life's end")

    def sample(self, agent: Agent, tick: int) -> dict:
        gc.collect()
        try:
            page = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read()
        except OSError:
            page = b""
        snap = agent.health_snapshot()
        rss = rss_kib()
        if self.args.trim:      # what of the RSS is free heap glibc had not given back (malloc_trim), not in use
            return_free_heap()
        return {"tick": tick, "day": round(tick / DAY_TICKS, 2), "rss_kib": rss, "rss_trimmed_kib": rss_kib(),
                "state": dir_bytes(self.work / "state"),
                "jsonl_bytes": (self.work / "alerts.jsonl").stat().st_size if (self.work / "alerts.jsonl").exists() else 0,
                "health_bytes": len(json.dumps(snap)), "metrics_bytes": len(page),
                "metric_series": sum(1 for line in page.decode().splitlines() if line and not line.startswith("#")),
                "gc_objects": len(gc.get_objects()), "sizes": container_sizes(agent)}

    def run(self) -> None:
        half = self.total // 2
        life_ends = [half * (i + 1) // self.args.lives for i in range(self.args.lives)] + [self.total]
        start, ticks = "2026-01-05T00:00:00Z", 0
        for n, end in enumerate(life_ends):
            path = write_config(self.work, self.broker.port, self.metrics_port, start, self.args.seed + n,
                                self.args.scorer, mqtt=not self.args.no_mqtt)
            agent = Agent(load(path), config_path=str(path))
            base = agent.pipeline.ticks - ticks     # a resumed checkpoint's count goes on from the last life's
            soak = self

            class Probe:
                """Runs `_at_tick` after each tick of this life (the agent's own loop calls it)."""
                def __init__(self, step):
                    self.step = step

                def __call__(self, row):
                    res = self.step(row)
                    soak._at_tick(agent, agent.pipeline.ticks - base, end)
                    return res

            agent.pipeline.step = Probe(agent.pipeline.step)
            summary = agent.run()
            ticks = agent.pipeline.ticks - base
            last = float(agent.pipeline.window.ts[-1])
            start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last + TICK_S))
            self.events.append({"day": round(ticks / DAY_TICKS, 2), "life_end": n, "exit": summary["exit_reason"],
                                "tier": summary["tier"], "alerts": summary["alerts_raised"]})
        if not self.broker.up:
            self.broker.start()
        self.broker.stop(signal.SIGTERM)


def flatten(s: dict) -> dict[str, tuple[str, float]]:
    """Every measured quantity of a sample: name → (kind, value)."""
    out = {"rss_kib": ("rss_kib", s["rss_kib"]), "rss_trimmed_kib": ("rss_kib", s["rss_trimmed_kib"]), "gc_objects": ("len", s["gc_objects"]),
           "health_bytes": ("payload_bytes", s["health_bytes"]), "metrics_bytes": ("payload_bytes", s["metrics_bytes"]),
           "metric_series": ("len", s["metric_series"]), "jsonl_bytes": ("state_bytes", s["jsonl_bytes"])}
    out.update({f"state/{k}": ("state_bytes", v) for k, v in s["state"].items()})
    out.update({k: ("len", v) for k, v in s["sizes"].items()})
    return out


def slopes(samples: list[dict]) -> tuple[dict, list[dict]]:
    """Per quantity over the second half: the slope per day, first and last; those growing (see module doc)."""
    second = samples[len(samples) // 2:]
    rows: dict[str, dict] = {}
    growing = []
    names = set().union(*(flatten(s).keys() for s in second)) if second else set()
    for name in sorted(names):
        points = [(s["day"], flatten(s).get(name, (None, 0))) for s in second]
        kind = next(k for _, (k, _) in points if k is not None)
        days = np.array([d for d, _ in points], dtype=float)
        vals = np.array([v for _, (_, v) in points], dtype=float)
        slope = float(np.polyfit(days, vals, 1)[0]) if len(set(days)) > 1 else 0.0
        row = {"slope_per_day": round(slope, 3), "first": vals[0], "last": vals[-1], "max": vals.max()}
        rows[name] = row
        rise = vals[-1] - vals[0]
        if slope > 0 and rise > GROWTH_FLOOR[kind] and rise > 0.05 * max(abs(vals[0]), 1):
            growing.append({"quantity": name, **row})
    return rows, growing


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=60, help="simulated days in all")
    p.add_argument("--lives", type=int, default=4, help="lives (restarts from the checkpoint) in the first half")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--scorer", choices=["tflite", "onnx", "numpy"], default="tflite")
    p.add_argument("--dir", help="work directory (default: a temporary one, removed unless --keep)")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--samples", action="store_true", help="print every sample's sizes too")
    p.add_argument("--no-mqtt", action="store_true", help="the JSONL sink only (the broker's outages then change nothing)")
    p.add_argument("--trim", action="store_true",
                   help="at each sample, after reading the RSS, give glibc's free heap pages back (malloc_trim) "
                        "and read it again (rss_trimmed_kib): free heap or memory in use?")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="stad-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)      # mosquitto, dropped to its user under root, reads its directory
    started = time.monotonic()
    soak = Soak(args, work)
    try:
        soak.run()
    finally:
        if soak.broker.up:
            soak.broker.stop(signal.SIGTERM)
    soak.samples_file.close()
    samples = [json.loads(line) for line in (work / "samples.jsonl").read_text().splitlines()]
    rows, growing = slopes(samples)
    keys = ("tick", "day", "rss_kib", "rss_trimmed_kib", "health_bytes", "metrics_bytes", "metric_series", "gc_objects", "jsonl_bytes", "state")
    result = {"machine": machine_info(), "args": vars(args), "wall_s": round(time.monotonic() - started, 1),
              "events": soak.events, "growing": growing,
              "samples": [s if args.samples else {k: s[k] for k in keys} for s in samples],
              "second_half": {k: v for k, v in rows.items() if not k.startswith("agent") or args.samples}}
    if not args.keep and not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1, default=float))
    return result


if __name__ == "__main__":
    main()
