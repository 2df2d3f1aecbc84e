"""Restarts: how long from `stad-agent run` to the first scored tick when a checkpoint is there,
and what a checkpoint costs (write time, size, load time) at N = 16, 64, 256. Prints JSON.

    python bench/restart.py [--repeats 5] [--bundle DIR] [--skip-model]
    python bench/restart.py --tick-s 1 0.1 0.001 [--ticks 3000] [--full]     # the checkpoint at fast ticks only
    python bench/restart.py --tick-s 1 0.1 0.001 --agent [--repeats 5] [--trees OLD .]   # the agent restarted at fast ticks
    python bench/restart.py --sensors 256 [--saves 30]      # checkpoint_cost at these N only
    python bench/restart.py --sensors 256 --trees OLD . [--rounds 4]   # …(or --tick-s) in-process, each tree's agent in turn

Restart cases (each: a first run warms up on UDP data and stops cleanly, writing its checkpoint;
then `--repeats` times: spawn, wait for READY=1, send three ticks, wait for the log line
`first tick …: scored by …`, read the agent's peak RSS, SIGTERM):
- `roadside`: configs/roadside.yaml (18 sensors, 30 s ticks, numpy after warm-up; UDP on a free
  port; the MQTT sink left out: its broker is not reachable from here; idle_flush_s and the clock
  skew check off, since the bench sends four hours of 30 s ticks within seconds);
- `skab_sized_model`: configs/skab.yaml's 8 sensors, 1 s ticks, T = 32, with a model bundle of
  the converter's default architecture (trained for one short epoch on the pump simulator, fp32
  TFLite + ONNX fp32/int8), so the model runtime's import and load are in the figure. `--bundle`
  uses an existing bundle for these sensors instead.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import yaml

# The checkout whose agent is measured: this one, or STAD_BENCH_TREE's (set by --trees for the in-process
# figures: this file run once per tree and round, that tree's agent imported; clock21).
ROOT = Path(os.environ.get("STAD_BENCH_TREE") or Path(__file__).resolve().parents[1]).resolve()
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import machine_info  # noqa: E402

from agent import config  # noqa: E402
from agent.checkpoint import CheckpointStore, fingerprint  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.topology import adjacency  # noqa: E402
from agent.window import Row  # noqa: E402

T0 = 1_767_600_000          # 2026-01-05T08:00:00Z, a multiple of 30 s
SKAB_SENSORS = ["accel1", "accel2", "current", "pressure", "temp_motor", "temp_fluid", "voltage", "flow"]


# ---- checkpoint cost ---------------------------------------------------------------------------

def checkpoint_cost(n: int, saves: int = 30) -> dict:
    sensors = [f"S{i:03d}_{q}" for i in range(n // 4) for q in ("flow", "occ", "speed", "x")]
    cfg = config.from_dict({"sensors": sensors, "sources": [{"type": "stdin"}], "tick_s": 10,
                            "topology": "corridor", "warmup": {"ticks": 400}, "scoring": {"chain": ["numpy"]}})
    pipe = Pipeline(cfg)
    rng = np.random.default_rng(0)
    x = np.zeros(n)
    for t in range(400 + 500):
        x = 0.8 * x + rng.normal(size=n)
        miss = rng.random(n) < 0.01
        pipe.step(Row(ts=t * 10.0, values=np.where(miss, np.nan, x + 50), missing=miss, carried=np.zeros(n, bool)))
    meta = {"config": fingerprint(cfg, adjacency(cfg.sensor_specs(), cfg.topology), None), "last_ts": pipe.last_ts}
    with tempfile.TemporaryDirectory(prefix="stad-bench-ckpt-") as tmp:
        store = CheckpointStore(tmp)
        writes = [store.save(meta, {"pipeline": pipe.state_dict()}) for _ in range(saves)]
        loads, trackers = [], []
        for _ in range(saves):
            t0 = time.perf_counter()
            _, state = store.load(meta["config"])
            Pipeline(cfg).restore(state["pipeline"])
            t1 = time.perf_counter()
            pipe._new_health()                  # (a fault tracker built: a restore builds two, clock21)
            loads.append(t1 - t0)
            trackers.append(time.perf_counter() - t1)
    ms = np.array([w["seconds"] for w in writes]) * 1e3
    return {"n_sensors": n, "bytes": writes[-1]["bytes"],
            "write_ms": {"p50": round(float(np.median(ms)), 2), "p99": round(float(np.percentile(ms, 99)), 2)},
            "load_and_restore_ms_p50": round(float(np.median(loads)) * 1e3, 2),
            "new_fault_tracker_ms_p50": round(float(np.median(trackers)) * 1e3, 2)}


def _corridor_at(tick_s: float, ticks: int) -> tuple[dict, list]:
    """bench/faults.py's corridor at `tick_s` (a config dict) and its simulator's first `ticks` 30-s rows
    rescaled to it."""
    import dataclasses
    from faults import config_dict, simulated_rows
    base = config_dict("corridor", 0, ticks / 120.0 + 1.0)
    rows = simulated_rows(config.from_dict(base))[:ticks]
    d = {**base, "tick_s": tick_s, "window": {**base["window"], "carry_forward_s": 3 * tick_s},
         "alerts": {**base["alerts"], "update_interval_s": 10 * tick_s}}
    return d, [dataclasses.replace(r, ts=round(r.ts / 30.0) * tick_s) for r in rows]


def _rss_kb() -> int:
    """This process's resident set now (VmRSS, kB)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def restore_phases(path: Path, cfg, row) -> dict:
    """Where a restore's time goes (ms): the file read; decode (the sha256, the JSON header, the arrays);
    a fresh Pipeline; its restore (the fault tracker, the scorer, thresholds, window); the first tick
    after it — `load_and_restore_ms` the four before the tick. `rss_growth_kb`: the resident set they and
    the tick left behind (pages written: a ring's unwritten slots need none). Then, on their own, the
    sha256 of the file (`hash_ms`, part of decode) and the fault tracker's restore into a fresh tracker
    (`tracker_restore_ms`, part of the pipeline's)."""
    from agent.checkpoint import decode
    from agent.digest import sha256
    rss0 = _rss_kb()
    t = [time.perf_counter()]
    data = path.read_bytes()
    t.append(time.perf_counter())
    _, state = decode(data)
    t.append(time.perf_counter())
    pipe = Pipeline(cfg)
    t.append(time.perf_counter())
    pipe.restore(state["pipeline"])
    t.append(time.perf_counter())
    pipe.step(row)
    t.append(time.perf_counter())
    rss = _rss_kb() - rss0
    from agent import checkpoint
    hasher = getattr(checkpoint, "_hasher", lambda n: sha256())     # (before clock20: the builtin's, any size)
    t0 = time.perf_counter()
    digest = hasher(len(data))
    digest.update(memoryview(data))
    digest.digest()
    t1 = time.perf_counter()
    pipe._new_health().restore(state["pipeline"]["health"])
    t2 = time.perf_counter()
    ms = [round((b - a) * 1e3, 2) for a, b in zip(t, t[1:])]
    out = dict(zip(("read_ms", "decode_ms", "new_pipeline_ms", "pipeline_restore_ms", "first_tick_ms"), ms))
    return {**out, "hash_ms": round((t1 - t0) * 1e3, 2), "tracker_restore_ms": round((t2 - t1) * 1e3, 2),
            "load_and_restore_ms": round(sum(ms[:4]), 1), "rss_growth_kb": rss}


