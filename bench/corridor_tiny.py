"""Why the attention tier's score does not rise at a tiny queue (corridor30): a census, per queued incident.

    python bench/corridor_tiny.py collect --seeds S… --out DIR [--bundle agent/models/demo-corridor]
    python bench/corridor_tiny.py report DIR
    python bench/corridor_tiny.py noise --seed S

corridor25–29 found that the queues of ≤ 0.1 km the fallback finds and the tier misses leave the tier's score under
its threshold (or over it for a tick) at their station. Three places could flatten a small speed drop before the
threshold sees it; `collect` measures each on the bench's own replay (bench/accuracy.py's demand-gated corridor,
both scorers, configs/demo.yaml as shipped), and the simulator's own signal beside them:

- **the graph**: the tier's per-sensor score at the incident's station through the shipped tflite int8 artifact (as
  the agent scored it), and the same windows through the bundle's tflite fp32, onnx fp32, onnx int8 and the PyTorch
  model (convert's load_model), each scored by agent/scorers/forecast_error.py at the tier's threshold of that tick;
  and every artifact's input tensors (dtype, scale, zero point): a quantized input would round a small drop away;
- **the scaling**: the station's readings in raw units, normalised (the bundle's mean / std) and in the tier's
  residual units (std × residual_std), i.e. the point score a drop would give if the forecast did not follow it;
- **the signal itself**: the same seed simulated without noise, with and without its incidents — the queue's own
  change at each quantity of its station (raw units and residual units);
- **the fallback's side**: at its peak at the station, its three weighted parts (AR residual or its lasting-shift
  bias, neighbour fusion, Markov surprise) over its threshold.

`noise` sets the tier's residual unit beside the simulator's own noise on a seed without incidents (noisy less
noise-free, each sensor's lag-1 innovation: the part of the noise no forecaster can predict).

`report` groups the queued incidents (≤ 0.1 km: found by the fallback only, by the tier, by neither; longer queues)
and prints medians. A graph flattens a tiny queue when its station peak is under a less quantized graph's by a
material amount; the census's reading rule is in docs/measured/accuracy-corridor.md (the corridor30 round).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.bundle import BundleError, load as load_bundle, resolve_path  # noqa: E402
from agent.evaluate.faults import labelled_events  # noqa: E402
from agent.scorers.forecast_error import run_scores, signed_errors  # noqa: E402
from agent.scorers.model_scorer import ModelScorer  # noqa: E402
from agent.scorers.numpy_fallback import NumpyScorer  # noqa: E402
from agent.sources.simulate import Simulation  # noqa: E402
from bench import accuracy, corridor_queue  # noqa: E402

QUANTITIES = ("flow", "occ", "speed")
VARIANTS = ("tflite_int8", "tflite_fp32", "onnx_fp32", "onnx_int8", "pytorch")
BASELINE_TICKS = 20        # the station's level before an incident: the median of these ticks
TINY_KM = 0.1
PARTS = ("ar", "fusion", "markov")
SIGNAL_EDGES = (0.0, 1.0, 3.0, 9.0, np.inf)     # the clean move in residual units; the tier's threshold is ~9


class Taps:
    """Each scorer's per-tick inputs and outputs, by tick time, recorded around the classes' own `score`."""

    def __init__(self):
        self.tier: dict[float, tuple] = {}
        self.fallback: dict[float, tuple] = {}
        self._saved = (ModelScorer.score, NumpyScorer.score)

    def __enter__(self):
        model_score, numpy_score = self._saved
        tier, fallback = self.tier, self.fallback

        def tier_score(scorer, window):
            out = model_score(scorer, window)
            tier[float(window.ts[-1])] = (np.array(window.values, np.float32), np.array(window.missing, np.float32),
                                          np.array(out.sensor_scores, np.float64))
            return out

        def fallback_score(scorer, window):
            out = numpy_score(scorer, window)
            # _parts: the weighted AR (max of residual and bias), fusion and Markov rows of this tick
            fallback[float(window.ts[-1])] = (np.array(out.sensor_scores, np.float64), scorer._parts.copy())
            return out

        ModelScorer.score, NumpyScorer.score = tier_score, fallback_score
        return self

    def __exit__(self, *exc):
        ModelScorer.score, NumpyScorer.score = self._saved


def runners(bundle_dir: Path):
    """Every graph of the bundle, each as convert's verify runs it (the agent's own scorers, PyTorch)."""
    from convert.bundle_writer import load_model
    from convert.runners import TorchRunner
    from convert.verify import agent_scorer
    bundle = load_bundle(bundle_dir)
    out = {kind: agent_scorer(bundle, kind) for kind in VARIANTS[:-1] if kind in bundle.artifact_kinds()}
    out["pytorch"] = TorchRunner(load_model(bundle_dir, bundle.manifest))
    return bundle, out


def input_tensors(graphs: dict) -> dict:
    """Each artifact's input tensors as its runtime declares them: a quantized input has a scale."""
    out = {}
    for kind, g in graphs.items():
        interp = getattr(g, "interpreter", None)
        if interp is not None:
            out[kind] = [{"name": d["name"], "dtype": np.dtype(d["dtype"]).name,
                          "scale_zero_point": [float(x) for x in d.get("quantization", (0.0, 0))]}
                         for d in interp.get_input_details()]
        elif getattr(g, "session", None) is not None:
            out[kind] = [{"name": i.name, "dtype": i.type} for i in g.session.get_inputs()]
        else:
            out[kind] = "float32 tensors (PyTorch)"
    return out


