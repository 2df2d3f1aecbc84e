"""Per-tick cost of the numpy fallback at N = 16, 32, 64, 128, 256 sensors (p50, p99, mean,
ticks per second), and the agent's peak RSS on the demo config. Prints JSON. Run: python bench/fallback.py

With river installed, river's HalfSpaceTrees (score_one + learn_one, bench/table.py's) is timed on
the same rows, alternated with the fallback's score + learn + observe (what a calm tick runs)
tick by tick, and their ratio is printed (`vs_river_hst`, the fallback's p50 over river's: below
1, the fallback is faster)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import RSS_CHILD, machine_info, percentiles_us  # noqa: E402
from table import river_hst  # noqa: E402  (sets one BLAS thread before numpy loads)

from agent import config  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.window import Row, WindowBuffer  # noqa: E402

TICKS = 3000


def bench_n(n: int) -> dict:
    sensors = [f"S{i:03d}_{q}" for i in range(n // 4) for q in ("flow", "occ", "speed", "x")]
    cfg = config.from_dict({"sensors": sensors, "sources": [{"type": "stdin"}], "tick_s": 10,
                            "topology": "corridor", "warmup": {"ticks": 400}, "scoring": {"chain": ["numpy"]}})
    p = Pipeline(cfg)
    rng = np.random.default_rng(0)
    x = np.zeros(n)
    rows = []
    for t in range(400 + TICKS):
        x = 0.8 * x + rng.normal(size=n)
        miss = rng.random(n) < 0.01
        rows.append(Row(ts=t * 10.0, values=np.where(miss, np.nan, x + 50), missing=miss, carried=np.zeros(n, bool)))
    for r in rows[:400]:
        p.step(r)
    step, score = [], []
    for r in rows[400:]:
        t0 = time.perf_counter()
        p.step(r)
        step.append(time.perf_counter() - t0)
    # The scorer alone, on fresh ticks: score + learn + observe, as the pipeline calls them on a calm
    # tick (observe, the Markov chain's counts, runs on every tick; until perf17 this bench left it
    # out); river's HalfSpaceTrees on the same row (its raw values, missing as 0) right after it.
    buf = WindowBuffer(cfg.window.steps, n)
    hst, river = river_hst(n), []
    for r in rows[400:]:
        buf.push(p.normaliser.apply(r.values), r.missing, r.ts)
        t0 = time.perf_counter()
        p.numpy.score(buf)
        p.numpy.learn(buf)
        p.numpy.observe(buf)
        score.append(time.perf_counter() - t0)
        if hst is not None:
            raw = np.nan_to_num(r.values)
            t0 = time.perf_counter()
            hst(raw)
            river.append(time.perf_counter() - t0)
    tick = percentiles_us(step)
    out = {"n_sensors": n, "pipeline_tick": {**tick, "ticks_per_s": round(1e6 / tick["mean_us"], 1)},
           "scorer_score_learn_observe": percentiles_us(score)}
    if river:
        out["river_hst_score_and_learn"] = percentiles_us(river)
        out["vs_river_hst"] = round(out["scorer_score_learn_observe"]["p50_us"] / out["river_hst_score_and_learn"]["p50_us"], 2)
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
    t0 = time.perf_counter()
    # The agent's own peak (VmHWM, read inside it): RUSAGE_CHILDREN would report this bench's peak,
    # which Linux carries across the child's exec.
    res = subprocess.run([sys.executable, "-c", RSS_CHILD, "run", "-c", str(tmp / "demo.yaml"), "--max-ticks", "5000"],
                         cwd=root, capture_output=True, check=True, text=True)
    wall = time.perf_counter() - t0
    rss = int(next(line.split()[1] for line in res.stderr.splitlines() if line.startswith("VmHWM_kB "))) / 1024.0
    return {"config": "configs/demo.yaml (numpy tier, unpaced, 5000 ticks)", "peak_rss_mb": round(rss, 1),
            "wall_s": round(wall, 2), "ticks_per_s": round(5000 / wall, 1)}


def main() -> None:
    results = [bench_n(n) for n in (16, 32, 64, 128, 256)]
    base = results[0]["pipeline_tick"]["p50_us"]
    for r in results:
        r["cost_vs_n16"] = round(r["pipeline_tick"]["p50_us"] / base, 2)
    print(json.dumps({"bench": "fallback", "machine": machine_info(), "ticks": TICKS, "results": results,
                      "agent": demo_rss()}, indent=2))


if __name__ == "__main__":
    main()
