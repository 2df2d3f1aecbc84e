"""Per-tick cost of every scoring tier, side by side, on the same bundle and the same windows.

For N ∈ {8, 16, 64, 256} sensors and T ∈ {32, 64} steps an untrained model of the shipped
architecture (d_model, heads, ff_hidden read from the demo bundle's manifest) is exported by the converter (ONNX fp32/int8, TFLite fp32/int8, int8 calibrated on
a few synthetic windows) into a bundle; then, batch 1 and one thread, each tier scores the same
stream of ticks through the agent's own scorer classes (window in, TickScore out):

    pytorch_fp32 (eager), onnx_fp32, onnx_int8, tflite_fp32, tflite_int8,
    numpy (agent.scorers.numpy_fallback.NumpyScorer, fitted on warm-up rows)

Also: the model's FLOPs per tick (torch's FlopCounterMode: matmuls and linears) and what they
are worth against one core's measured numpy float32 matmul peak, and the peak RSS of an agent
process (`python -m agent run`, configs/demo.yaml unpaced) per tier. JSON to --out, a table on stdout.

    python bench/ticks.py [--out ticks.json] [--ticks 300] [--quick] [--shapes 16x32,256x128] [--kinds tflite_int8]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # one core, before numpy loads
    os.environ.setdefault(_var, "1")
os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import OPTIMIZE, RSS_CHILD, agent_env, compile_agent, machine_info, out_file  # noqa: E402

from agent import bundle as bundles  # noqa: E402
from agent.config import SensorSpec, ThresholdConfig, from_dict  # noqa: E402
from agent.manifest import Artifact, Normalisation, write as write_manifest  # noqa: E402
from agent.scorers.forecast_error import sensor_scores  # noqa: E402
from agent.scorers.numpy_fallback import NumpyScorer  # noqa: E402
from agent.threshold import calibrate  # noqa: E402
from agent.topology import adjacency  # noqa: E402
from agent.window import WindowBuffer  # noqa: E402

SENSORS = (8, 16, 64, 256)
STEPS = (32, 64)
KINDS = ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8")
CALIBRATION_WINDOWS = 16
WARM_TICKS = 20
NUMPY_FIT_ROWS = 600


def sensor_names(n: int) -> list[str]:
    return [f"S{i // 4:03d}_{q}" for i, q in zip(range(n), ("flow", "occ", "speed", "x") * n)]


def stream(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Normalised AR(1) rows with 1 % missing readings: (length, n) values and missing."""
    rng = np.random.default_rng(seed)
    z = np.zeros((length, n), np.float32)
    for t in range(1, length):
        z[t] = 0.8 * z[t - 1] + 0.6 * rng.normal(size=n)
    missing = rng.random((length, n)) < 0.01
    return np.where(missing, 0.0, z).astype(np.float32), missing


# ---- bundles -----------------------------------------------------------------------------------------

def demo_architecture() -> dict:
    """d_model, heads, ff_hidden of the shipped demo bundle: the architecture the agent runs."""
    model = json.loads((ROOT / "agent" / "models" / "demo-corridor" / "manifest.json").read_text())["model"]
    return {k: int(model[k]) for k in ("d_model", "heads", "ff_hidden")}