def simulated(cfg, noise: float, incidents: bool = True) -> np.ndarray:
    """(ticks, sensors) the config's seed simulated at `noise`, with or without its incidents."""
    (src,) = cfg.sources
    src = dataclasses.replace(src, noise=noise, **({} if incidents else {"anomalies": type(src.anomalies)()}))
    names = cfg.sensor_names()
    return np.array([[rec.values.get(n, np.nan) for n in names]
                     for _, rec in Simulation(src, names, src.tick_s or cfg.tick_s)])


def clean_signal(cfg) -> np.ndarray:
    """(ticks, sensors) the incidents' own change: the seed without noise, with its incidents less without."""
    return simulated(cfg, 0.0) - simulated(cfg, 0.0, incidents=False)


def residual_unit(bundle, names: list[str]) -> np.ndarray:
    """One unit of the tier's score per sensor in raw units: the bundle's std × its residual_std."""
    return np.array([bundle.normalisation.std[n] for n in names]) * np.asarray(bundle.residual_std(), np.float64)


def noise(args) -> None:
    try:
        bundle = load_bundle(resolve_path(args.bundle))
    except BundleError as exc:
        _refuse(f"--bundle {args.bundle}: {exc}")
    cfg = accuracy.corridor_config(args.set, None, "incidents", (0.02, 1.0), args.seed, False, "demand")
    names = cfg.sensor_names()
    n = simulated(cfg, cfg.sources[0].noise, incidents=False) - simulated(cfg, 0.0, incidents=False)
    unit = residual_unit(bundle, names)
    print(f"seed {args.seed}, no incidents, {len(n)} ticks: sensor, residual unit, noise sd, lag-1 correlation, "
          "innovation sd, unit / innovation")
    for j, name in enumerate(names):
        a = float(np.corrcoef(n[1:, j], n[:-1, j])[0, 1])
        innovation = float(np.std(n[1:, j] - a * n[:-1, j]))
        print(f"{name:10} {unit[j]:9.3f} {n[:, j].std():9.3f} {a:5.2f} {innovation:9.3f} {unit[j] / innovation:5.2f}")