def fill_rings(pipe: Pipeline) -> None:
    """The fault tracker's two long rings full, as a run of HISTORY_S (20 min) at its tick leaves them:
    stuck's with the rows it holds, tiled; drift's departures with standard normal draws (float64 that
    does not narrow: the largest checkpoint)."""
    stuck = next(r for r in pipe.health.rules if r.KIND == "stuck")
    held = stuck.steps.ring()["rows"]
    stuck.steps.set_rows(np.resize(held, (stuck.steps.size, held.shape[1])), stuck.steps.size // 3)
    drift = next(r for r in pipe.health.rules if r.KIND == "drift")
    drift.history[:] = np.random.default_rng(1).normal(size=drift.history.shape)
    drift.history_head = drift.history.shape[0] // 5
    drift._mark_history()
    drift._used = drift.history.shape[0]          # (every slot written: the stop reads them all; clock21)


def checkpoint_at_ticks(tick_ss: list[float], ticks: int = 3000, saves: int = 5, full: bool = False) -> list[dict]:
    """The checkpoint at fast ticks (perf40): bench/faults.py's corridor (18 sensors, the shipped fault
    settings, the numpy tier), its simulator's 30-s rows rescaled to each tick_s, `ticks` of them through a
    Pipeline; then `saves` times what the stop costs — state_dict and the atomic write — and the size, the
    fault tracker's part of it, and `saves` loads with the restore, phase by phase (restore_phases, clock20;
    the first tick is the next simulated row). The rings grow with 1 / tick_s (stuck's flatline_s / tick_s
    rows, drift's departures HISTORY_S / tick_s): after `ticks` ticks they hold that many rows; `full`: those two
    rings filled (fill_rings) before the saves."""
    from agent.checkpoint import encode
    out = []
    for tick_s in tick_ss:
        d, rows = _corridor_at(tick_s, ticks + 1)
        cfg = config.from_dict(d)
        pipe = Pipeline(cfg)
        for r in rows[:ticks]:
            pipe.step(r)
        if full:
            fill_rings(pipe)
        meta = {"config": fingerprint(cfg, adjacency(cfg.sensor_specs(), cfg.topology), None), "last_ts": pipe.last_ts}
        with tempfile.TemporaryDirectory(prefix="stad-bench-ckpt-") as tmp:
            store = CheckpointStore(tmp)
            took, info = [], None
            for _ in range(saves):
                t0 = time.perf_counter()
                state = pipe.state_dict()
                info = store.save(meta, {"pipeline": state})
                took.append(time.perf_counter() - t0)
            health = len(encode({}, {"health": state["health"]}))
            phases = [restore_phases(store.path, cfg, rows[ticks]) for _ in range(saves)]
        ms = np.array(took) * 1e3
        median = {k: round(float(np.median([p[k] for p in phases])), 2) for k in phases[0]}
        out.append({"tick_s": tick_s, "ticks": ticks, "full_rings": full, "bytes": info["bytes"], "fault_tracker_bytes": health,
                    "state_dict_and_write_ms": {"p50": round(float(np.median(ms)), 1), "max": round(float(ms.max()), 1)},
                    "load_and_restore_ms": median["load_and_restore_ms"], "restore_phases_p50": median,
                    "restore_phases": phases})
        print(f"tick_s {tick_s:g}: {info['bytes']} bytes (fault tracker {health}), state_dict + write "
              f"p50 {np.median(ms):.1f} ms, load + restore p50 {median['load_and_restore_ms']:.1f} ms "
              f"(tracker {median['tracker_restore_ms']:.1f}, first tick {median['first_tick_ms']:.1f} ms, "
              f"RSS +{median['rss_growth_kb'] / 1024:.1f} MB)", file=sys.stderr, flush=True)
    return out


def agent_restart_at_ticks(tick_ss: list[float], ticks: int, repeats: int, trees: list[Path] | None = None) -> list[dict]:
    """The whole agent restarted on a checkpoint written at fast ticks (clock20): the corridor's config
    at each tick_s (_corridor_at) on UDP, a first run fed `ticks` ticks and stopped cleanly (its checkpoint),
    then `repeats` restarts (restart_case; of each of `trees` in turn): READY=1, the first scored tick, and
    the agent's peak RSS."""
    out = []
    level = np.tile([1800.0, 12.0, 88.0], 6)
    for tick_s in tick_ss:
        d, _ = _corridor_at(tick_s, 1)
        d["window"]["idle_flush_s"] = 0         # ticks come faster than the wall clock here
        with tempfile.TemporaryDirectory(prefix="stad-bench-restart-") as tmp:
            case = restart_case(d, level, repeats, Path(tmp), ticks=ticks, trees=trees)
        out.append(case)
        for name, got in (case["trees"].items() if trees else [(str(ROOT), case)]):
            print(f"tick_s {tick_s:g} {name}: {case['checkpoint_bytes']} bytes; READY p50 {got['ready_s']['p50']:.3f} s, "
                  f"first scored tick p50 {got['first_scored_tick_s']['p50']:.3f} s, peak RSS p50 "
                  f"{got['peak_rss_mb']['p50']:.1f} MB", file=sys.stderr, flush=True)
    return out


# ---- restart → first scored tick --------------------------------------------------------------

class Notify:
    def __init__(self):
        self.address = f"@stad-bench-{uuid.uuid4().hex[:10]}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.address[1:])

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.sock.settimeout(timeout)
        while b"READY=1" not in self.sock.recv(4096):
            pass

    def close(self) -> None:
        self.sock.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Feed:
    """One UDP datagram per tick with every sensor's value."""

    def __init__(self, port: int, sensors: list[str], tick_s: float, level: np.ndarray):
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port, self.sensors, self.tick_s, self.level = port, sensors, tick_s, level
        self.rng = np.random.default_rng(1)
        self.k = 0

    def send(self, ticks: int) -> None:
        for _ in range(ticks):
            values = self.level * (1 + 0.05 * self.rng.standard_normal(len(self.sensors)))
            msg = {"ts": T0 + self.k * self.tick_s, "values": dict(zip(self.sensors, values.round(4).tolist()))}
            self.out.sendto(json.dumps(msg).encode(), ("127.0.0.1", self.port))
            self.k += 1


def wait_log(path: Path, pattern: str, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, path.read_text(), re.M):
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited ({proc.returncode}): {path.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"/{pattern}/ not in {path} within {timeout}s")
        time.sleep(0.005)


def spawn(cfg_path: Path, err: Path, notify: Notify, tree: Path = ROOT) -> subprocess.Popen:
    """`stad-agent run` with the agent package of `tree` (a checkout; run from it: `-m` puts the working
    directory first on the path)."""
    env = dict(os.environ, NOTIFY_SOCKET=notify.address, PYTHONPATH=str(tree))
    return subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg_path)], cwd=str(tree),
                            stdout=subprocess.DEVNULL, stderr=err.open("w"), env=env)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def peak_rss_mb(proc: subprocess.Popen) -> float:
    """The agent's own peak RSS (VmHWM) so far."""
    with open(f"/proc/{proc.pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmHWM:"))) / 1024.0


