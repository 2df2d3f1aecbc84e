"""The agent's int8 model scorer against PyTorch eager on the same model, in one process, in the
cache state the agent's own tick leaves it.

bench/table.py interleaves every path of the issue-16 table tick by tick: between two calls of the
LiteRT scorer run five whole-tick pipelines, two torch models and the ORT paths, so each call
starts with nothing of its own in the caches (a sweep of 8 MB before each call reproduces its
figures: the scorer ~2.5× what it costs warm). That is a fair ratio of paths that all run cold,
not what the scorer costs in the agent. Here the demo's tflite pipeline steps through the demo's
own ticks (configs/demo.yaml, the demo bundle, one thread) and:

- the agent's LiteRT int8 scorer's `score(window)` is timed where the scorer chain calls it,
  inside the pipeline's tick: the caches hold what the rest of the agent's tick (normaliser,
  window, fault tracker, detector, the fallback's learning) left in them;
- after the tick, on the same window, in a rotating order: PyTorch eager fp32 on model.pt as
  trained (the reference of the ratio) and in the folded form the artifacts are exported from,
  the raw LiteRT call, the scorer's `score(window)` again (the same tick re-scored), each after
  nothing but the others; and with `--cold`, each of them also after an 8 MB sweep (the table's
  setting, for every path alike);
- `--rounds` rounds of `--ticks` ticks each, one after the other in this process: every round's
  p50s and ratios, and the smallest ratio of all rounds (what "≥ 10× in one run" needs to hold).

JSON to --out (p50/p99 per path and round, the ratios, the whole tick, machine); a table on stdout.

    python bench/scorer.py [--ticks 1000] [--rounds 3] [--cold] [--out scorer.json]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # one core, before numpy loads
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import machine_info, percentiles_us  # noqa: E402
from table import DEMO_BUNDLE, demo_config, demo_rows, time_calls  # noqa: E402   (the same demo ticks as the table)

from agent.config import from_dict  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

SWEEP_BYTES = 8 << 20
REFERENCE = "torch eager fp32 (model.pt as trained)"
IN_TICK = "agent LiteRT int8 scorer, score(window), inside the tick"


def torch_models():
    """The demo bundle's model.pt as trained and its folded form (convert/fold.py)."""
    import torch

    from agent.bundle import load
    from convert.bundle_writer import CALIBRATION_FILE, load_model, load_windows
    from convert.fold import fold
    torch.set_num_threads(1)
    manifest = load(DEMO_BUNDLE).manifest
    model = load_model(DEMO_BUNDLE, manifest).eval()
    return model, fold(model, *load_windows(DEMO_BUNDLE / CALIBRATION_FILE, manifest.steps))


