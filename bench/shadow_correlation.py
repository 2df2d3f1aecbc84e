"""What a hot swap's shadow measures between two bundles (user9, review21's finding 6): the score
correlation of candidate bundles with the running one over shadows of `scoring.shadow_ticks` ticks,
so that a gate on it (`scoring.shadow_min_correlation`) has a default chosen from measurement.

Why a bench and not the agent: the shadow computes its correlation once per candidate; to choose a
floor we need its spread over every stretch a bundle could arrive in. This runs the daemon's Pipeline
on each labelled file (warmed up on its own training part, as `evaluate` does) with the running
bundle, scores each candidate beside it on every tick through the calls the shadow made when user9
measured (`prepare(tiers)`, `score_beside(scorer)`: the candidate unprofiled, its raw score — since swap1 the
shadow prepares a candidate on the plant's recent calm ticks and scores it as the tick would, which
bench/swap_profile.py measures), and cuts the scored ticks into consecutive shadows of
`--shadow-ticks`. Per candidate: the correlation's quantiles, how many shadows were undefined (a
calm stretch: one side's scores constant), and how many sensors the swap's scale check
(`scale_mismatches`) named at the end of each shadow.

    python bench/shadow_correlation.py -c configs/skab.yaml --data /work/shared/data/skab \
        --running /tmp/skab23/W/W-s0 --candidate s2=/tmp/skab23/W/W-s2 ... > out.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.config import load  # noqa: E402
from agent.evaluate.labelled import labelled_source, load_files, protocol_of  # noqa: E402
from agent.evaluate.score_file import model_tier  # noqa: E402
from agent.hotswap import Shadow  # noqa: E402
from agent.models_dir import build_candidate  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402


def shadows_of(current: np.ndarray, candidate: np.ndarray, n: int) -> list[float]:
    """The correlation each consecutive n-tick shadow would have logged (NaN: undefined)."""
    out = []
    for i in range(0, len(current) - n + 1, n):
        sh = Shadow(path=Path("."), trigger="bench", tiers=[], detector=None,
                    current=list(current[i:i + n]), candidate=list(candidate[i:i + n]))
        out.append(sh.correlation())
    return out


def summary(rs: list[float], floors: list[float]) -> dict:
    a = np.asarray(rs, float)
    ok = a[np.isfinite(a)]
    q = (lambda p: round(float(np.quantile(ok, p)), 3)) if ok.size else (lambda p: None)
    return {"shadows": int(a.size), "undefined": int(np.isnan(a).sum()),
            "min": q(0.0), "p05": q(0.05), "p25": q(0.25), "median": q(0.5), "max": q(1.0),
            "below": {str(f): int((ok < f).sum()) for f in floors}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--running", required=True, help="the bundle the agent runs")
    ap.add_argument("--candidate", action="append", default=[], help="NAME=BUNDLE, repeated")
    ap.add_argument("--shadow-ticks", type=int, default=None, help="default: the config's scoring.shadow_ticks")
    ap.add_argument("--tier", default="tflite", help="the one model tier run (chain TIER, numpy)")
    ap.add_argument("--floors", default="0,0.1,0.2,0.3,0.4,0.5")
    args = ap.parse_args(argv)
    cfg = load(args.config)
    cfg = dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, counts="ticks"),
                              scoring=dataclasses.replace(cfg.scoring, chain=[args.tier, "numpy"],
                                                          latency_budget_ms=math.inf))
    n = args.shadow_ticks or cfg.scoring.shadow_ticks
    floors = [float(f) for f in args.floors.split(",")]
    src = labelled_source(cfg, args.data)
    files, skipped = load_files(cfg, src, protocol_of(src))
    names = [c.split("=", 1)[0] for c in args.candidate]
    paths = [Path(c.split("=", 1)[1]).resolve() for c in args.candidate]
    per: dict[str, list[float]] = {k: [] for k in names}
    offscale: dict[str, list[int]] = {k: [] for k in names}
    folder_of: list[str] = []           # the top folder of each shadow's file ('valve1', 'other', '.')
    for f in files:
        tiers, why = model_tier(cfg, args.tier, str(Path(args.running).resolve()))
        if not tiers:
            raise SystemExit(f"the running bundle did not load: {why}")
        pipe = Pipeline(cfg, tiers=tiers, warmup_ticks=f.train_ticks)
        cands = {}
        for k, p in zip(names, paths):
            ct, refusals = build_candidate(cfg, p)
            if not ct:
                raise SystemExit(f"{k}: {p} did not load: {refusals}")
            pipe.prepare(ct)
            cands[k] = ct[0]
        cur, got = [], {k: [] for k in names}
        for row in f.rows:
            res = pipe.step(row)
            if res.warming:
                continue
            cur.append(res.score)
            for k, sc in cands.items():
                got[k].append(pipe.score_beside(sc).score)
            if len(cur) % n == 0:
                for k, sc in cands.items():
                    offscale[k].append(len(pipe.scale_mismatches(sc)))
        for k in names:
            per[k] += shadows_of(np.asarray(cur), np.asarray(got[k]), n)
        folder_of += [f.name.split("/")[0] if "/" in f.name else "."] * (len(cur) // n)
        print(f"{f.name}: {len(cur)} scored ticks", file=sys.stderr, flush=True)
    def judged(k: str, keep) -> dict:
        rs = [r for r, fo in zip(per[k], folder_of) if keep(fo)]
        off = [o for o, fo in zip(offscale[k], folder_of) if keep(fo)]
        return {**summary(rs, floors),
                "sensors_off_scale": {"median": float(np.median(off)) if off else None, "max": max(off, default=None),
                                      "shadows_with_half_or_more": int(sum(o * 2 >= len(cfg.sensors) for o in off))}}

    folders = sorted(set(folder_of))
    out = {"config": args.config, "running": args.running, "shadow_ticks": n, "tier": args.tier,
           "files": len(files), "skipped": skipped,
           "candidates": {k: {"bundle": str(p), **judged(k, lambda fo: True),
                              "by_folder": {fo: judged(k, lambda x, fo=fo: x == fo) for fo in folders}}
                          for k, p in zip(names, paths)}}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