def make_bundle(out: Path, sensors: list[str], steps: int, tick_s: float, kinds=KINDS, log=print):
    """An untrained model of the shipped architecture, exported by the converter, as a bundle."""
    import torch
    from convert import bundle_writer as bw
    from convert.data import window_arrays
    from convert.export import Calibration
    from convert.fold import fold
    from convert.model import ModelSpec, build_model
    from convert.pipeline import export_artifact
    from convert.train import predict

    torch.manual_seed(0)
    spec = ModelSpec(sensors=len(sensors), steps=steps, **demo_architecture())
    model = build_model(spec).eval()
    out.mkdir(parents=True, exist_ok=True)
    bw.save_weights(model, out / bw.WEIGHTS_FILE)
    z, missing = stream(len(sensors), CALIBRATION_WINDOWS + steps, seed=1)
    windows, masks = (a[:CALIBRATION_WINDOWS] for a in window_arrays(z, missing, steps))
    cal = Calibration(windows, masks)
    reference = predict(model, windows, masks)
    exported = fold(model, windows, masks)                # what the converter exports (convert/fold.py)
    scores = sensor_scores(windows[:, -1], masks[:, -1] > 0, reference, np.ones(len(sensors))).max(axis=1)
    manifest = bw.new_manifest(
        out, f"bench-n{len(sensors)}-t{steps}", sensors, spec, tick_s, files=[bw.WEIGHTS_FILE],
        normalisation=Normalisation(mean={s: 0.0 for s in sensors}, std={s: 1.0 for s in sensors}),
        residual_std={s: 1.0 for s in sensors},
        threshold=calibrate(np.concatenate([scores, scores + 0.01]), ThresholdConfig()),
        model={"architecture": "spatio-temporal-forecaster", **spec.as_dict()})
    timings = {}
    with tempfile.TemporaryDirectory(prefix="stad-bench-") as tmp:
        for kind in kinds:
            t0 = time.perf_counter()
            fp32_onnx = out / bw.ARTIFACT_FILES["onnx_fp32"] if "onnx_fp32" in manifest.artifacts else None
            target, quant = export_artifact(kind, exported, out, cal, reference, Path(tmp),
                                            tflite_limit=CALIBRATION_WINDOWS, fp32_onnx=fp32_onnx)
            manifest.artifacts[kind] = Artifact.of(target, quant)
            timings[kind] = round(time.perf_counter() - t0, 2)
    write_manifest(out, manifest)
    log(f"  bundle N={len(sensors)} T={steps}: exported in " + ", ".join(f"{k} {v}s" for k, v in timings.items()))
    return bundles.load(out), model, exported


# ---- per-tick latency -----------------------------------------------------------------------------------

def time_ticks(score, n: int, steps: int, ticks: int) -> np.ndarray:
    """Per-tick seconds of `score(window)` over the same stream of rows every tier sees."""
    z, missing = stream(n, steps - 1 + WARM_TICKS + ticks, seed=2)
    buf = WindowBuffer(steps, n)
    out = np.empty(ticks)
    for t in range(len(z)):
        buf.push(z[t], missing[t], float(t))
        if t < steps - 1:
            continue
        t0 = time.perf_counter()
        score(buf)
        dt = time.perf_counter() - t0
        i = t - (steps - 1) - WARM_TICKS
        if i >= 0:
            out[i] = dt
    return out


def torch_scorer(model, bundle):
    from convert.runners import TorchRunner
    runner = TorchRunner(model)
    residual = bundle.residual_std()

    def score(window: WindowBuffer):
        forecast = runner.run(window.values[None], window.missing[None].astype(np.float32))[0][0]
        return sensor_scores(window.values[-1], window.missing[-1], forecast, residual)
    return score


def numpy_scorer(sensors: list[str]):
    cfg = from_dict({"sensors": sensors, "sources": [{"type": "stdin"}], "topology": "corridor",
                     "scoring": {"chain": ["numpy"]}})
    scorer = NumpyScorer(len(sensors), adjacency([SensorSpec(name=s) for s in sensors], "corridor"),
                         cfg.scoring.numpy)
    z, missing = stream(len(sensors), NUMPY_FIT_ROWS, seed=3)
    scorer.fit(z, missing)
    return scorer.score


def flops_per_tick(model, n: int, steps: int) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, steps, n), torch.zeros(1, steps, n))
    return int(counter.get_total_flops())


def numpy_matmul_peak(size: int = 512, repeats: int = 41) -> float:
    """One core's float32 matmul rate (FLOP/s), numpy's BLAS with one thread: the median of many
    repeats (a few repeats of one large multiply swung between 12 % and 40 % of the real peak)."""
    rng = np.random.default_rng(4)
    a, b = rng.random((size, size), np.float32), rng.random((size, size), np.float32)
    out = np.empty((size, size), np.float32)
    for _ in range(3):
        np.matmul(a, b, out=out)
    median = float(np.median([_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats)]))
    return 2.0 * size ** 3 / median


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def figures(seconds: np.ndarray) -> dict:
    ms = seconds * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4),
            "mean_ms": round(float(ms.mean()), 4)}


