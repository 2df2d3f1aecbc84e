"""A standby tier stepped down to mid-run against the same tier loaded at start (swap3).

Why: a standby tier (agent/scorers/standby.py) is loaded only when the chain first steps down to it, so it
missed the warm-up that a tier loaded at start had: its profile (scoring.profile) and its threshold's lessons
from warm-up scores (threshold.clock_scale_*, recurring_*, likelihood). This runs the same chain two ways over
the same ticks, tflite broken for real at scored tick F (its C++ interpreter's input resized under it, as
tests/test_perf50_standby.py does: its next invoke raises), and compares them from the fault on:
- `loaded`: every tier loaded at start (`load_tiers(..., standby=False)`: the chain as it was before perf50);
- `standby`: the agent's own chain (the tiers below the top one on standby), each load waited for before the
  next tick (a load takes ~0.1 s; a tick of the demo is 30 s, of SKAB 1 s).
Reported per F: the share of ticks whose decision (score above the threshold in force) and alert-open state
agree, the thresholds' largest relative difference, the alerts raised, and each side's point-wise F1 of the
alert-open ticks against the labels. Run it with another checkout on PYTHONPATH to measure that code.

    python bench/standby_warm.py sim [--days 4] [--fault 100 1440] [--set threshold.clock_scale_period_s=86400 ...]
    python bench/standby_warm.py skab --data /work/shared/data/skab --bundle DIR [--fault 50 300] [--files dev]
        [--restart]     # the standby side restarted at scored tick F // 2 (swap4)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

import accuracy  # noqa: E402

from agent.bundle import Expectation  # noqa: E402
from agent.checkpoint import CheckpointStore, decode  # noqa: E402
from agent.evaluate.labelled import labelled_source, load_files, protocol_of  # noqa: E402
from agent.evaluate.metrics import confusion, precision_recall_f1  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.scorers import load_tiers  # noqa: E402

CHAIN = ["tflite", "onnx", "numpy"]


def break_tflite(tfl) -> None:
    """tflite's runtime now rejects the window: its next invoke raises."""
    tfl.interpreter._interpreter.ResizeInputTensor(tfl._in[0][0], np.array([1, tfl.steps - 1, tfl.n], np.int32),
                                                   False)


def new_pipeline(cfg, f, bundle: str, standby: bool) -> Pipeline:
    tick_cfg = dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, counts="ticks"),
                                   scoring=dataclasses.replace(cfg.scoring, latency_budget_ms=math.inf))
    tiers, refusals = load_tiers(cfg.scoring, bundle, Expectation.from_config(cfg), cfg.alerts.top_k, cfg.base_dir,
                                 chain=CHAIN, standby=standby)
    if [t.TYPE for t in tiers] != CHAIN[:-1]:
        raise SystemExit(f"the chain did not load: {refusals}")
    return Pipeline(tick_cfg, tiers=tiers, warmup_ticks=f.train_ticks)


def restarted(pipe: Pipeline, cfg, f, bundle: str, standby: bool) -> tuple[Pipeline, dict]:
    """`pipe` restarted (swap4): its state written to a real checkpoint file, read back, and restored into a new
    pipeline whose tiers are built again; with the checkpoint's bytes and the standby ticks' share of them."""
    state = pipe.state_dict()
    kept = sum(a.nbytes for ticks in state.get("standby", {}).values() for a in ticks.values())
    with tempfile.TemporaryDirectory() as tmp:
        store = CheckpointStore(tmp)
        info = store.save({}, {"pipeline": state})
        _, saved = decode(store.path.read_bytes())
    new = new_pipeline(cfg, f, bundle, standby)
    new.restore(saved["pipeline"])
    return new, {"checkpoint_bytes": info["bytes"], "standby_bytes": kept}


def run(cfg, f, bundle: str, standby: bool, fault: int, restart: int | None = None) -> dict:
    """One side over one file: per tick from the fault on, (tier, decision, alert open, threshold, label);
    `restart`: the scored tick after which it is restarted (`restarted`)."""
    pipe = new_pipeline(cfg, f, bundle, standby)
    out = {"tier": [], "above": [], "open": [], "threshold": [], "label": [], "raised": 0, "broken": False}
    scored = 0
    for row in f.rows:
        res = pipe.step(row)
        loading = getattr(pipe.chain, "loading", None)
        if loading is not None:
            loading.join()
        if res.warming:
            continue
        scored += 1
        if scored > fault:
            out["tier"].append(res.tier)
            out["above"].append(bool(res.score > res.threshold))
            out["open"].append(bool(pipe.alerts.active))
            out["threshold"].append(float(res.threshold))
            out["label"].append(-1 if row.label is None else int(row.label))
            out["raised"] += sum(ev.event == "new" for ev in res.alerts)
        if scored == restart:
            pipe, out["restart"] = restarted(pipe, cfg, f, bundle, standby)
        if scored == fault:
            break_tflite(pipe.chain.tiers[0])
            out["broken"] = True
    return out


def f1(sides: list[dict]) -> float:
    labels = np.concatenate([np.asarray(s["label"]) for s in sides]) if sides else np.zeros(0)
    opened = np.concatenate([np.asarray(s["open"], bool) for s in sides]) if sides else np.zeros(0, bool)
    keep = labels >= 0
    return precision_recall_f1(confusion(labels[keep] == 1, opened[keep]))["f1"]


