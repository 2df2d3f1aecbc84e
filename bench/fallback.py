"""Per-tick cost of the numpy fallback at N = 16, 32, 64, 128, 256 sensors (p50, p99, mean,
ticks per second), and the agent's peak RSS on the demo config. Prints JSON. Run: python bench/fallback.py

With river installed, river's HalfSpaceTrees (score_one + learn_one, bench/table.py's) is timed on
the same rows, alternated with the fallback's score + learn + observe (what a calm tick runs)
tick by tick, and their ratio is printed (`vs_river_hst`, the fallback's p50 over river's: below
1, the fallback is faster). The fallback is timed as deep copies of the warmed one (below): in
fresh memory it read 4-6 % faster than the pipeline's own state, built first as the agent builds it (perf58).

    python bench/fallback.py [--sizes 16 64] [--no-rss] [--before REF] [--dead K]

`--dead K`: the first K sensors are never heard after the warm-up (a dead sensor, or one a fault masks).

`--before REF`: the fallback of the agent package at git REF (or in directory REF/agent, as
bench/table.py's `--before`) timed beside this one on the same rows, each warmed on the same
warm-up, river after both sides: `vs_before` is this package's p50 over REF's (below 1, this one is
faster), a ratio within one run, and `pipeline_vs_before` the same of the whole pipeline tick (both pipelines
stepped in a new order each tick); an A/A run (this bench in a tree whose package is REF's) shows how
far from 1 the same code reads. How the two sides are made equal (perf58): each is timed as deep
copies of its warmed fallback in fresh memory (after a third copy, kept, that fills the holes the
imports left), in a new random order every tick: copies made this, REF, REF, this over the first
half of the ticks, and REF, this, this, REF (caught up untimed) over the second."""
from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import OPTIMIZE, RSS_CHILD, agent_env, compile_agent, machine_info, percentiles_us  # noqa: E402
from table import package_at, river_hst  # noqa: E402  (sets one BLAS thread before numpy loads)

from agent import config  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.window import Row, WindowBuffer  # noqa: E402

TICKS = 3000