def bench_shape(n: int, steps: int, ticks: int, work: Path, kinds=KINDS, log=print) -> dict:
    sensors = sensor_names(n)
    bundle, model, exported = make_bundle(work / f"n{n}-t{steps}", sensors, steps, 1.0, kinds=kinds, log=log)
    tiers: dict[str, object] = {"pytorch_fp32": torch_scorer(model, bundle)}
    for kind in kinds:
        try:
            if kind.startswith("onnx"):
                from agent.scorers.onnx import OnnxScorer
                tiers[kind] = OnnxScorer(bundle, kind, threads=1).score
            else:
                from agent.scorers.tflite import TfliteScorer
                tiers[kind] = TfliteScorer(bundle, kind, threads=1).score
        except ImportError as exc:
            log(f"  {kind}: runtime not installed ({exc})")
    tiers["numpy"] = numpy_scorer(sensors)
    result = {"sensors": n, "steps": steps, "ticks": ticks,
              "artifact_bytes": {k: bundle.artifact(k).bytes for k in bundle.artifact_kinds()},
              "latency": {name: figures(time_ticks(score, n, steps, ticks)) for name, score in tiers.items()},
              "model_flops_per_tick": flops_per_tick(exported, n, steps),
              "trained_form_flops_per_tick": flops_per_tick(model, n, steps)}
    return result


# ---- peak RSS of an agent process per tier ---------------------------------------------------------------