def compare(files, cfg, bundle: str, fault: int, restart: bool = False) -> dict:
    per_file, loaded_all, standby_all = [], [], []
    for f in files:
        a, b = run(cfg, f, bundle, False, fault), run(cfg, f, bundle, True, fault, fault // 2 if restart else None)
        loaded_all.append(a)
        standby_all.append(b)
        n = len(a["above"])
        thr_a, thr_b = np.asarray(a["threshold"]), np.asarray(b["threshold"])
        same_tier = np.asarray(a["tier"]) == np.asarray(b["tier"])
        rel = np.abs(thr_a - thr_b)[same_tier] / np.abs(thr_a[same_tier]) if same_tier.any() else np.zeros(0)
        per_file.append({
            "file": f.name, "broken": a["broken"], "ticks": n,
            "standby_tiers": {t: b["tier"].count(t) for t in sorted(set(b["tier"]))},
            "decision_agreement": float(np.mean(np.asarray(a["above"]) == np.asarray(b["above"]))) if n else None,
            "open_agreement": float(np.mean(np.asarray(a["open"]) == np.asarray(b["open"]))) if n else None,
            "threshold_rel_diff_max": float(rel.max()) if rel.size else None,
            "threshold_rel_diff_median": float(np.median(rel)) if rel.size else None,
            "threshold_differs_share": float(np.mean(rel > 1e-6)) if rel.size else None,
            "raised": {"loaded": a["raised"], "standby": b["raised"]},
            "f1": {"loaded": f1([a]), "standby": f1([b])}, "restart": b.get("restart")})
        print(json.dumps(per_file[-1]), file=sys.stderr, flush=True)
    ticks = sum(p["ticks"] for p in per_file)

    def pooled(key: str) -> float:
        return sum(p[key] * p["ticks"] for p in per_file if p[key] is not None) / max(ticks, 1)
    return {"fault_at_scored_tick": fault, "restart_at_scored_tick": fault // 2 if restart else None,
            "ticks": ticks, "files_broken": sum(p["broken"] for p in per_file),
            "decision_agreement": pooled("decision_agreement"), "open_agreement": pooled("open_agreement"),
            "threshold_rel_diff_max": max((p["threshold_rel_diff_max"] or 0.0) for p in per_file),
            "threshold_differs_share": pooled("threshold_differs_share"),
            "raised": {"loaded": sum(p["raised"]["loaded"] for p in per_file),
                       "standby": sum(p["raised"]["standby"] for p in per_file)},
            "f1": {"loaded": f1(loaded_all), "standby": f1(standby_all)}, "files": per_file}


def sim_setup(args, work: Path):
    """The corridor bench's simulator (bench/accuracy.py corridor_config: configs/demo.yaml, its first day the
    warm-up, every anomaly kind once per 90 min after it), `--days` long, with the demo bundle and CHAIN."""
    bundle = str(ROOT / "agent" / "models" / "demo-corridor")
    cfg = accuracy.corridor_config([f"sources.0.duration_s={args.days * 86400}", *(args.set or [])], bundle)
    cfg = dataclasses.replace(cfg, scoring=dataclasses.replace(cfg.scoring, chain=list(CHAIN)))
    src = labelled_source(cfg, None)
    files, skipped = load_files(cfg, src, protocol_of(src))
    return cfg, files, skipped, bundle


def skab_setup(args, work: Path):
    cfg = accuracy.skab_config(accuracy.SKAB_CONFIG, args.set, args.bundle)
    root = accuracy.skab_subset(Path(args.data), args.files, work)
    src = labelled_source(cfg, str(root))
    files, skipped = load_files(cfg, src, protocol_of(src))
    return cfg, files, skipped, args.bundle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["sim", "skab"])
    ap.add_argument("--fault", type=int, nargs="+", default=None, help="scored ticks after which tflite breaks")
    ap.add_argument("--days", type=float, default=4.0, help="sim: simulated days, the warm-up's included")
    ap.add_argument("--set", action="append", default=None, help="KEY=VALUE config override (repeatable)")
    ap.add_argument("--data", default="/work/shared/data/skab")
    ap.add_argument("--bundle", default=None, help="skab: the bundle (tflite and onnx artifacts)")
    ap.add_argument("--files", default="dev", choices=["dev", "rest", "all"])
    ap.add_argument("--restart", action="store_true",
                    help="restart the standby side at scored tick F // 2 (a real checkpoint file; swap4)")
    args = ap.parse_args()
    faults = args.fault or ([100, 1440] if args.what == "sim" else [50, 300])
    with tempfile.TemporaryDirectory() as tmp:
        cfg, files, skipped, bundle = (sim_setup if args.what == "sim" else skab_setup)(args, Path(tmp))
        report = {"what": args.what, "set": args.set, "bundle": bundle, "skipped": skipped,
                  "runs": [compare(files, cfg, bundle, fault, args.restart) for fault in faults]}
    for r in report["runs"]:
        print(f"F={r['fault_at_scored_tick']}: {r['ticks']} ticks, decisions agree {r['decision_agreement']:.4f}, "
              f"alert-open agrees {r['open_agreement']:.4f}, raised {r['raised']}, F1 {r['f1']}, threshold rel. diff "
              f"max {r['threshold_rel_diff_max']:.4f}, differs on {r['threshold_differs_share']:.4f} of ticks",
              file=sys.stderr)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
