"""The demo's whole tflite and numpy ticks as a gateway runs them: once a second, caches not warm.

bench/table.py times the ticks back to back (or interleaved with other paths): what one tick
leaves in the caches the next one finds. A gateway ticks once a `tick_s` (1 s on the demo) and in
between the OS, the MQTT client and everything else run; its tick starts with little of its own in
the caches and, after a sleep, possibly with a core that has to wake up. This bench times each
tier's `Pipeline.step(row)` under settings of two kinds:

- a cadence: a real `time.sleep(cadence_s)` right before the step (`--cadence-s 1 0.1 0`);
- a cache sweep: reading `sweep_kib` KiB of a buffer of its own right before the step
  (`--sweep-kib 256 1024 8192`; bench/scorer.py's `--cold` is 8192 KiB), with no sleep;
- a busy wait (`--spin-s 0.1`): the same time passes as in a sleep, but the core stays with this
  process, so what a sleep adds beyond it is what the idle core and whatever else ran cost;

(with `--grid`, every cadence with every sweep). The settings are interleaved: each round, every
(setting, tier) pair once, in a new random order, each pipeline stepped on its next demo row; so
a setting's ticks are a random sample of the same row stream and machine load hits every setting
alike. Each step is also split as bench/table.py splits it: the sensor-fault tracker
(`FaultTracker.observe`), the rest; and inside it the model tier's scorer (`score(window)`), of it
the runtime call, and the chain's learning (the numpy fallback's; 0 on a tick that does not learn); with
`--rules`, the tracker's time too, by rule (each rule's observe and learn, the normal behaviour's
learning, and what is left: the tracker's own lines).
With `--before REF`, the same ticks of the agent package at git REF (or DIR/agent) are pipelines
of their own in the same rounds (`--before .` times this tree against itself: an A/A pair).

Its time: every round sleeps sum(cadences) once per tier, so 300 rounds at `--cadence-s 1 0.1 0`
with two tiers take ~11 min (4 tiers with --before: ~22); the default 150 rounds half that.

    python bench/cadence.py [--rounds 150] [--cadence-s 1 0.1 0] [--sweep-kib 256 1024 8192] [--spin-s 0.1] [--grid]
                            [--before REF] [--rules] [--out cadence.json]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # one core, before numpy loads
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info, out_file, write_report  # noqa: E402
from table import ROOT, demo_config, demo_rows, package_at, percentiles, tick_name, time_calls  # noqa: E402

from agent.config import from_dict  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

#: The setting with neither: each step right after some other (setting, tier) pair's step, as in
#: bench/table.py's interleaved run (not quite its --whole-ticks back-to-back figure: the step before
#: may have swept or slept).
NO_IDLE = "no idle, no sweep"
CHAINS = {"tflite": ["tflite", "numpy"], "numpy": ["numpy"]}


class Setting(NamedTuple):
    """What happens right before a timed step: a sleep, a cache sweep, a busy wait."""
    cadence_s: float = 0.0
    sweep_kib: int = 0
    spin_s: float = 0.0

    @property
    def name(self) -> str:
        """'no idle, no sweep' (right after another tier's step), 'every 1 s', '8192 KiB swept',
        'every 1 s + 8192 KiB swept', 'spin 0.1 s'."""
        parts = ([f"every {self.cadence_s:g} s"] if self.cadence_s else []) \
            + ([f"spin {self.spin_s:g} s"] if self.spin_s else []) \
            + ([f"{self.sweep_kib} KiB swept"] if self.sweep_kib else [])
        return " + ".join(parts) or NO_IDLE


def settings_of(cadences: list[float], sweeps: list[int], spins: list[float], grid: bool) -> list[Setting]:
    """Every cadence without a sweep, every sweep without a sleep (or, `grid`, every pair), every
    busy wait alone; no idle and no sweep always among them."""
    if grid:
        pairs = [Setting(c, s) for c in cadences for s in sweeps]
    else:
        pairs = [Setting(c, 0) for c in cadences] + [Setting(0.0, s) for s in sweeps]
    out: list[Setting] = [Setting()]
    for setting in pairs + [Setting(spin_s=w) for w in spins]:
        if setting not in out:
            out.append(setting)
    return out


def spin(seconds: float) -> None:
    """Busy-wait `seconds` on this core (a loop on the clock: a tiny working set of its own)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def parts_of(pipe, tier: str) -> dict[str, tuple[list[float], list[int]]]:
    """Timers inside `pipe`'s step (each: the seconds of every call, and how many were read so far):
    the model tier's scorer and of it the runtime call (the LiteRT invoke with its copies), and the
    chain's learning (the numpy fallback's, behind the model tier too)."""
    out = {}
    if tier.startswith("tflite"):
        scorer = pipe.chain.current
        out["model scorer"] = (time_calls(scorer, "score"), [0])
        call = "run_read_now" if hasattr(scorer, "run_read_now") else "run"     # batch46 / main
        out["model scorer: runtime call"] = (time_calls(scorer, call), [0])
    out["fallback learn"] = (time_calls(pipe.chain, "learn"), [0])
    return out


def rule_parts_of(pipe) -> dict[str, tuple[list[float], list[int]]]:
    """Timers inside the fault tracker's observe (`--rules`): each rule's observe, and its learn where it
    learns (a rule the tracker skips as calm, rule.rule_quiet, or off its cadence is not called: 0 that
    tick), and the normal behaviour's learning; what is left of the tracker's time is its own lines."""
    health, out = pipe.health, {}
    for rule in health.rules:
        out[f"fault tracker: {rule.KIND} observe"] = (time_calls(rule, "observe"), [0])
        if hasattr(rule, "learn"):
            out[f"fault tracker: {rule.KIND} learn"] = (time_calls(rule, "learn"), [0])
    out["fault tracker: normal learn"] = (time_calls(health.normal, "learn"), [0])
    return out


def figures(seconds: list[float]) -> dict:
    """p50/p99/mean µs of a path's ticks, and on how many of them it ran (a part not called on a tick
    reads 0 there: a rule the tracker skipped as calm; all 0, never called, has no mean to invert)."""
    ran = sum(1 for s in seconds if s)
    if not ran:
        return {"p50_us": 0.0, "p99_us": 0.0, "mean_us": 0.0, "ticks_run": 0}
    return {**percentiles(seconds), "ticks_run": ran}


def run(rounds: int, settings: list[Setting], work: Path, log, before: str | None = None,
        rules: bool = False) -> dict:
    """Per (setting, tier): p50/p99 of the whole tick and its parts, over `rounds` ticks each."""
    raw = {tier: from_dict(demo_config(chain, work), base_dir=str(ROOT)) for tier, chain in CHAINS.items()}
    warm = raw["numpy"].warmup.ticks
    first = warm + raw["numpy"].window.steps
    rows = demo_rows(raw["numpy"], first + rounds * len(settings))
    log(f"  {len(rows)} demo ticks (warm-up {warm}), {len(settings)} settings × {rounds} rounds")
    # As bench/table.py (perf58): both packages imported first, a spare set built and kept, then the sides.
    config_then, pipeline_then = package_at(before, work) if before else (None, None)
    ballast = [Pipeline(cfg) for cfg in raw.values()]     # noqa: F841  (kept: its memory is not reused)
    pipes = {tier: Pipeline(cfg) for tier, cfg in raw.items()}
    if before:
        for tier, chain in CHAINS.items():
            cfg = config_then.from_dict(demo_config(chain, work), base_dir=str(ROOT))
            pipes[f"{tier} at {before}"] = pipeline_then.Pipeline(cfg)
    for tier, pipe in pipes.items():
        if tier.startswith("tflite") and pipe.chain.tier != "tflite":
            raise RuntimeError(f"the {tier} tier did not load (chain is on {pipe.chain.tier})")
    for row in rows[:first]:                               # the warm-up day and the first window
        for pipe in pipes.values():
            pipe.step(row)
    tracker = {tier: time_calls(pipe.health, "observe") for tier, pipe in pipes.items()}
    parts = {tier: parts_of(pipe, tier) for tier, pipe in pipes.items()}
    if rules:
        for tier, pipe in pipes.items():
            parts[tier].update(rule_parts_of(pipe))
    sweeps = {st.sweep_kib: np.ones(st.sweep_kib * 1024 // 8) for st in settings if st.sweep_kib}
    samples: dict[str, dict[str, list[float]]] = {}
    shuffle = random.Random(69)
    cursor = {tier: first for tier in pipes}
    pairs = [(setting, tier) for setting in settings for tier in pipes]
    load_start = os.getloadavg()
    for r in range(rounds):
        shuffle.shuffle(pairs)
        for setting, tier in pairs:
            pipe = pipes[tier]
            row = rows[cursor[tier]]
            cursor[tier] += 1
            if setting.cadence_s:
                time.sleep(setting.cadence_s)
            if setting.spin_s:
                spin(setting.spin_s)
            if setting.sweep_kib:
                sweeps[setting.sweep_kib].sum()
            made = len(tracker[tier])
            t0 = time.perf_counter()
            pipe.step(row)
            took = time.perf_counter() - t0
            tracked = sum(tracker[tier][made:])            # 0 on a tick the tracker did not run
            got = samples.setdefault(setting.name, {})
            name = tick_name(tier)
            got.setdefault(name, []).append(took)
            got.setdefault(f"{name}: fault tracker", []).append(tracked)
            got.setdefault(f"{name}: the rest", []).append(took - tracked)
            inside = 0.0                                   # the tracker's timed parts (--rules)
            for label, (took_s, made_before) in parts[tier].items():
                spent = sum(took_s[made_before[0]:])
                got.setdefault(f"{name}: {label}", []).append(spent)
                made_before[0] = len(took_s)
                inside += spent if label.startswith("fault tracker: ") else 0.0
            if rules:
                got.setdefault(f"{name}: fault tracker: its own lines", []).append(tracked - inside)
        if (r + 1) % max(rounds // 10, 1) == 0:
            log(f"  round {r + 1}/{rounds}, load {os.getloadavg()[0]:.2f}")
    out = {setting: {name: figures(s) for name, s in by_name.items()} for setting, by_name in samples.items()}
    return {"latency": out, "load_start": [round(v, 2) for v in load_start],
            "load_end": [round(v, 2) for v in os.getloadavg()],
            "tiers_scored": {tier: pipe.chain.tier for tier, pipe in pipes.items()}}


def render(report: dict) -> str:
    lat = report["latency"]
    base = lat.get(NO_IDLE, {})
    lines = [f"{'setting':<28} {'path':<60} {'p50 µs':>8} {'p99 µs':>8} {'vs no idle':>10}"]
    for setting, by_name in lat.items():
        for name, f in by_name.items():
            ref = base.get(name, {}).get("p50_us")
            ratio = f"{f['p50_us'] / ref:.2f}×" if ref else "-"
            lines.append(f"{setting:<28} {name:<60} {f['p50_us']:>8.1f} {f['p99_us']:>8.1f} {ratio:>10}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=150, help="ticks of each tier under each setting")
    ap.add_argument("--cadence-s", type=float, nargs="+", default=[1.0, 0.1, 0.0],
                    help="seconds of real sleep right before each timed step")
    ap.add_argument("--sweep-kib", type=int, nargs="+", default=[256, 1024, 8192],
                    help="KiB of a buffer read right before each timed step (no sleep unless --grid)")
    ap.add_argument("--spin-s", type=float, nargs="*", default=[],
                    help="seconds of busy wait right before each timed step (no sleep, no sweep)")
    ap.add_argument("--grid", action="store_true", help="every cadence with every sweep")
    ap.add_argument("--before", default=None, metavar="REF",
                    help="also the whole ticks of the agent package at this git ref, or DIR/agent")
    ap.add_argument("--rules", action="store_true",
                    help="also split the fault tracker's time by rule (each rule's observe and learn, the normal "
                         "behaviour's learning, the tracker's own lines); the timers add their own cost")
    ap.add_argument("--out", type=out_file, default="cadence.json", help="where the JSON goes")
    args = ap.parse_args(argv)
    if min(args.cadence_s + args.spin_s + [0]) < 0 or min(args.sweep_kib + [0]) < 0:
        ap.error("--cadence-s, --spin-s and --sweep-kib take values ≥ 0")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    settings = settings_of(args.cadence_s, args.sweep_kib, args.spin_s, args.grid)
    with tempfile.TemporaryDirectory(prefix="stad-bench-cadence-") as tmp:
        result = run(args.rounds, settings, Path(tmp), log, args.before, args.rules)
    report = {"bench": "cadence", "machine": machine_info(("numpy", "ai-edge-litert")), "threads": 1,
              "niceness": os.nice(0), "rounds": args.rounds, "before": args.before,
              "settings": [{**st._asdict(), "name": st.name} for st in settings],
              **result, "seconds": round(time.perf_counter() - started, 1)}
    return write_report(report, args.out, render(report), f"load {report['load_start']} → {report['load_end']}; ")


if __name__ == "__main__":
    raise SystemExit(main())
