"""The performance table of the demo, in one run: what a tick costs on each path, side by side.

Everything runs in this one process, one thread, and the variants are interleaved tick by tick
(each tick, every variant is timed on the same window; whole ticks in a new random order each tick, the rest in a rotating order), so machine load
and frequency drift hit them alike and the ratios are fair. The model is the demo bundle's
(agent/models/demo-corridor: its architecture, its trained weights and its int8 artifacts); the
data are the demo's own ticks (configs/demo.yaml's simulated corridor, through the agent's
aligner and normaliser). Rows of the table:

- torch eager fp32: the bundle's PyTorch model (model.pt), `model(values, missing)` (needs torch),
  as trained and in the folded form the artifacts are exported from (convert/fold.py);
- raw runtime calls: the agent's runtime wrapper's `run` alone (LiteRT / onnxruntime int8:
  quantise in, invoke, dequantise out), no scoring;
- the agent's scorers: `score(window)` of the TfliteScorer / OnnxScorer, what every tick pays,
  and `score` + its explanation weights, what a tick that builds an alert pays;
- whole tick per tier: `Pipeline.step(row)` (normalise, window, chain, detector, learning, the
  fallback's counts), each tier's pipeline warmed up on the demo's warm-up day; and of it, the
  sensor-fault tracker (`FaultTracker.observe`, timed inside the same steps), the rest, and the
  model tier's scorer where its chain calls it (`score(window)` inside the tick);
- numpy fallback: score + learn, and its whole tick (the numpy tier's pipeline);
- river HalfSpaceTrees (score_one + learn_one on the same rows) when river is installed;
- with `--before REF`: the whole tick of the numpy and tflite tiers as the agent package at git
  REF (or in directory REF/agent) computes it with REF's own demo bundle (extracted to a temporary package), interleaved
  with the rest, so a change's speed-up is a ratio within one run; how the two sides are made
  equal (perf58): both packages are imported before any pipeline is built, a first set of
  pipelines, kept and never stepped, fills the holes the imports left, and each side is two sets
  of pipelines built in the order this, REF, REF, this, the first two timed over the first half
  of the ticks and the other two (caught up untimed) over the second; the variants' window is
  filled by a normaliser of its own, and not at all with `--whole-ticks` (reading the numpy
  pipeline's own each tick kept it in cache: that side's "rest" read ~0.5 % fast);
- with `--whole-ticks`: only the whole ticks of the numpy and tflite tiers (and at `--before`), no
  scorer variants and no onnx tier: fewer pipelines between two steps of one, so a change's
  ratio is less blurred by the others' cache misses;
- with `--stages`: where the numpy tier's whole tick goes (`--tier tflite`: the tflite tier's), each
  stage timed inside the steps of its own pipeline (every fault rule's observe and learn, the
  sensors' normal behaviour, the model scorer and inside it its inputs, runtime call, invoke and
  bias statistic, the fallback's features, scorers, observe and learning, the detector; a stage's
  timer adds ~0.3 µs); and each again over the ticks that start with some sensor's drift departure
  past half `drift_z` (the drift rule's full path) and over the others (`| …` rows; `per_tick`
  there is the share of ticks; `--split alert`: over the ticks with an alert open and the others).

Also: the model's FLOPs per tick (torch's FlopCounterMode), as trained and as exported, one
core's float32 matmul peak (the
median of many repeats of a 512³ multiply), each path's share of it, and the peak RSS of
`stad-agent run` on the demo per tier (VmHWM of the agent process itself, read from /proc
inside it). JSON to --out, the table on stdout.

    python bench/table.py [--ticks 2000] [--out table.json] [--no-rss] [--before REF] [--profile [skab]]
                          [--stages [--tier tflite] [--split drift|alert] | --whole-ticks]

`--profile`: every pipeline's model tier with its normal profile on (`scoring.profile.enabled`,
the profile's other keys at their defaults; the demo's own config has it off), so the profile's
per-tick cost is in the figures; `--profile skab`: also `lasting_shift` off, as configs/skab.yaml
has it (its `drifting` sensors are SKAB's, not the demo's).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # one core, before numpy loads
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
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

from machine import OPTIMIZE, RSS_CHILD, agent_env, compile_agent, machine_info, out_file, write_report  # noqa: E402

from agent import bundle as bundles  # noqa: E402
from agent.config import from_dict  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.records import Rejects  # noqa: E402
from agent.sources import open_source  # noqa: E402
from agent.window import Aligner, WindowBuffer  # noqa: E402

DEMO_CONFIG = ROOT / "configs" / "demo.yaml"
DEMO_BUNDLE = ROOT / "agent" / "models" / "demo-corridor"
PEAK_SIZE = 512
PEAK_REPEATS = 41


PROFILES = {"default": {"enabled": True}, "skab": {"enabled": True, "lasting_shift": False}}


def demo_config(chain: list[str], work: Path, profile: str | None = None) -> dict:
    """configs/demo.yaml, unpaced, with `chain`, the demo bundle by path, a JSONL sink only;
    `profile`: with the model tier's normal profile on, as PROFILES[profile] (`scoring.profile`)."""
    cfg = yaml.safe_load(DEMO_CONFIG.read_text())
    if profile:
        cfg["scoring"]["profile"] = dict(PROFILES[profile])
    cfg["sources"][0]["speed"] = 0
    cfg["scoring"]["chain"] = chain
    cfg["scoring"]["bundle"] = str(DEMO_BUNDLE) if chain != ["numpy"] else None
    cfg["sinks"] = [{"type": "jsonl", "path": str(work / f"alerts-{chain[0]}.jsonl")}]
    cfg["state_dir"] = str(work / f"state-{chain[0]}")
    return cfg