def bench_n(n: int, before=None, dead: int = 0) -> dict:
    """`before`: (config, pipeline) modules of another agent package, whose fallback is timed beside; `dead`: the
    first `dead` sensors never heard after the warm-up (a dead or fault-masked sensor: perf79)."""
    sensors = [f"S{i:03d}_{q}" for i in range(n // 4) for q in ("flow", "occ", "speed", "x")]
    raw = {"sensors": sensors, "sources": [{"type": "stdin"}], "tick_s": 10,
           "topology": "corridor", "warmup": {"ticks": 400}, "scoring": {"chain": ["numpy"]}}
    cfg = config.from_dict(raw)
    p = Pipeline(cfg)
    then = None if before is None else before[1].Pipeline(before[0].from_dict(raw))
    rng = np.random.default_rng(0)
    x = np.zeros(n)
    rows = []
    for t in range(400 + TICKS):
        x = 0.8 * x + rng.normal(size=n)
        miss = rng.random(n) < 0.01
        if t >= 400:
            miss[:dead] = True
        rows.append(Row(ts=t * 10.0, values=np.where(miss, np.nan, x + 50), missing=miss, carried=np.zeros(n, bool)))
    for r in rows[:400]:
        p.step(r)
        if then is not None:
            then.step(r)
    step, step_then, score, score_then = [], [], [], []
    turns = random.Random(7)        # both pipelines' whole ticks timed, in a new order each tick (perf79)
    for r in rows[400:]:
        pair = [(p, step)] if then is None else [(p, step), (then, step_then)]
        turns.shuffle(pair)
        for pipe, times in pair:
            t0 = time.perf_counter()
            pipe.step(r)        # (then's: the same state as p's after the same rows)
            times.append(time.perf_counter() - t0)
    # The scorer alone, on fresh ticks: score + learn + observe, as the pipeline calls them on a calm
    # tick (observe, the Markov chain's counts, runs on every tick; until perf17 this bench left it
    # out); river's HalfSpaceTrees on the same row (its raw values, missing as 0) right after them.
    # Each side is timed as deep copies of its fallback, made after a third one that is kept and never
    # timed, each with its own window, in a new random order every tick: a fallback's state built first
    # lands in the holes the imports left and read 2-5 % slower than one built later (perf58: an A/A
    # run read 1.016-1.044), copies in fresh memory read alike, but for their place among the copies
    # (this, REF, REF, this read ~0.7 % against this; REF, this, this, REF as much the other way). So
    # two sets, one made in each of those orders: the first timed over the first half of the ticks, the
    # second (caught up untimed) over the second half. A fixed first place (after river) cost ~10 %.
    ballast = copy.deepcopy(p.numpy)     # noqa: F841  (kept: the copies below go to fresh memory)
    sides = [(p, score)] if then is None else [(p, score), (then, score_then)]
    copies = [(copy.deepcopy(sides[k][0].numpy), sides[k][0].normaliser, WindowBuffer(cfg.window.steps, n), sides[k][1])
              for k in ((0, 0, 0, 0) if then is None else (0, 1, 1, 0, 1, 0, 0, 1))]
    shuffle, half, first = random.Random(16), TICKS // 2, copies[:len(copies) // 2]
    second = copies[len(copies) // 2:]
    hst, river = river_hst(n), []
    for j, r in enumerate(rows[400:]):
        if j == half:
            for kept in rows[400:400 + half]:
                for fallback, normaliser, window, _ in second:
                    window.push(normaliser.apply(kept.values), kept.missing, kept.ts)
                    fallback.score(window)
                    fallback.learn(window)
                    fallback.observe(window)
        timed = first if j < half else second
        shuffle.shuffle(timed)
        for fallback, normaliser, window, times in timed:
            window.push(normaliser.apply(r.values), r.missing, r.ts)
            t0 = time.perf_counter()
            fallback.score(window)
            fallback.learn(window)
            fallback.observe(window)
            times.append(time.perf_counter() - t0)
        if hst is not None:
            raw = np.nan_to_num(r.values)
            t0 = time.perf_counter()
            hst(raw)
            river.append(time.perf_counter() - t0)
    tick = percentiles_us(step)
    out = {"n_sensors": n, "dead_sensors": dead, "pipeline_tick": {**tick, "ticks_per_s": round(1e6 / tick["mean_us"], 1)},
           "scorer_score_learn_observe": percentiles_us(score)}
    if river:
        out["river_hst_score_and_learn"] = percentiles_us(river)
        out["vs_river_hst"] = round(out["scorer_score_learn_observe"]["p50_us"] / out["river_hst_score_and_learn"]["p50_us"], 2)
    if score_then:
        out["before_pipeline_tick"] = percentiles_us(step_then)
        out["pipeline_vs_before"] = round(float(np.median(step) / np.median(step_then)), 3)
        out["before_score_learn_observe"] = percentiles_us(score_then)
        out["vs_before"] = round(float(np.median(score) / np.median(score_then)), 3)
        if river:
            out["before_vs_river_hst"] = round(float(np.median(score_then) / np.median(river)), 3)
    return out


def demo_rss() -> dict:
    root = Path(__file__).resolve().parents[1]
    text = (root / "configs/demo.yaml").read_text().replace("speed: 60", "speed: 0")
    text = text.replace("  - type: mqtt\n    broker: {host: localhost, port: 1883}\n    prefix: stad\n", "")
    tmp = Path("/tmp/stad-bench-demo")
    tmp.mkdir(exist_ok=True)
    (tmp / "demo.yaml").write_text(text.replace("state_dir: ./state", f"state_dir: {tmp}/state")
                                   .replace("path: state/alerts.jsonl", f"path: {tmp}/alerts.jsonl")
                                   .replace("builtin:demo-corridor", "null"))
    compile_agent()
    t0 = time.perf_counter()
    # The agent's own peak (VmHWM, read inside it): RUSAGE_CHILDREN would report this bench's peak,
    # which Linux carries across the child's exec. Run as the systemd unit runs it (python -OO), as bench/rss.py.
    res = subprocess.run([sys.executable, "-c", RSS_CHILD, "run", "-c", str(tmp / "demo.yaml"), "--max-ticks", "5000"],
                         cwd=root, capture_output=True, check=True, text=True, env=agent_env())
    wall = time.perf_counter() - t0
    rss = int(next(line.split()[1] for line in res.stderr.splitlines() if line.startswith("VmHWM_kB "))) / 1024.0
    return {"config": "configs/demo.yaml (numpy tier, unpaced, 5000 ticks)", "peak_rss_mb": round(rss, 1),
            "python_optimize": OPTIMIZE["level"] or "0",
            "wall_s": round(wall, 2), "ticks_per_s": round(5000 / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256], metavar="N")
    ap.add_argument("--no-rss", action="store_true", help="skip the demo's peak RSS")
    ap.add_argument("--before", default=None, metavar="REF",
                    help="a git ref or a directory holding an agent package, timed beside this one")
    ap.add_argument("--dead", type=int, default=0, metavar="K",
                    help="the first K sensors never heard after the warm-up (dead, or masked by a fault)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        before = None if args.before is None else package_at(args.before, Path(work))
        results = [bench_n(n, before, args.dead) for n in args.sizes]
    base = results[0]["pipeline_tick"]["p50_us"]
    for r in results:
        r[f"cost_vs_n{args.sizes[0]}"] = round(r["pipeline_tick"]["p50_us"] / base, 2)
    out = {"bench": "fallback", "machine": machine_info(), "ticks": TICKS, "before": args.before, "results": results}
    if not args.no_rss:
        out["agent"] = demo_rss()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