def restart_case(cfg: dict, level: np.ndarray, repeats: int, tmp: Path, ticks: int = 0,
                 trees: list[Path] | None = None) -> dict:
    """`ticks`: at least that many ticks sent before the first run's stop (its checkpoint's rings hold them).
    `trees`: checkouts whose agents restart in turn on the same state (each restart's stop writes the
    checkpoint the next one reads; the order turned about every repeat), their figures side by side under
    "trees"; the first tree's agent makes the checkpoint. None: this checkout alone."""
    port = free_udp_port()
    cfg = dict(cfg, sources=[{"type": "udp", "bind": "127.0.0.1", "port": port}], state_dir=str(tmp / "state"),
               sinks=[{"type": "jsonl", "path": str(tmp / "alerts.jsonl")}])
    cfg["window"] = dict(cfg["window"], max_clock_skew_s=0)     # the data's time runs ahead of the clock
    cfg_path = tmp / "agent.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    sensors = [s if isinstance(s, str) else s["name"] for s in cfg["sensors"]]
    feed = Feed(port, sensors, float(cfg["tick_s"]), level)
    notify = Notify()
    err = tmp / "warmup.stderr"
    order = [Path(t) for t in trees] if trees else [ROOT]
    proc = spawn(cfg_path, err, notify, order[0])
    notify.wait_ready()
    while "warm-up done" not in err.read_text():       # UDP may drop under load: send until warm
        feed.send(20)
        time.sleep(0.01)
        if proc.poll() is not None:
            raise RuntimeError(err.read_text()[-2000:])
    while feed.k < ticks:                               # (paced as the warm-up: UDP may drop under load)
        feed.send(min(20, ticks - feed.k))
        time.sleep(0.01)
    feed.send(3)
    stop(proc)
    runs: dict[Path, list] = {t: [] for t in order}
    for r in range(repeats):
        for tree in (order if r % 2 == 0 else order[::-1]):
            err = tmp / f"restart{r}-{len(runs[tree])}-{order.index(tree)}.stderr"
            t0 = time.perf_counter()
            proc = spawn(cfg_path, err, notify, tree)
            notify.wait_ready()
            ready = time.perf_counter() - t0
            feed.send(3)                                   # lateness 1: the first tick closes on the third
            wait_log(err, r"first tick \S+: scored by", proc)
            first = time.perf_counter() - t0
            rss = peak_rss_mb(proc)
            text = err.read_text()
            stop(proc)
            if "checkpoint" not in text or "loaded" not in text:
                raise RuntimeError(f"the restart did not load its checkpoint: {text[-2000:]}")
            tier = re.search(r"first tick \S+: scored by (\w+)", text).group(1)
            runs[tree].append({"ready_s": round(ready, 3), "first_scored_tick_s": round(first, 3), "tier": tier,
                               "peak_rss_mb": round(rss, 1)})
    notify.close()

    def summary(got: list) -> dict:
        def spread(key: str, digits: int = 3) -> dict:
            v = [r[key] for r in got]
            return {"p50": round(float(np.median(v)), digits), "max": round(max(v), digits)}
        return {"ready_s": spread("ready_s"), "first_scored_tick_s": spread("first_scored_tick_s"),
                "peak_rss_mb": spread("peak_rss_mb", 1), "tier": got[-1]["tier"], "runs": got}
    out = {"sensors": len(sensors), "tick_s": cfg["tick_s"], "window": cfg["window"]["steps"],
           "checkpoint_bytes": (tmp / "state" / "checkpoint.bin").stat().st_size}
    if not trees:
        return {**out, **summary(runs[ROOT])}
    return {**out, "trees": {str(t): summary(got) for t, got in runs.items()}}