def demo_rows(cfg, count: int) -> list:
    """The demo's first `count` ticks, as the agent's aligner closes them."""
    rejects = Rejects()
    source = open_source(cfg.sources[0], cfg.sensor_names(), rejects, base_dir=cfg.base_dir, tick_s=cfg.tick_s)
    aligner = Aligner.for_agent(cfg, rejects)
    rows: list = []
    try:
        for rec in source.records():
            rows.extend(aligner.push(rec))
            if len(rows) >= count:
                break
    finally:
        source.close()
    return rows[:count]


def matmul_peak(size: int = PEAK_SIZE, repeats: int = PEAK_REPEATS) -> dict:
    """One core's float32 matmul rate: the median (and best) of many repeats of a size³ multiply."""
    rng = np.random.default_rng(4)
    a, b = rng.random((size, size), np.float32), rng.random((size, size), np.float32)
    out = np.empty((size, size), np.float32)
    for _ in range(3):
        np.matmul(a, b, out=out)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    flops = 2.0 * size ** 3
    return {"median_gflops": round(flops / float(np.median(times)) / 1e9, 1),
            "best_gflops": round(flops / min(times) / 1e9, 1), "size": size, "repeats": repeats}


def torch_parts():
    """The demo bundle's fp32 PyTorch model as trained (model.pt) and in the folded form its
    artifacts are exported from (convert/fold.py), each with its FLOPs per tick; None without torch."""
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return None
    from convert.bundle_writer import CALIBRATION_FILE, load_model, load_windows
    from convert.fold import fold
    torch.set_num_threads(1)
    from agent.bundle import load
    manifest = load(DEMO_BUNDLE).manifest
    model = load_model(DEMO_BUNDLE, manifest).eval()
    n, steps = len(manifest.sensors), manifest.steps
    folded = fold(model, *load_windows(DEMO_BUNDLE / CALIBRATION_FILE, steps))
    flops = []
    for module in (model, folded):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            module(torch.zeros(1, steps, n), torch.zeros(1, steps, n))
        flops.append(int(counter.get_total_flops()))
    return model, folded, flops[0], flops[1]