def rss_child(cfg_path: Path, ticks: int) -> dict:
    """Run the agent in a fresh process and read its peak RSS from inside it.

    Not getrusage/wait4: Linux carries a process's ru_maxrss across exec, so a child forked from
    this (large, torch-loaded) bench process would report the bench's peak, not its own.
    """
    res = subprocess.run([sys.executable, "-c", RSS_CHILD, "run", "-c", str(cfg_path), "--max-ticks", str(ticks),
                          "--log-level", "warning"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env=agent_env())    # as the systemd unit runs the agent (python -OO), as bench/rss.py reads it
    if res.returncode != 0:
        raise RuntimeError(f"agent run failed ({res.returncode}): {res.stderr[-1500:]}")
    lines = res.stderr.splitlines()
    hwm_kb = int(next(line.split()[1] for line in lines if line.startswith("VmHWM_kB ")))
    tier = next((line.split("tier ", 1)[1].split(";")[0] for line in lines if line.startswith("summary:")), None)
    return {"peak_rss_mb": round(hwm_kb / 1024.0, 1), "tier_reported": tier}


def agent_rss(work: Path, ticks: int, log=print) -> dict:
    compile_agent()
    demo = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    demo["sources"][0]["speed"] = 0
    demo["sinks"] = [{"type": "jsonl", "path": str(work / "alerts.jsonl")}]
    demo["state_dir"] = str(work / "state")
    ref = demo["scoring"].get("bundle")
    try:
        bundles.load(ref, base_dir=ROOT)
        source = ref
    except bundles.BundleError:
        built, _, _ = make_bundle(work / "demo-untrained", demo["sensors"], demo["window"]["steps"],
                               float(demo["tick_s"]), log=log)
        ref = str(built.path)
        source = "an untrained bundle for the demo's sensors (the demo bundle is not built)"
    out = {"config": "configs/demo.yaml, unpaced, no MQTT sink", "ticks": ticks, "bundle": source, "tiers": {}}
    for chain in (["tflite", "numpy"], ["onnx", "numpy"], ["numpy"]):
        demo["scoring"].update({"chain": chain, "bundle": ref})
        path = work / f"agent-{chain[0]}.yaml"
        path.write_text(yaml.safe_dump(demo))
        out["tiers"][chain[0]] = rss_child(path, ticks)
    return out


# ---- main -------------------------------------------------------------------------------------------------

def table(results: list[dict], peak: float) -> str:
    names = list(dict.fromkeys(k for r in results for k in r["latency"]))
    head = f"{'N':>4} {'T':>3} " + " ".join(f"{n:>14}" for n in names) + f" {'MFLOP':>7} {'% peak':>7}"
    lines = ["per-tick latency p50 / p99 ms (batch 1, one thread)", head]
    for r in results:
        cells = []
        for n in names:
            f = r["latency"].get(n)
            cells.append(f"{f['p50_ms']:>6.3f}/{f['p99_ms']:<7.3f}" if f else f"{'-':>14}")
        flops = r.get("model_flops_per_tick")
        best = min((r["latency"][k]["p50_ms"] for k in r["latency"] if k != "numpy"), default=None)
        used = f"{100 * flops / (best / 1e3) / peak:>6.1f}%" if flops and best else f"{'-':>7}"
        lines.append(f"{r['sensors']:>4} {r['steps']:>3} " + " ".join(cells)
                     + (f" {flops / 1e6:>7.2f}" if flops else f" {'-':>7}") + f" {used}")
    return "\n".join(lines)


def growth(results: list[dict]) -> dict | None:
    """p50 of the largest N·T shape over the smallest, per tier, beside the ratio of N·T itself."""
    if len(results) < 2:
        return None
    small = min(results, key=lambda r: r["sensors"] * r["steps"])
    large = max(results, key=lambda r: r["sensors"] * r["steps"])
    return {"from": f"{small['sensors']}×{small['steps']}", "to": f"{large['sensors']}×{large['steps']}",
            "work_ratio": round(large["sensors"] * large["steps"] / (small["sensors"] * small["steps"]), 1),
            "p50_ratio": {k: round(large["latency"][k]["p50_ms"] / small["latency"][k]["p50_ms"], 1)
                          for k in small["latency"] if k in large["latency"]}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=out_file, default="ticks.json", help="where the JSON goes")
    ap.add_argument("--ticks", type=int, default=300, help="timed ticks per tier and shape")
    ap.add_argument("--quick", action="store_true", help="N=16, T=32 only, and no agent RSS runs")
    ap.add_argument("--rss-ticks", type=int, default=3300, help="ticks of each agent run for peak RSS")
    ap.add_argument("--shapes", default=None, help="NxT,… instead of the grid, e.g. 16x32,256x128 (no RSS runs)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="artifact kinds to export and time")
    args = ap.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        import torch  # noqa: F401
    except ImportError:
        log("torch is not installed: the converter needs it to build the bundles this bench runs")
        return 1
    started = time.perf_counter()
    peak = numpy_matmul_peak()
    if args.shapes:
        shapes = [tuple(int(v) for v in shape.lower().split("x")) for shape in args.shapes.split(",")]
    else:
        shapes = [(16, 32)] if args.quick else [(n, t) for t in STEPS for n in SENSORS]
    work = Path(tempfile.mkdtemp(prefix="stad-bench-ticks-"))
    try:
        results = []
        for n, t in shapes:
            log(f"N={n} T={t}")
            results.append(bench_shape(n, t, args.ticks, work, kinds, log=log))
        for r in results:
            flops = r.get("model_flops_per_tick")
            if flops:
                r["flops_over_core_peak_ms"] = round(flops / peak * 1e3, 5)
                r["share_of_core_peak"] = {k: round(flops / (v["p50_ms"] / 1e3) / peak, 4)
                                           for k, v in r["latency"].items() if k != "numpy"}
        rss = None if args.quick or args.shapes else agent_rss(work, args.rss_ticks, log=log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"bench": "ticks", "machine": machine_info(), "numpy_matmul_peak_gflops_one_core": round(peak / 1e9, 2),
              "threads": 1, "batch": 1, "results": results, "growth": growth(results), "agent_peak_rss": rss, "agent_python_optimize": OPTIMIZE["level"] or "0",
              "seconds": round(time.perf_counter() - started, 1),
              "notes": "models are untrained (cost does not depend on the weights), exported as the converter "
                       "exports (folded, convert/fold.py); FLOPs count matmuls/linears of the exported form "
                       "(2 per multiply-add); share_of_core_peak = FLOPs / p50 latency / one core's numpy matmul peak"}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(table(results, peak))
    if report["growth"]:
        g = report["growth"]
        print(f"from N×T {g['from']} to {g['to']} ({g['work_ratio']}× the N·T): p50 grows "
              + ", ".join(f"{k} {v}×" for k, v in g["p50_ratio"].items()))
    print(f"numpy matmul peak, one core: {peak / 1e9:.1f} GFLOP/s")
    if rss:
        print(f"agent peak RSS (MB, PYTHONOPTIMIZE={OPTIMIZE['level'] or '0'}): " + ", ".join(f"{k} {v['peak_rss_mb']} (ran on {v['tier_reported']})"
                                                 for k, v in rss["tiers"].items()))
    print(f"JSON: {args.out} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