def skab_sized_bundle(tmp: Path) -> Path:
    from convert.pipeline import DataOptions, export_bundle, train_bundle
    from convert.train import TrainOptions
    from convert.verify import verify_bundle

    d = yaml.safe_load((ROOT / "configs/skab.yaml").read_text())
    d["sources"] = [{"type": "simulate", "scenario": "pump", "seed": 3, "start": "2026-01-05T00:00:00Z"}]
    cfg = config.from_dict(d, base_dir=str(ROOT / "configs"))
    out = tmp / "skab-sized"
    train_bundle(cfg, out, TrainOptions(epochs=1, windows_per_epoch=1024, threads=1, progress=False),
                 DataOptions(days=0.1), model_id="skab-sized")
    export_bundle(out, ["onnx_fp32", "onnx_int8", "tflite_fp32"], log=lambda *a: None)
    verify_bundle(out, write=True, log=lambda *a: None)
    return out


def in_turn(trees: list[str], rounds: int, argv: list[str]) -> dict:
    """This bench's in-process figures (`argv`: --sensors or --tick-s) for each tree's agent in turn,
    `rounds` times (A B A B …: under a shared machine's load only figures of one round compare), each a
    fresh process with STAD_BENCH_TREE set and cwd the tree (`python -m` and sys.path put the tree's
    agent first: without both, every run imports the same code)."""
    runs = []
    for r in range(rounds):
        for tree in trees:
            tree = str(Path(tree).resolve())
            env = {**os.environ, "STAD_BENCH_TREE": tree, "PYTHONPATH": tree}
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], cwd=tree, env=env,
                                  capture_output=True, text=True, check=True)
            got = json.loads(done.stdout)
            runs.append({"round": r, "tree": tree, **got})
            print(f"round {r} {tree}: load {got['load_average']}", file=sys.stderr, flush=True)
            sys.stderr.write(done.stderr)
    return {"machine": machine_info(), "rounds": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bundle", default=None, help="an existing bundle for configs/skab.yaml's sensors")
    ap.add_argument("--skip-model", action="store_true", help="leave out the skab-sized model case")
    ap.add_argument("--tick-s", type=float, nargs="+", default=None, metavar="S",
                    help="only the checkpoint at these tick_s (the corridor, --ticks ticks; perf40's figures)")
    ap.add_argument("--ticks", type=int, default=3000, help="ticks run before --tick-s's checkpoints")
    ap.add_argument("--saves", type=int, default=5, help="checkpoints written (and restored) at each --tick-s")
    ap.add_argument("--agent", action="store_true",
                    help="with --tick-s: the whole agent restarted on the corridor at those tick_s (READY, first "
                         "scored tick, peak RSS; --repeats restarts), not the checkpoint in-process")
    ap.add_argument("--full", action="store_true", help="with --tick-s: stuck's and drift's rings filled before the saves")
    ap.add_argument("--trees", nargs="+", default=None, metavar="DIR",
                    help="with --agent: the agents of these checkouts restart in turn on the same checkpoint")
    ap.add_argument("--sensors", type=int, nargs="+", default=None, metavar="N",
                    help="only checkpoint_cost at these sensor counts (--saves writes and restores each; default 30)")
    ap.add_argument("--rounds", type=int, default=3, help="with --trees and --sensors or --tick-s: runs of each tree, alternated")
    args = ap.parse_args()
    if args.trees and not args.agent and (args.sensors or args.tick_s):
        print(json.dumps(in_turn(args.trees, args.rounds, [a for a in sys.argv[1:] if a not in args.trees and a != "--trees"]),
                         indent=1))
        return
    if args.sensors:
        saves = args.saves if "--saves" in sys.argv else 30
        print(json.dumps({"machine": machine_info(), "load_average": [round(v, 2) for v in os.getloadavg()],
                          "tree": str(ROOT), "checkpoint": [checkpoint_cost(n, saves) for n in args.sensors]}, indent=1))
        return
    if args.tick_s and args.agent:
        print(json.dumps({"machine": machine_info(), "load_average": [round(v, 2) for v in os.getloadavg()],
                          "agent_restart_at_ticks": agent_restart_at_ticks(args.tick_s, args.ticks, args.repeats,
                                                                            args.trees)},
                         indent=1))
        return
    if args.tick_s:
        print(json.dumps({"machine": machine_info(), "load_average": [round(v, 2) for v in os.getloadavg()],
                          "checkpoint_at_ticks": checkpoint_at_ticks(args.tick_s, args.ticks, args.saves, args.full)}, indent=1))
        return
    if args.bundle and not args.skip_model:     # said now, not after a 120 s wait for an agent that refused it
        from agent.bundle import BundleError, Expectation, load as load_bundle
        try:
            load_bundle(args.bundle, expect=Expectation.from_config(config.load(ROOT / "configs/skab.yaml")))
        except BundleError as exc:
            ap.error(f"--bundle: {exc}")
    out = {"machine": machine_info(), "checkpoint": [checkpoint_cost(n) for n in (16, 64, 256)], "restart": {}}
    with tempfile.TemporaryDirectory(prefix="stad-bench-restart-") as tmp:
        tmp = Path(tmp)
        roadside = yaml.safe_load((ROOT / "configs/roadside.yaml").read_text())
        roadside["scoring"].pop("models_dir")
        roadside["window"]["idle_flush_s"] = 0      # ticks come faster than the wall clock here
        level = np.tile([1800.0, 12.0, 88.0], 6)
        (tmp / "roadside").mkdir()
        out["restart"]["roadside"] = restart_case(roadside, level, args.repeats, tmp / "roadside")
        if not args.skip_model:
            bundle = Path(args.bundle) if args.bundle else skab_sized_bundle(tmp)
            skab = yaml.safe_load((ROOT / "configs/skab.yaml").read_text())
            skab["scoring"]["bundle"] = str(bundle.resolve())
            level = np.array([0.2, 0.25, 2.0, 0.5, 70.0, 25.0, 230.0, 120.0])
            (tmp / "skab").mkdir()
            case = restart_case(skab, level, args.repeats, tmp / "skab")
            case["bundle"] = json.loads((bundle / "manifest.json").read_text()).get("model_id")
            out["restart"]["skab_sized_model"] = case
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