def river_hst(n: int):
    """(score_one + learn_one) on a dict of n features, or None without river."""
    try:
        from river import anomaly
    except ImportError:
        return None
    model = anomaly.HalfSpaceTrees(seed=42)
    names = [f"x{i}" for i in range(n)]

    def step(x: np.ndarray) -> None:
        features = dict(zip(names, x.tolist()))
        model.score_one(features)
        model.learn_one(features)
    return step


def percentiles(seconds: list[float]) -> dict:
    """p50/p99/mean µs and calls a second; `per_s` None when every sample is 0 (a part never run: nothing to invert)."""
    us = np.asarray(seconds) * 1e6
    mean = float(us.mean())
    return {"p50_us": round(float(np.percentile(us, 50)), 1), "p99_us": round(float(np.percentile(us, 99)), 1),
            "mean_us": round(mean, 1), "per_s": round(1e6 / mean, 1) if mean > 0 else None}


def package_at(ref: str, work: Path):
    """The agent package as git `ref` has it (or as directory `ref` holds it), importable as
    `agent_at_ref` (its imports are relative)."""
    import importlib
    dest = work / "before"
    dest.mkdir()
    if (Path(ref) / "agent" / "pipeline.py").is_file():         # a directory holding an agent package
        shutil.copytree(Path(ref) / "agent", dest / "agent")
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "agent"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    (dest / "agent").rename(dest / "agent_at_ref")
    sys.path.insert(0, str(dest))
    return importlib.import_module("agent_at_ref.config"), importlib.import_module("agent_at_ref.pipeline")


def tick_name(tier: str) -> str:
    """'numpy' -> 'whole tick, numpy tier'; 'numpy at REF' -> 'whole tick, numpy tier at REF'."""
    base, _, ref = tier.partition(" at ")
    return f"whole tick, {base} tier" + (f" at {ref}" if ref else "")


