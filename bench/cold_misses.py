"""The demo's tflite tick with cold caches, counted: last-level cache misses per tick and per part.

bench/cadence.py times the tick as a gateway runs it (after a real sleep, after a cache sweep); at a
gateway's cadence a tick costs ~5× its back-to-back time, and that time is what its cold misses cost. Timed,
a part's share moves by a few % from run to run on a shared machine. Counted, it does not: this bench runs
the demo's tflite pipeline (after its warm-up day and `--skip` more ticks) under valgrind's callgrind with its
cache simulation (I1 32 KiB, D1 48 KiB, LL 4 MiB: L1 and L2 of one core of the machine perf69 measured on),
reads an 8 MiB buffer before each of `--ticks` ticks (the simulated D1 and LL lose what the tick left there),
and reports per tick the instructions and the LL misses — instruction fetches, data reads, data writes — of
the whole tick and of each part asked for (`--parts`, bound methods reached from the pipeline:
`health.observe`, `chain.current.score`, `chain.current.run_read_now`, `window.push_raw`, `detector.step`…;
each part is a run of its own: only its calls are collected, while the cache simulation runs through the
whole tick, so each part starts with the caches the tick before it leaves). An A/A repeat differs by ~0.3 %.

What it does not see: the sweep reads data, so the simulated I1 keeps code across ticks (instruction misses
are under-counted against a real sleep, where the L2 and L3 lose the code too); no TLB, no branch
predictors, no wake-up of an idle core; an LL miss is not a fixed time. Read it as where a cold tick's
memory traffic is, and as a guide for a cut (a cut that does not lower it will not show cold), and judge a
cut by bench/cadence.py. `--top N`: the N C functions with the most LL misses of the whole tick.
`--before REF`: the same counts of the tree at git REF (or directory REF) beside this one's.
Needs valgrind (callgrind) on PATH; ~20 s a part at 100 ticks.

    python bench/cold_misses.py [--ticks 100] [--skip 200] [--parts PART ...] [--top 25] [--before REF]
                                [--warmup-ticks N] [--out cold_misses.json]

`--warmup-ticks N`: a warm-up of N ticks instead of the demo's day (tests/test_perf71_cold_misses.py: what it checks
needs a scoring tflite tier, not a day of warm-up, which under valgrind was half its CPU).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info, out_file, write_report  # noqa: E402

#: callgrind's simulated caches: size, associativity, line size (bytes).
CACHES = ("--I1=32768,8,64", "--D1=49152,12,64", "--LL=4194304,16,64")
EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")
SWEEP_BYTES = 8 << 20
DEFAULT_PARTS = ("health.observe", "chain.score_blended", "chain.current.score", "chain.current.run_read_now",
                 "chain.current.bias", "chain.current.inputs", "window.push_raw", "detector.step", "chain.learn",
                 "numpy.observe")


def child(root: Path, ticks: int, skip: int, part: str | None, warmup: int | None = None) -> None:
    """Inside valgrind: the demo's tflite pipeline of the tree at `root`, warmed up uninstrumented, then
    `ticks` ticks each after the sweep, collected inside operator.call (the whole step, or `part`'s calls)."""
    import functools
    import operator
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path[:0] = [str(root / "bench"), str(root)]
    import numpy as np
    import table
    import agent
    from agent.config import from_dict
    from agent.pipeline import Pipeline
    if Path(agent.__file__).resolve().parent != (root / "agent").resolve():
        raise SystemExit(f"agent imported from {agent.__file__}, not from {root}")
    work = Path(tempfile.mkdtemp(prefix="stad-cold-misses-"))
    raw = table.demo_config(["tflite", "numpy"], work)
    raw["scoring"]["latency_budget_ms"] = 1e9       # valgrind is ~50× slower: no step down for time
    if warmup is not None:
        raw["warmup"]["ticks"] = warmup
    cfg = from_dict(raw, base_dir=str(root))
    first = cfg.warmup.ticks + cfg.window.steps + skip
    rows = table.demo_rows(cfg, first + ticks)
    pipe = Pipeline(cfg)
    for row in rows[:first]:
        pipe.step(row)
    if pipe.chain.tier != "tflite":
        raise SystemExit(f"the tflite tier did not load (chain is on {pipe.chain.tier})")
    step = pipe.step
    if part:
        *path, name = part.split(".")
        obj = functools.reduce(getattr, path, pipe)
        call = getattr(obj, name)
        setattr(obj, name, lambda *a, **k: operator.call(call, *a, **k))
    sweep = np.ones(SWEEP_BYTES // 8)
    instrument = subprocess.Popen(["callgrind_control", "-i", "on", str(os.getpid())], stdout=subprocess.DEVNULL)
    while instrument.poll() is None:                # (instrumentation is on once callgrind_control returns)
        sum(range(1000))
    if instrument.returncode != 0:
        raise SystemExit("callgrind_control could not turn instrumentation on")
    for row in rows[first:]:
        sweep.sum()
        if part:
            step(row)
        else:
            operator.call(step, row)


def counted(root: Path, ticks: int, skip: int, part: str | None, work: Path, top: int = 0,
            warmup: int | None = None) -> dict:
    """One valgrind run: per tick, each event's count (and with `top`, the functions with most LL misses)."""
    out = work / f"callgrind.{part or 'tick'}.out"
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes", *CACHES, "--instr-atstart=no", "--collect-atstart=no",
           "--toggle-collect=_operator_call", f"--callgrind-out-file={out}", sys.executable, str(Path(__file__).resolve()),
           "--child", str(root), "--ticks", str(ticks), "--skip", str(skip)] + (["--part", part] if part else []) \
        + (["--warmup-ticks", str(warmup)] if warmup is not None else [])
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"))
    if res.returncode != 0 or not out.is_file():
        raise RuntimeError(f"valgrind run failed ({res.returncode}): {res.stderr[-1500:]}")
    totals = next(line for line in out.read_text().splitlines() if line.startswith("totals:"))
    counts = dict(zip(EVENTS, map(int, totals.split()[1:])))
    per_tick = {k: round(v / ticks, 1) for k, v in counts.items()}
    result = {"Ir": per_tick["Ir"], "LL misses": round(per_tick["ILmr"] + per_tick["DLmr"] + per_tick["DLmw"], 1),
              "LL instruction": per_tick["ILmr"], "LL data read": per_tick["DLmr"], "LL data write": per_tick["DLmw"],
              "L1 misses": round(per_tick["I1mr"] + per_tick["D1mr"] + per_tick["D1mw"], 1)}
    if top:
        result["top functions"] = top_functions(out, ticks, top)
    return result


def top_functions(out: Path, ticks: int, n: int) -> list[dict]:
    """The `n` functions with the most LL misses (their own, not their callees'), per tick."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--show-percs=no", str(out)],
                          capture_output=True, text=True, check=True).stdout
    rows = []
    for line in text.splitlines():
        cells = line.split()
        if len(cells) <= len(EVENTS) or "PROGRAM" in line:
            continue
        values = cells[:len(EVENTS)]
        if not all(v == "." or v.replace(",", "").isdigit() for v in values):
            continue
        c = dict(zip(EVENTS, (0 if v == "." else int(v.replace(",", "")) for v in values)))
        name = " ".join(cells[len(EVENTS):]).split(" [")[0]
        rows.append({"function": name.rsplit("/", 1)[-1], "LL misses": round((c["ILmr"] + c["DLmr"] + c["DLmw"]) / ticks, 1),
                     "LL instruction": round(c["ILmr"] / ticks, 1), "LL data read": round(c["DLmr"] / ticks, 1),
                     "LL data write": round(c["DLmw"] / ticks, 1), "Ir": round(c["Ir"] / ticks)})
    rows.sort(key=lambda r: -r["LL misses"])
    return rows[:n]


def tree_at(ref: str, work: Path) -> Path:
    """A directory holding the tree at git `ref` (its agent, bench and configs), or `ref` itself when it is one."""
    if (Path(ref) / "agent" / "pipeline.py").is_file():
        return Path(ref).resolve()
    dest = work / "before"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "agent", "bench", "configs"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def render(report: dict) -> str:
    lines = [f"{'tree':<10} {'part':<30} {'Ir/tick':>10} {'LL miss':>8} {'instr':>7} {'read':>7} {'write':>7}"]
    for tree, parts in report["trees"].items():
        for part, c in parts.items():
            lines.append(f"{tree:<10} {part:<30} {c['Ir']:>10.0f} {c['LL misses']:>8.0f} {c['LL instruction']:>7.0f} "
                         f"{c['LL data read']:>7.0f} {c['LL data write']:>7.0f}")
    for tree, parts in report["trees"].items():
        for f in parts.get("whole tick", {}).get("top functions", []):
            lines.append(f"{tree:<10} top: {f['LL misses']:>7.1f} LL misses (I {f['LL instruction']:.0f}, "
                         f"r {f['LL data read']:.0f}, w {f['LL data write']:.0f})  {f['function'][:90]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=100, help="cold ticks counted (each after the 8 MiB sweep)")
    ap.add_argument("--skip", type=int, default=200, help="ticks stepped after the warm-up day before counting")
    ap.add_argument("--warmup-ticks", type=int, default=None, metavar="N",
                    help="a warm-up of N ticks instead of the demo config's (a day)")
    ap.add_argument("--parts", nargs="*", default=list(DEFAULT_PARTS),
                    help="bound methods reached from the pipeline, each counted in a run of its own")
    ap.add_argument("--top", type=int, default=25, help="the whole tick's N functions with the most LL misses")
    ap.add_argument("--before", default=None, metavar="REF", help="also the tree at this git ref, or directory")
    ap.add_argument("--out", type=out_file, default="cold_misses.json", help="where the JSON goes")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--part", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(Path(args.child), args.ticks, args.skip, args.part, args.warmup_ticks)
        return 0
    if args.ticks < 1 or args.skip < 0 or args.top < 0:
        ap.error("--ticks takes a value ≥ 1, --skip and --top values ≥ 0")
    if args.warmup_ticks is not None and args.warmup_ticks < 1:
        ap.error("--warmup-ticks takes a value ≥ 1")
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            ap.error(f"{tool} is not on PATH (this bench runs the tick under valgrind's callgrind)")
    started = time.perf_counter()
    report = {"bench": "cold_misses", "machine": machine_info(("numpy", "ai-edge-litert")), "caches": list(CACHES),
              "sweep_bytes": SWEEP_BYTES, "ticks": args.ticks, "skip": args.skip, "warmup_ticks": args.warmup_ticks,
              "before": args.before, "trees": {}}
    with tempfile.TemporaryDirectory(prefix="stad-bench-cold-") as tmp:
        work = Path(tmp)
        trees = {"this": ROOT}
        if args.before:
            trees["before"] = tree_at(args.before, work)
        for name, root in trees.items():
            parts = report["trees"][name] = {}
            for part in [None, *args.parts]:
                print(f"  {name}: {part or 'whole tick'}", file=sys.stderr, flush=True)
                parts[part or "whole tick"] = counted(root, args.ticks, args.skip, part, work, args.top if part is None else 0,
                                                      args.warmup_ticks)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return write_report(report, args.out, render(report))


if __name__ == "__main__":
    raise SystemExit(main())