def run(ticks: int, rounds: int, cold: bool, log) -> tuple[list[dict], dict]:
    import torch

    work = Path(tempfile.mkdtemp(prefix="stad-bench-scorer-"))
    cfg = from_dict(demo_config(["tflite", "numpy"], work), base_dir=str(ROOT))
    warm = cfg.warmup.ticks
    rows = demo_rows(cfg, warm + cfg.window.steps + ticks * rounds)
    log(f"  {len(rows)} demo ticks (warm-up {warm}), {rounds} rounds of {ticks}")
    pipe = Pipeline(cfg)
    for row in rows[:-ticks * rounds]:
        pipe.step(row)
    scorer = pipe.chain.current
    if scorer.TYPE != "tflite":
        raise RuntimeError(f"the tflite tier did not load (the chain is on {scorer.TYPE})")
    model, folded = torch_models()
    values, missing = torch.from_numpy(scorer._values), torch.from_numpy(scorer._missing)
    window = pipe.window

    score = scorer.score                         # the untimed call, for the after-the-tick path
    in_tick = time_calls(scorer, "score")        # the chain calls the instance attribute

    def eager(module):
        def call():
            with torch.no_grad():
                module(values, missing)
        return call
    paths = {REFERENCE: eager(model), "torch eager fp32, folded as exported": eager(folded),
             "LiteRT int8, the runtime call alone": lambda: scorer.run(scorer._values, scorer._missing),
             "agent LiteRT int8 scorer, score(window), after the others": lambda: score(window)}
    sweep = np.ones(SWEEP_BYTES // 8)
    variants = [(name, False) for name in paths] + ([(name, True) for name in paths] if cold else [])
    results = []
    for r in range(rounds):
        samples = {f"{name}{', cold' if c else ''}": [] for name, c in variants}
        whole: list[float] = []
        in_tick.clear()
        for i, row in enumerate(rows[len(rows) - ticks * (rounds - r):len(rows) - ticks * (rounds - r - 1)]):
            t0 = time.perf_counter()
            pipe.step(row)
            whole.append(time.perf_counter() - t0)
            k = i % len(variants)
            for name, c in variants[k:] + variants[:k]:
                if c:
                    sweep.sum()
                t0 = time.perf_counter()
                paths[name]()
                samples[f"{name}{', cold' if c else ''}"].append(time.perf_counter() - t0)
        out = {IN_TICK: percentiles_us(in_tick), "whole tick, tflite tier": percentiles_us(whole)}
        out.update({name: percentiles_us(s) for name, s in samples.items()})
        ref = out[REFERENCE]["p50_us"]
        for name, f in out.items():
            if not name.startswith("whole tick"):
                f["vs_eager"] = round(ref / f["p50_us"], 2)
        if cold:
            ref_cold = out[f"{REFERENCE}, cold"]["p50_us"]
            for name, f in out.items():
                if name.endswith(", cold"):
                    f["vs_eager"] = round(ref_cold / f["p50_us"], 2)
        results.append(out)
        log(f"  round {r + 1}: in-tick scorer {out[IN_TICK]['p50_us']} µs, eager {ref} µs, "
            f"{out[IN_TICK]['vs_eager']}×")
    facts = {"sensors": len(cfg.sensor_names()), "steps": cfg.window.steps, "ticks_per_round": ticks,
             "rounds": rounds, "warmup_ticks": warm, "artifact": scorer.artifact.file, "runtime": scorer.runtime,
             "scored_ticks_in_tick": "every tick the chain scored on the tflite tier"}
    return results, facts


def render(results: list[dict], facts: dict) -> str:
    names = list(results[0])
    lines = [f"demo bundle N={facts['sensors']} T={facts['steps']}, {facts['rounds']} rounds × "
             f"{facts['ticks_per_round']} ticks, one thread ({facts['artifact']}, {facts['runtime']})",
             f"{'path':<62} " + " ".join(f"{'round ' + str(r + 1):>16}" for r in range(len(results)))]
    for name in names:
        cells = []
        for out in results:
            f = out[name]
            ratio = f" {f['vs_eager']:.1f}×" if "vs_eager" in f else ""
            cells.append(f"{f['p50_us']:>8.1f}{ratio:>8}")
        lines.append(f"{name:<62} " + " ".join(cells))
    low = min(out[IN_TICK]["vs_eager"] for out in results)
    lines.append(f"smallest in-tick ratio of the {len(results)} rounds: {low:.2f}×")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=1000, help="timed ticks per round (after the demo's warm-up day)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, one after the other in this process")
    ap.add_argument("--cold", action="store_true", help="also time every path after an 8 MB cache sweep")
    ap.add_argument("--out", default="scorer.json", help="where the JSON goes")
    args = ap.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    results, facts = run(args.ticks, args.rounds, args.cold, log)
    report = {"bench": "scorer", "machine": machine_info(("numpy", "ai-edge-litert", "torch")), "threads": 1,
              "batch": 1, "facts": facts, "rounds": results,
              "smallest_in_tick_ratio": min(out[IN_TICK]["vs_eager"] for out in results),
              "load_average": os.getloadavg(), "seconds": round(time.perf_counter() - started, 1)}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(render(results, facts))
    print(f"JSON: {args.out} ({report['seconds']} s, load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