def forecasts(graph, values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    from convert.runners import run_all
    return run_all(graph, values, missing)[0].astype(np.float64)


def collect_seed(seed: int, bundle_dir: Path, graphs: dict, bundle, overrides: list[str]) -> dict:
    cfg = accuracy.corridor_config(overrides, str(bundle_dir), "incidents", (0.02, 1.0), seed, False, "demand")
    with Taps() as taps:
        run = accuracy.replay(cfg, bundle=str(bundle_dir), scorers=["numpy", "tflite"])
    tol = accuracy.event_tolerance_s(cfg, None)
    found = {r["event"]: r for r in corridor_queue.score_seed(cfg, run, tol, seed)["incidents"]}
    (f,) = run.files
    trace = {t.scorer: t for ts in run.traces.values() for t in ts}
    ts, raw, scored = f.ts, f.values, f.scored
    (src,) = cfg.sources
    sim = Simulation(src, cfg.sensor_names(), src.tick_s or cfg.tick_s)
    truth = {a.event: a for a in sim.incidents()}
    events = [e for e in labelled_events(ts[scored], [e for e, m in zip(f.events, scored) if m]) if e["event"] in truth]
    clean = clean_signal(cfg)
    names = cfg.sensor_names()
    std = np.array([bundle.normalisation.std[n] for n in names])
    resid = np.asarray(bundle.residual_std(), np.float64)
    unit = residual_unit(bundle, names)
    steps = bundle.steps
    rows, parity = [], {v: [] for v in VARIANTS}
    for e in events:
        a = truth[e["event"]]
        if not a.queue.formed:
            continue
        cols = [names.index(f"{a.target}_{q}") for q in QUANTITIES]
        win = np.flatnonzero((ts >= e["start"]) & (ts <= e["end"] + tol) & scored)
        seg = np.arange(max(0, win[0] - steps - 8), win[-1] + 1)
        seg = seg[[float(ts[i]) in taps.tier for i in seg]]
        x = np.stack([taps.tier[float(ts[i])][0] for i in seg])
        m = np.stack([taps.tier[float(ts[i])][1] for i in seg])
        agent_s = np.stack([taps.tier[float(ts[i])][2] for i in seg])
        newest, newest_missing = x[:, -1, :].astype(np.float64), m[:, -1, :] > 0
        in_win = np.isin(seg, win)
        thr = trace["tflite"].threshold[seg]
        ratio = {"agent": agent_s / thr[:, None]}
        point = {}
        for kind, g in graphs.items():
            fc = forecasts(g, x, m)
            err = signed_errors(newest, newest_missing, fc, resid)
            s = run_scores(err, newest_missing, steps)
            ratio[kind] = s / thr[:, None]
            point[kind] = np.abs(err)
            parity[kind].append(float(np.max(np.abs(ratio[kind][in_win] - ratio["agent"][in_win]))))
        base = np.nanmedian(raw[max(0, win[0] - BASELINE_TICKS):win[0]][:, cols], axis=0)
        dev = raw[win][:, cols] - base
        fb_thr = trace["numpy"].threshold[win]
        fb = np.stack([taps.fallback[float(ts[i])][0][cols] for i in win]) / fb_thr[:, None]
        fb_parts = np.stack([taps.fallback[float(ts[i])][1][:, cols] for i in win]) / fb_thr[:, None, None]
        k, q = np.unravel_index(np.argmax(fb), fb.shape)
        st = {kind: r[in_win][:, cols] for kind, r in ratio.items()}
        pk = np.unravel_index(np.argmax(st["tflite_int8"]), st["tflite_int8"].shape)
        csig = clean[win][:, cols]
        rows.append({
            "seed": seed, "event": e["event"], "station": a.target, "km": round(a.queue.longest_km, 3),
            "magnitude": a.magnitude, "queue_s": a.queue.queue_s,
            "found": found[e["event"]]["found"] if e["event"] in found else {},
            # the tier's station peak (score / its threshold), per graph; the agent's own first
            "station_peak": {kind: float(r.max()) for kind, r in st.items()},
            "station_peak_by_quantity": {kind: [float(v) for v in r.max(axis=0)] for kind, r in st.items()},
            "tick_peak_anywhere": float(ratio["agent"][in_win].max()),
            "int8_peak_quantity": QUANTITIES[pk[1]],
            "int8_peak_is_point": bool(point["tflite_int8"][in_win][:, cols][pk] / thr[in_win][pk[0]]
                                       >= st["tflite_int8"][pk] - 1e-9),
            "int8_minus_fp32_station": float(st["tflite_int8"].max() - st["tflite_fp32"].max()),
            "int8_minus_torch_station": float(st["tflite_int8"].max() - st["pytorch"].max()),
            # the readings: raw, normalised and residual units, the largest move off the level before
            "raw_move": [float(dev[:, j][np.nanargmax(np.abs(dev[:, j]))]) for j in range(3)],
            "raw_move_residual_units": [float(np.nanmax(np.abs(dev[:, j])) / unit[c]) for j, c in enumerate(cols)],
            "clean_move": [float(csig[:, j][np.nanargmax(np.abs(csig[:, j]))]) for j in range(3)],
            "clean_move_normalised": [float(np.nanmax(np.abs(csig[:, j])) / std[c]) for j, c in enumerate(cols)],
            "clean_move_residual_units": [float(np.nanmax(np.abs(csig[:, j])) / unit[c]) for j, c in enumerate(cols)],
            # a queue also starves the stations downstream of it: its largest clean move anywhere on the corridor
            "clean_move_anywhere": max(((float(np.nanmax(np.abs(clean[win][:, c])) / unit[c]), names[c])
                                        for c in range(len(names))), key=lambda x: x[0]),
            "clean_ticks_over_1_unit": [int((np.abs(csig[:, j]) > unit[c]).sum()) for j, c in enumerate(cols)],
            # what a detector that knew the queue's exact shape could gain over white noise of one residual unit
            # a tick: √Σ (move / unit)² over the window (an optimistic bound: the forecast errors are not white)
            "clean_matched_snr": [float(np.sqrt(np.nansum((csig[:, j] / unit[c]) ** 2))) for j, c in enumerate(cols)],
            "residual_unit_raw": [float(unit[c]) for c in cols],
            "fallback_station_peak": float(fb.max()),
            "fallback_peak_quantity": QUANTITIES[q],
            "fallback_parts_at_peak": {p: float(fb_parts[k, i, q]) for i, p in enumerate(PARTS)},
            "fallback_tick_peak_anywhere": float((trace["numpy"].score[win] / fb_thr).max()),
        })
    return {"seed": seed, "incidents": rows,
            "parity_max_abs_ratio_vs_agent": {k: max(v) if v else None for k, v in parity.items()}}


def _refuse(why: str) -> None:
    """A usage error: one line, exit 2, before any replay."""
    print(f"corridor_tiny: {why}", file=sys.stderr)
    sys.exit(2)


def collect(args) -> None:
    bundle_dir = resolve_path(args.bundle)
    try:
        bundle, graphs = runners(Path(bundle_dir))
    except BundleError as exc:
        _refuse(f"--bundle {args.bundle}: {exc}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "inputs.json").write_text(json.dumps(input_tensors(graphs), indent=2) + "\n", encoding="utf-8")
    for seed in args.seeds:
        path = out / f"seed{seed}.json"
        if path.exists():
            continue
        res = collect_seed(seed, Path(bundle_dir), graphs, bundle, args.set)
        path.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
        print(f"seed {seed}: {len(res['incidents'])} queued incidents", flush=True)


def _median(xs) -> str:
    xs = [x for x in xs if x is not None]
    return f"{np.median(xs):.3g}" if xs else "–"


def report(args) -> None:
    rows = []
    parity = []
    files = sorted(Path(args.dir).glob("seed*.json"))
    if not files:
        _refuse(f"{args.dir}: no seed*.json (bench/corridor_tiny.py collect --out writes them)")
    for p in files:
        d = json.loads(p.read_text(encoding="utf-8"))
        rows += d["incidents"]
        parity.append(d["parity_max_abs_ratio_vs_agent"])
    print(f"{len(parity)} seeds, {len(rows)} queued incidents")
    print("graphs' largest |station ratio − agent's| in any incident window: "
          + ", ".join(f"{k} {max((q[k] or 0) for q in parity):.2g}" for k in VARIANTS))
    inputs = Path(args.dir) / "inputs.json"
    if inputs.exists():
        print("input tensors:", inputs.read_text(encoding="utf-8").replace("\n", " "))

    def group(r):
        tier, fb = r["found"].get("tflite"), r["found"].get("numpy")
        if r["km"] > TINY_KM:
            return "longer than 0.1 km"
        return {(False, True): "tiny, fallback only", (True, False): "tiny, tier only", (True, True): "tiny, both",
                (False, False): "tiny, neither"}[(bool(tier), bool(fb))]
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(group(r), []).append(r)
    for name in ("tiny, fallback only", "tiny, tier only", "tiny, both", "tiny, neither", "longer than 0.1 km"):
        g = groups.get(name, [])
        if not g:
            continue
        print(f"\n== {name}: {len(g)} incidents (median km {_median([r['km'] for r in g])})")
        print("  tier station peak / threshold: " + ", ".join(
            f"{k} {_median([r['station_peak'].get(k) for r in g])}" for k in ("agent",) + VARIANTS))
        print(f"  int8 − fp32 at the station: median {_median([r['int8_minus_fp32_station'] for r in g])}, "
              f"largest |·| {max(abs(r['int8_minus_fp32_station']) for r in g):.3g}; int8 − PyTorch: largest |·| "
              f"{max(abs(r['int8_minus_torch_station']) for r in g):.3g}")
        print(f"  fp32 or PyTorch over the threshold where int8 is not: "
              f"{sum(1 for r in g if r['station_peak']['tflite_int8'] < 1 <= max(r['station_peak']['tflite_fp32'], r['station_peak']['pytorch']))}")
        for j, q in enumerate(QUANTITIES):
            print(f"  {q:5}: clean move {_median([r['clean_move'][j] for r in g])} raw "
                  f"({_median([r['clean_move_normalised'][j] for r in g])} normalised, "
                  f"{_median([r['clean_move_residual_units'][j] for r in g])} residual units; one unit "
                  f"{_median([r['residual_unit_raw'][j] for r in g])} raw; matched SNR "
                  f"{_median([r['clean_matched_snr'][j] for r in g])}); observed move "
                  f"{_median([r['raw_move_residual_units'][j] for r in g])} units; int8 peak "
                  f"{_median([r['station_peak_by_quantity']['tflite_int8'][j] for r in g])}")
        print(f"  int8 peak from the point error (not the bias): {sum(r['int8_peak_is_point'] for r in g)}/{len(g)}; "
              f"its quantity: " + ", ".join(f"{q} {sum(r['int8_peak_quantity'] == q for r in g)}" for q in QUANTITIES))
        print(f"  fallback station peak / its threshold {_median([r['fallback_station_peak'] for r in g])} "
              f"(anywhere {_median([r['fallback_tick_peak_anywhere'] for r in g])}); at its peak, parts / threshold: "
              + ", ".join(f"{p} {_median([r['fallback_parts_at_peak'][p] for r in g])}" for p in PARTS)
              + "; largest part: " + ", ".join(
                  f"{p} {sum(max(r['fallback_parts_at_peak'], key=r['fallback_parts_at_peak'].get) == p for r in g)}"
                  for p in PARTS)
              + "; quantity: " + ", ".join(f"{q} {sum(r['fallback_peak_quantity'] == q for r in g)}" for q in QUANTITIES))
    print("\nby the queue's clean move at its station (the largest of its three quantities, residual units): "
          "queued incidents, found by the tier, by the fallback, by the fallback only, by the tier only")
    for lo, hi in zip(SIGNAL_EDGES[:-1], SIGNAL_EDGES[1:]):
        g = [r for r in rows if lo <= max(r["clean_move_residual_units"]) < hi]
        tier = [bool(r["found"].get("tflite")) for r in g]
        fb = [bool(r["found"].get("numpy")) for r in g]
        print(f"  [{lo:g}, {hi:g}): {len(g)}, tier {sum(tier)}, fallback {sum(fb)}, fallback only "
              f"{sum(f and not t for t, f in zip(tier, fb))}, tier only {sum(t and not f for t, f in zip(tier, fb))}; "
              f"≤ 0.1 km {sum(r['km'] <= TINY_KM for r in g)}")
    if args.list:
        for r in groups.get("tiny, fallback only", []):
            print(json.dumps({k: r[k] for k in ("seed", "event", "station", "km", "station_peak", "clean_move",
                                                "clean_move_residual_units", "fallback_station_peak",
                                                "fallback_parts_at_peak")}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--seeds", type=int, nargs="+", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--bundle", default=str(REPO / "agent" / "models" / "demo-corridor"))
    c.add_argument("--set", action="append", default=["scoring.latency_budget_ms=100000"], metavar="KEY=VALUE")
    r = sub.add_parser("report")
    r.add_argument("dir")
    r.add_argument("--list", action="store_true", help="also each tiny queue only the fallback finds")
    n = sub.add_parser("noise")
    n.add_argument("--seed", type=int, required=True)
    n.add_argument("--bundle", default=str(REPO / "agent" / "models" / "demo-corridor"))
    n.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    {"collect": collect, "report": report, "noise": noise}[args.cmd](args)


if __name__ == "__main__":
    main()