def latency(ticks: int, work: Path, log, before: str | None = None, whole_only: bool = False,
            profile: str | None = None) -> tuple[dict, dict]:
    """(per-path latency figures, facts) over `ticks` demo ticks after the warm-up day; `before`: a git
    ref whose agent package's whole ticks (numpy and tflite tiers) are timed beside the current ones;
    `whole_only`: the whole ticks of the numpy and tflite tiers alone (no scorer variants, no onnx);
    `profile`: every pipeline with the model tier's normal profile on (demo_config)."""
    chains = (["tflite", "numpy"], ["numpy"]) if whole_only else (["tflite", "numpy"], ["onnx", "numpy"], ["numpy"])
    raw = {chain[0]: from_dict(demo_config(chain, work, profile), base_dir=str(ROOT)) for chain in chains}
    warm = raw["numpy"].warmup.ticks
    rows = demo_rows(raw["numpy"], warm + raw["numpy"].window.steps + ticks)
    log(f"  {len(rows)} demo ticks (warm-up {warm})")
    # How the two sides are made equal (perf58): where a pipeline's state lands in memory moves its
    # tick by 1-2 % (the one built first after the imports, slower; an A/A run with REF imported
    # between the two sides read "the rest" 0.968-1.007, median 0.977). So both packages are
    # imported first, a set of pipelines built then is kept and never stepped (it fills the holes
    # the imports left), and with `before` each side is two sets built in the order this, REF, REF,
    # this: the first two timed over the first half of the ticks, the other two over the second.
    config_then, pipeline_then = package_at(before, work) if before else (None, None)
    ballast = [Pipeline(cfg) for cfg in raw.values()]     # noqa: F841  (kept: its memory is not reused)

    def at_ref(chain):          # REF's package with REF's own demo bundle (an exporter's change is in the bundle)
        cfg = demo_config(chain, work, profile)
        if cfg["scoring"]["bundle"]:
            cfg["scoring"]["bundle"] = str(Path(pipeline_then.__file__).parent / "models" / DEMO_BUNDLE.name)
        return pipeline_then.Pipeline(config_then.from_dict(cfg, base_dir=str(ROOT)))
    refs = {f"{chain[0]} at {before}": chain for chain in (["tflite", "numpy"], ["numpy"])} if before else {}
    pipes = {tier: Pipeline(cfg) for tier, cfg in raw.items()}
    pipes.update({tier: at_ref(chain) for tier, chain in refs.items()})
    later = {tier: at_ref(chain) for tier, chain in refs.items()}
    later.update({tier: Pipeline(cfg) for tier, cfg in raw.items()} if before else {})
    for tier, pipe in [*pipes.items(), *later.items()]:
        if pipe.chain.tier != tier.split()[0] and tier.split()[0] != "numpy":
            raise RuntimeError(f"the {tier} tier did not load (chain is on {pipe.chain.tier})")
    # Standalone scorers of the same bundle, fed the tflite pipeline's window (already normalised).
    bundle = bundles.load(str(DEMO_BUNDLE))
    from agent.scorers.onnx import OnnxScorer
    from agent.scorers.tflite import TfliteScorer
    tfl_s, onx_s = (None, None) if whole_only else (TfliteScorer(bundle), OnnxScorer(bundle))
    window = pipes["tflite"].window
    torch = None if whole_only else torch_parts()
    hst = None if whole_only else river_hst(len(raw["numpy"].sensor_names()))
    # The fallback's score + learn on the same window: a deep copy of the numpy pipeline's fallback,
    # made only when timed (with it, an A/A run of one package against itself read that pipeline's
    # tick 3 % and its rest 8 % slower than the same code at --before; without it, the same).
    numpy_alone = None if whole_only else copy.deepcopy(pipes["numpy"].numpy)
    buf = WindowBuffer(raw["numpy"].window.steps, len(raw["numpy"].sensor_names()))
    facts = {"profile": profile, "sensors": len(raw["numpy"].sensor_names()), "steps": raw["numpy"].window.steps,
             "model": bundle.manifest.model or {}, "ticks": ticks, "warmup_ticks": warm}

    variants: dict[str, object] = {}
    shuffle = random.Random(16)
    if torch is not None:
        import torch as th
        model, folded = torch[0], torch[1]

        def eager(module):
            def call():
                with th.no_grad():
                    module(th.from_numpy(tfl_s._values), th.from_numpy(tfl_s._missing))
            return call
        variants["torch eager fp32"] = eager(model)
        variants["torch eager fp32, folded as exported"] = eager(folded)
        facts["model_flops_per_tick"] = torch[2]
        facts["exported_flops_per_tick"] = torch[3]
    if not whole_only:
        variants["LiteRT int8, runtime call"] = lambda: tfl_s.run(tfl_s._values, tfl_s._missing)
        variants["ORT int8, runtime call"] = lambda: onx_s.run(onx_s._values, onx_s._missing)
        variants["agent tflite scorer: score"] = lambda: tfl_s.score(window)
        variants["agent tflite scorer: score + explanation"] = lambda: tfl_s.score(window).sensor_weights
        variants["agent onnx scorer: score"] = lambda: onx_s.score(window)
        variants["numpy fallback: score + learn"] = lambda: (numpy_alone.score(buf), numpy_alone.learn(buf))
    if hst is not None:
        variants["river HalfSpaceTrees: score_one + learn_one"] = lambda: hst(buf_raw[0])
    tick_names = {tier: tick_name(tier) for tier in pipes}
    parts = [f"{name}{part}" for name in tick_names.values() for part in ("", ": fault tracker", ": the rest")]
    model_tiers = [tier for tier, pipe in pipes.items() if pipe.chain.tier != "numpy"]
    parts += [f"{tick_names[tier]}: model scorer" for tier in model_tiers]
    samples: dict[str, list[float]] = {name: [] for name in [*variants, *parts]}
    tracker = {tier: time_calls(pipe.health, "observe") for tier, pipe in pipes.items()}
    in_tick = {tier: time_calls(pipes[tier].chain.current, "score") for tier in model_tiers}
    buf_raw = [None]
    names = list(variants)
    first, half = len(rows) - ticks, len(rows) - ticks + ticks // 2
    for i, row in enumerate(rows):
        if i < first:                                   # warm-up and the first window: not timed
            for pipe in [*pipes.values(), *later.values()]:
                pipe.step(row)
            if i >= len(rows) - ticks - buf.steps:
                buf.push(pipes["numpy"].normaliser.apply(row.values), row.missing, row.ts)
            continue
        if i == first:
            normaliser = copy.deepcopy(pipes["numpy"].normaliser)
        # A new random order every tick: in a rotation each pipeline always follows the same other
        # one, and what that one leaves in the caches is a bias (an A/A run of one package against
        # itself gave its numpy tick 241 against 230 µs p50, tick8); shuffled, every pipeline
        # follows each other one as often.
        if i == half and later:                         # the second sets: caught up, then timed
            for kept in rows[first:half]:
                for pipe in later.values():
                    pipe.step(kept)
            pipes = {tier: later[tier] for tier in pipes}
            tracker = {tier: time_calls(pipe.health, "observe") for tier, pipe in pipes.items()}
            in_tick = {tier: time_calls(pipes[tier].chain.current, "score") for tier in model_tiers}
            window = pipes["tflite"].window
        order = list(pipes.items())
        shuffle.shuffle(order)
        for tier, pipe in order:
            before = len(tracker[tier])
            t0 = time.perf_counter()
            pipe.step(row)
            took = time.perf_counter() - t0
            tracked = sum(tracker[tier][before:])       # 0 on a tick the tracker did not run
            samples[tick_names[tier]].append(took)
            samples[f"{tick_names[tier]}: fault tracker"].append(tracked)
            samples[f"{tick_names[tier]}: the rest"].append(took - tracked)
            if tier in in_tick:
                samples[f"{tick_names[tier]}: model scorer"].append(in_tick[tier][-1])
        # The variants' window, by a normaliser of its own (perf58: the numpy pipeline's own, read here
        # every tick, stayed in cache and that side's "rest" read ~0.5 % fast), and only for variants.
        if names:
            buf.push(normaliser.apply(row.values), row.missing, row.ts)
            buf_raw[0] = np.where(row.missing, 0.0, np.nan_to_num(row.values))
        if tfl_s is not None:
            tfl_s.inputs(window)
            onx_s.inputs(window)
        k = i % max(len(names), 1)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            variants[name]()
            samples[name].append(time.perf_counter() - t0)
    facts["tiers_scored"] = {tier: pipe.chain.tier for tier, pipe in pipes.items()}
    return {name: percentiles(s) for name, s in samples.items()}, facts



def time_calls(obj, attr: str) -> list[float]:
    """Wrap `obj.attr` (an instance attribute from then on: what the pipeline calls) so that every
    call's seconds are appended to the returned list."""
    took: list[float] = []
    call = getattr(obj, attr)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            took.append(time.perf_counter() - t0)
    setattr(obj, attr, timed)
    return took


def stages(ticks: int, work: Path, tier: str = "numpy", profile: str | None = None, split: str = "drift") -> dict:
    """p50 µs per stage of the `tier` tier's whole tick (numpy, or tflite in front of it; its own
    pipeline, the demo's ticks after the warm-up day), each stage timed where the pipeline calls
    it; nested stages are included in their callers' time. `split`: each stage again over two kinds of
    tick — "drift": whether the tick starts with some sensor's drift departure past half drift_z; "alert":
    whether an alert is open at the tick's start or end (the alert's own ticks against the quiet ones)."""
    cfg = from_dict(demo_config(["numpy"] if tier == "numpy" else [tier, "numpy"], work, profile), base_dir=str(ROOT))
    rows = demo_rows(cfg, cfg.warmup.ticks + cfg.window.steps + ticks)
    pipe = Pipeline(cfg)
    for row in rows[:-ticks]:
        pipe.step(row)
    took: dict[str, list[float]] = {}

    def timed(obj, name: str, label: str) -> None:
        took[label] = time_calls(obj, name)
    health, fallback = pipe.health, pipe.numpy
    timed(health, "observe", "fault tracker: observe, all of it")
    for rule in health.rules:
        timed(rule, "observe", f"fault tracker: {rule.KIND} observe")
        if hasattr(rule, "learn"):
            timed(rule, "learn", f"fault tracker: {rule.KIND} learn")
    timed(health.normal, "learn", "fault tracker: normal behaviour learned")
    timed(health, "mask", "fault tracker: mask")
    timed(pipe.window, "push_raw", "normaliser + window push")
    timed(pipe.normaliser, "into", "normaliser (into the window's ring)")
    timed(pipe.chain, "score_blended", "scorer chain: score, all of it")
    if tier != "numpy":
        if pipe.chain.tier != tier:
            raise RuntimeError(f"the {tier} tier did not load (chain is on {pipe.chain.tier})")
        scorer = pipe.chain.current
        timed(scorer, "score", f"{tier} scorer: score")
        # inside score: the window into the model's inputs, the runtime call with the output
        # copies (of it the runtime's own invoke), the bias statistic with its carried run
        timed(scorer, "inputs", f"{tier} scorer: inputs (window → input tensors)")
        timed(scorer, "run", f"{tier} scorer: run (invoke + output copies)")
        if getattr(scorer, "_views", None) is not None:
            timed(scorer, "_invoke", f"{tier} scorer: the interpreter's Invoke")
        timed(scorer, "bias", f"{tier} scorer: bias (recorded errors, carried run, EW sum)")
        timed(scorer._error_run, "step", f"{tier} scorer: bias's carried run step")
        if hasattr(scorer, "record"):
            timed(scorer, "record", f"{tier} scorer: errors recorded without the bias (lasting_shift off)")
        if scorer.profile.fitted:
            timed(scorer, "level", f"{tier} scorer: profile level (forecasts, carried run, EW mean)")
            timed(scorer.profile, "scores", f"{tier} scorer: profile distance")
    timed(fallback, "observe", "fallback: observe (Markov counts, every tick)")
    if fallback.seasonal is not None:
        timed(fallback.seasonal, "newest", "fallback: seasonal regressors")
        timed(fallback.seasonal, "window", "fallback: seasonal regressors of the whole window (AR refits)")
        timed(fallback.seasonal, "learn", "fallback: seasonal profile learned")
    for part in ("ar", "markov", "fusion"):
        model = getattr(fallback, part)
        timed(model, "surprise" if part == "markov" else "score", f"fallback: {part} score")
        if hasattr(model, "learn"):          # the AR model and fusion learn in the joint (numpy_fallback.py)
            timed(model, "learn", f"fallback: {part} learn")
    timed(fallback.fusion, "features", "fallback: fusion features")
    timed(fallback.markov, "transitions", "fallback: markov states")
    timed(pipe.detector, "step", "detector: threshold, alerts, learning (calls the learn)")
    timed(pipe.chain, "learn", "fallback: learn, all of it")
    if tier == "numpy":
        timed(fallback, "score", "fallback: score (the numpy tier's, in the chain)")
    timed(health, "quiet", "fault tracker: quiet (scores of sensors just back)")
    thr = pipe.detector.thresholds[pipe.chain.tier]
    for name in ("at", "seen", "update"):
        timed(thr, name, f"detector: threshold {name}")
    timed(pipe.detector.tracker, "observe", "detector: alert tracker observe")
    whole = []
    # Each tick also split by whether it starts with some sensor's drift departure past half
    # drift_z (the rule's full path; its calm-tick shortcuts serve the others): per stage, the
    # calls made during that tick.
    drift = next((r for r in health.rules if r.KIND == "drift"), None)
    past: dict[str, dict[bool, list[float]]] = {}
    for row in rows[-ticks:]:
        if split == "alert":
            was_open = pipe.alerts.open is not None
        else:
            leaning = drift is not None and bool(drift.over[:drift.n].any())
        made = {label: len(s) for label, s in took.items()}
        t0 = time.perf_counter()
        pipe.step(row)
        whole.append(time.perf_counter() - t0)
        if split == "alert":
            leaning = was_open or pipe.alerts.open is not None
        past.setdefault(f"whole tick, {tier} tier", {True: [], False: []})[leaning].append(whole[-1])
        for label, s in took.items():
            if len(s) > made[label]:
                past.setdefault(label, {True: [], False: []})[leaning].append(sum(s[made[label]:]))
    out = {f"whole tick, {tier} tier": {**percentiles(whole), "per_tick": 1.0}}
    for label, s in took.items():
        if s:
            out[label] = {**percentiles(s), "per_tick": round(len(s) / ticks, 2)}
    for label, by_kind in past.items():
        for leaning, s in by_kind.items():
            if s:
                kind = (("an alert open", "no alert open") if split == "alert"
                        else ("a sensor past half drift_z", "none past half drift_z"))
                out[f"{label} | {kind[0] if leaning else kind[1]}"] = \
                    {**percentiles(s), "per_tick": round(len(s) / ticks, 2)}
    return out


def agent_rss(work: Path, ticks: int) -> dict:
    """Peak RSS of `stad-agent run` on the demo (unpaced, JSONL sink) per tier, read inside the agent
    process: getrusage(RUSAGE_CHILDREN) would report this bench's own peak (Linux keeps ru_maxrss
    across exec)."""
    out = {}
    compile_agent()
    env = agent_env()       # as the systemd unit runs the agent (python -OO), as bench/rss.py reads it
    for chain in (["tflite", "numpy"], ["onnx", "numpy"], ["numpy"]):
        path = work / f"rss-{chain[0]}.yaml"
        path.write_text(yaml.safe_dump(demo_config(chain, work)))
        res = subprocess.run([sys.executable, "-c", RSS_CHILD, "run", "-c", str(path), "--max-ticks", str(ticks),
                              "--log-level", "warning"], cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
        if res.returncode != 0:
            raise RuntimeError(f"agent run failed ({res.returncode}): {res.stderr[-1500:]}")
        lines = res.stderr.splitlines()
        hwm_kb = int(next(line.split()[1] for line in lines if line.startswith("VmHWM_kB ")))
        tier = next((line.split("tier ", 1)[1].split(";")[0] for line in lines if line.startswith("summary:")), None)
        out[chain[0]] = {"peak_rss_mib": round(hwm_kb / 1024.0, 1), "tier_reported": tier}
    return out


def render(report: dict) -> str:
    lat, facts = report["latency"], report["facts"]
    flops = facts.get("model_flops_per_tick")
    exported = facts.get("exported_flops_per_tick")
    peak = report["matmul_peak"]["median_gflops"] * 1e9
    ref = lat.get("torch eager fp32", {}).get("p50_us")
    lines = [f"demo bundle N={facts['sensors']} T={facts['steps']} d_model={facts['model'].get('d_model')}, "
             f"{facts['ticks']} ticks, one thread, interleaved"
             + (f"; model {flops / 1e6:.2f} MFLOP/tick as trained, {exported / 1e6:.2f} as exported (folded), "
                f"core peak {peak / 1e9:.0f} GFLOP/s (median) → {exported / peak * 1e6:.1f} µs at peak" if flops else ""),
             f"{'path':<46} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8} {'per s':>8} {'vs torch':>9} {'% peak':>7}"]
    for name, f in lat.items():
        ratio = f"{ref / f['p50_us']:.1f}×" if ref and f["p50_us"] > 0 else "-"
        work = flops if name == "torch eager fp32" else exported     # what the path computes
        model_path = not name.startswith(("numpy", "river", "whole tick, numpy")) \
            and not name.endswith(("fault tracker", "the rest"))
        share = f"{100 * work / (f['p50_us'] / 1e6) / peak:.1f}%" if flops and model_path and f["p50_us"] > 0 else "-"
        per_s = "-" if f["per_s"] is None else f"{f['per_s']:.0f}"
        lines.append(f"{name:<46} {f['p50_us']:>8.1f} {f['p99_us']:>8.1f} {f['mean_us']:>8.1f} {per_s:>8} "
                     f"{ratio:>9} {share:>7}")
    if report.get("agent_peak_rss"):
        lines.append(f"peak RSS of stad-agent run on the demo (MiB, PYTHONOPTIMIZE={OPTIMIZE['level'] or '0'}): " + ", ".join(
            f"{k} {v['peak_rss_mib']}" for k, v in report["agent_peak_rss"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=2000, help="timed ticks (after the demo's warm-up day)")
    ap.add_argument("--out", type=out_file, default="table.json", help="where the JSON goes")
    ap.add_argument("--no-rss", action="store_true", help="skip the agent runs for peak RSS")
    ap.add_argument("--rss-ticks", type=int, default=5000, help="ticks of each agent run for peak RSS")
    ap.add_argument("--stages", action="store_true",
                    help="only one tier's tick split into its stages (p50 µs each; --tier)")
    ap.add_argument("--tier", choices=("numpy", "tflite"), default="numpy",
                    help="with --stages: the numpy tier's tick, or the tflite tier's (the fallback learning behind it)")
    ap.add_argument("--split", choices=("drift", "alert"), default="drift",
                    help="with --stages: each stage again over the ticks with some sensor's drift departure past half "
                         "drift_z and the others (drift), or over the ticks with an alert open and the others (alert)")
    ap.add_argument("--whole-ticks", action="store_true",
                    help="only the whole ticks of the numpy and tflite tiers (and at --before), no scorer variants")
    ap.add_argument("--profile", nargs="?", const="default", choices=sorted(PROFILES), default=None,
                    help="the model tiers with their normal profile on (default: scoring.profile.enabled, its other "
                         "keys at their defaults; skab: also lasting_shift off, as configs/skab.yaml)")
    ap.add_argument("--before", default=None, metavar="REF",
                    help="also time the whole ticks of the agent package at this git ref (a commit, a branch), "
                         "or of the one in this directory (DIR/agent)")
    args = ap.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    if args.stages:
        with tempfile.TemporaryDirectory(prefix="stad-bench-table-") as tmp:
            split = stages(args.ticks, Path(tmp), args.tier, args.profile, args.split)
        Path(args.out).write_text(json.dumps({"bench": "table --stages", "tier": args.tier, "profile": args.profile,
                                              "machine": machine_info(("numpy",)),
                                              "ticks": args.ticks, "split": args.split, "stages": split}, indent=2) + "\n")
        for label, f in split.items():
            print(f"{label:<58} {f['p50_us']:>8.1f} µs p50 {f['p99_us']:>8.1f} p99 {f['mean_us']:>8.1f} mean"
                  f"  ({f['per_tick']} a tick)")
        return 0
    with tempfile.TemporaryDirectory(prefix="stad-bench-table-") as tmp:
        work = Path(tmp)
        peak = matmul_peak()
        log(f"matmul peak: {peak}")
        lat, facts = latency(args.ticks, work, log, args.before, args.whole_ticks, args.profile)
        rss = None if args.no_rss else agent_rss(work, args.rss_ticks)
    report = {"bench": "table", "machine": machine_info(("numpy", "onnxruntime", "ai-edge-litert", "torch", "river")),
              "threads": 1, "batch": 1, "matmul_peak": peak, "facts": facts, "latency": lat,
              "agent_peak_rss": rss, "agent_python_optimize": OPTIMIZE["level"] or "0", "seconds": round(time.perf_counter() - started, 1)}
    return write_report(report, args.out, render(report))


if __name__ == "__main__":
    raise SystemExit(main())
