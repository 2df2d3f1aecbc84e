"""Where the agent's memory goes: peak RSS of `stad-agent run` on the demo per tier, and a
breakdown of it by stage.

Every figure is read inside the agent's own process from /proc (VmRSS at a stage, VmHWM for the
peak): getrusage(RUSAGE_CHILDREN) would report this bench's own peak. Each run is a fresh
process: the demo config (configs/demo.yaml, unpaced, JSONL sink only, as bench/table.py runs
it) with the chain of its tier, `--ticks` ticks (the warm-up day is 2880); and the demo as shipped, with
configs/demo.yaml's own chain (every model tier it names in front of numpy). Also the numpy tier on
a CSV replay of the same simulated data: what a gateway without the simulator (and so without
numpy.random) pays.

Rows of the breakdown (MiB resident after each stage, in one process):
python · + numpy · + pyyaml's loader · + the agent's modules · + the config loaded (with what the named
plugins import: numpy.random's Generator for the simulator) · + Agent() (pipeline; a model tier's runtime and
model) · the warm-up's ticks held, just before the fallback's fit · the peak by the warm-up's end (its fit and
calibration) and the resident size just after it · peak · end of the run (which of the two sets the peak:
perf72); and the end of the run's resident size split (one read of /proc/self/smaps_rollup): anonymous (the
heap, arenas, Python's objects: the process's own) and file-backed (the libraries' code and data pages, shared
and clean), with its proportional (Pss) and unique (USS: private pages) sizes beside it.

Why the split (perf61): the file-backed part depends on the machine's page cache, not on the agent. A kernel
whose ext4 page cache holds large folios (Linux 6.18 here) maps a whole folio on a fault; files written by
`pip install` (buffered 1 MiB writes) sit in folios of up to 1 MiB, so the same process maps ~5-7 MiB more of
numpy's, OpenBLAS's and LiteRT's code than after a reboot, when ld.so's own faults read them in 4 KiB pages
(64 KiB fault-around). The anonymous part is the same in both.

The agent's modules are loaded from compiled bytecode, as on an installed gateway (pip writes the
.pyc files at install; the systemd unit never writes any): the bench compiles agent/ first and
runs its children without PYTHONDONTWRITEBYTECODE. Compiling every module at start instead (a
source checkout with PYTHONDONTWRITEBYTECODE=1) costs the agent ~0.3-0.5 MiB more at its peak.

The floor: what the runtimes themselves cost, in bare scripts that use no agent code but
agent/lean_import.py, imported as the agent imports them (fresh process each): Python alone,
+ numpy, + pyyaml's loader; LiteRT's interpreter module, its interpreter on the demo's
int8 model with the agent's options (one thread, the default XNNPACK delegate) and tensors
allocated, its first invoke; onnxruntime's import, its session with the agent's options (one
intra- and one inter-op thread, sequential, every optimisation), its first run; numpy.random's
Generator and PCG64 (the simulator's).

The agent runs as the systemd unit runs it: with its PYTHONOPTIMIZE (2 since perf72, `python -OO`: no docstrings
in memory, 2.5 MiB less in every tier; systemd/install.sh writes the venv's .opt-2.pyc files). pip wrote only the
plain .pyc files of numpy and the runtimes: the first run writes their .opt-2.pyc where it can (throw it away).
`--optimize 0` reads the figures as before perf72.

    python bench/rss.py [--ticks 5000] [--optimize 0|1|2] [--out rss.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import OPTIMIZE, RSS_CHILD, agent_env, compile_agent, machine_info, out_file, unit_optimize  # noqa: E402,F401
from table import demo_config  # noqa: E402

#: The agent run step by step, VmRSS after each stage (the finish of the warm-up is wrapped to
#: read the resident size just before the fallback's fit). Prints the stages as JSON.
BREAKDOWN_CHILD = """
import json, sys
def status(*keys):
    # one read of the file for all keys: VmHWM and VmRSS read apart saw the RSS a page past the HWM read before it
    lines = open('/proc/self/status').read().splitlines()
    got = [int(next(l.split()[1] for l in lines if l.startswith(key))) / 1024 for key in keys]
    return got[0] if len(got) == 1 else tuple(got)
stages = [("python", status("VmRSS:"))]
import numpy
stages.append(("+ numpy", status("VmRSS:")))
from agent.lean_import import submodule
submodule("yaml", "loader")
stages.append(("+ pyyaml's loader (as agent/config.py imports it)", status("VmRSS:")))
import agent.cli, agent.config, agent.pipeline, agent.service
stages.append(("+ the agent's modules", status("VmRSS:")))
cfg = agent.cli.load_config(sys.argv[1])
stages.append(("+ the config loaded (and what its plugins import)", status("VmRSS:")))
agent.cli.setup_logging("warning")
run = agent.service.Agent(cfg, max_ticks=int(sys.argv[2]))
stages.append(("+ Agent() (pipeline; a model tier's runtime and model)", status("VmRSS:")))
before_fit, after_fit = [], []
finish = agent.pipeline.Pipeline._finish_warmup
def wrapped(self):
    before_fit.append(status("VmRSS:"))
    finish(self)
    after_fit.append(status("VmHWM:", "VmRSS:"))
agent.pipeline.Pipeline._finish_warmup = wrapped
run.run()
stages.append(("the warm-up's ticks held, just before the fit", before_fit[0] if before_fit else None))
stages.append(("peak (VmHWM) by the warm-up's end", after_fit[0][0] if after_fit else None))
stages.append(("just after the warm-up's end", after_fit[0][1] if after_fit else None))
stages.append(("peak (VmHWM)", status("VmHWM:")))
stages.append(("end of the run", status("VmRSS:")))
rollup = {}
for line in open('/proc/self/smaps_rollup'):
    part = line.split()
    if len(part) == 3 and part[2] == 'kB':
        rollup[part[0].rstrip(':')] = int(part[1]) / 1024
stages.append(("end of the run: anonymous", rollup["Anonymous"]))
stages.append(("end of the run: file-backed", rollup["Rss"] - rollup["Anonymous"]))
stages.append(("end of the run: Pss", rollup["Pss"]))
stages.append(("end of the run: USS (private pages)", rollup["Private_Clean"] + rollup["Private_Dirty"]))
print(json.dumps(stages))
"""

#: Each tier alone in its chain, and the demo as shipped: configs/demo.yaml's own chain (tflite, onnx, numpy),
#: which is what `stad-agent run -c configs/demo.yaml` loads at start.
TIERS = {"numpy": ["numpy"], "tflite": ["tflite", "numpy"], "onnx": ["onnx", "numpy"],
         "demo as shipped": yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())["scoring"]["chain"]}

#: "demo as shipped, after a hot swap": `stad-agent run` on the demo as shipped, a reload of its bundle asked for
#: (SIGHUP's path: HotSwap.request) at the first scored tick, shadowed and swapped in, then the rest of the ticks.
#: A swap loads the candidate's tiers below the top one on standby, as the start does (swap3): its memory after
#: the swap is its memory before. Prints VmHWM as RSS_CHILD does, then whether it swapped and onnxruntime loaded.
SWAP_ROW = "demo as shipped, after a hot swap"
SWAP_CHILD = """
import sys
import agent.hotswap
from agent.cli import main
on_tick, swaps = agent.hotswap.HotSwap.on_tick, []
def asking(self, result):
    if not result.warming and not swaps:
        swaps.append(self)
        self.request("bench")
    on_tick(self, result)
agent.hotswap.HotSwap.on_tick = asking
rc = main(sys.argv[1:])
hwm = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:'))
print(f'VmHWM_kB {hwm}', file=sys.stderr)
print(f'swapped {swaps[0].accepted if swaps else 0} onnxruntime {"onnxruntime" in sys.modules}', file=sys.stderr)
raise SystemExit(rc)
"""

#: The runtimes alone (argv: tflite | onnx | rng, the model file): VmRSS after each step, as JSON.
FLOOR_CHILD = """
import json, sys
def status(key):
    return int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith(key))) / 1024
kind, model = sys.argv[1], sys.argv[2]
stages = [("python", status("VmRSS:"))]
import numpy as np
stages.append(("+ numpy", status("VmRSS:")))
from agent.lean_import import submodule     # its own imports are loaded by numpy already
if kind == "yaml":
    submodule("yaml", "loader")
    stages.append(("+ pyyaml's loader", status("VmRSS:")))
elif kind == "rng":
    sys.modules["_hashlib"] = None          # as agent/digest.py imports it: without OpenSSL
    submodule("numpy.random", "_generator")
    stages.append(("+ numpy.random's Generator and PCG64", status("VmRSS:")))
elif kind == "tflite":
    Interpreter = submodule("ai_edge_litert", "interpreter").Interpreter
    stages.append(("+ import ai_edge_litert's interpreter", status("VmRSS:")))
    it = Interpreter(model_content=open(model, "rb").read(), num_threads=1)
    it.allocate_tensors()
    stages.append(("+ interpreter (XNNPACK), tensors allocated", status("VmRSS:")))
    run = it.get_signature_runner()
    run(**{k: np.zeros(v["shape"], np.float32) for k, v in run.get_input_details().items()})
    stages.append(("+ first invoke", status("VmRSS:")))
else:
    import onnxruntime as ort
    stages.append(("+ import onnxruntime", status("VmRSS:")))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(open(model, "rb").read(), opts, providers=["CPUExecutionProvider"])
    stages.append(("+ session", status("VmRSS:")))
    s.run(None, {i.name: np.zeros([1 if not isinstance(d, int) else d for d in i.shape], np.float32)
                 for i in s.get_inputs()})
    stages.append(("+ first run", status("VmRSS:")))
stages.append(("peak (VmHWM)", status("VmHWM:")))
print(json.dumps(stages))
"""
FLOOR_MODELS = {"yaml": "", "rng": "", "tflite": "model_int8.tflite", "onnx": "model_int8.onnx"}


def replay_csv(cfg: dict, ticks: int, path: Path) -> None:
    """The demo simulator's records for `ticks` ticks (and a few more), as a CSV replay reads them."""
    from agent.sources.simulate import SimulateConfig, generate
    from agent.typed import build

    sim = dict(cfg["sources"][0], duration_s=(ticks + 8) * cfg["tick_s"])
    sim.pop("type")
    records = generate(build(SimulateConfig, sim, "sources[0]"), cfg["sensors"], cfg["tick_s"])
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["timestamp", *cfg["sensors"]])
        for rec in records:
            out.writerow([f"{rec.ts:.3f}", *(rec.values.get(s, "") for s in cfg["sensors"])])


def configs(work: Path, ticks: int) -> dict[str, Path]:
    out = {}
    for name, chain in TIERS.items():
        out[name] = work / f"rss-{name.replace(' ', '-')}.yaml"
        out[name].write_text(yaml.safe_dump(demo_config(chain, work)))
    cfg = demo_config(["numpy"], work)
    cfg["state_dir"] = str(work / "state-replay")
    cfg["sinks"] = [{"type": "jsonl", "path": str(work / "alerts-replay.jsonl")}]
    replay_csv(cfg, ticks, work / "demo.csv")
    cfg["sources"] = [{"type": "replay", "path": str(work / "demo.csv"), "speed": 0}]
    out["numpy, csv replay"] = work / "rss-replay.yaml"
    out["numpy, csv replay"].write_text(yaml.safe_dump(cfg))
    out[SWAP_ROW] = out["demo as shipped"]
    return out


def floor(bundle: Path) -> dict:
    """kind → the bare runtime's stages (FLOOR_CHILD), MiB."""
    out = {}
    for kind, model in FLOOR_MODELS.items():
        res = subprocess.run([sys.executable, "-c", FLOOR_CHILD, kind, str(bundle / model) if model else ""],
                             capture_output=True, text=True, timeout=300, env=agent_env())
        if res.returncode != 0:
            out[kind] = f"failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}"
            continue
        out[kind] = [[stage, round(v, 1)] for stage, v in json.loads(res.stdout.splitlines()[-1])]
    return out


def child(code: str, args: list[str], fresh_state: Path) -> subprocess.CompletedProcess:
    import shutil
    for d in fresh_state.glob("state-*"):
        shutil.rmtree(d)
    env = agent_env()
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=900, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"agent run failed ({res.returncode}): {res.stderr[-1500:]}")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=5000)
    ap.add_argument("--out", type=out_file)
    ap.add_argument("--rows", nargs="+", default=None, help="only these rows (names as printed; default all)")
    ap.add_argument("--no-breakdown", action="store_true", help="peak RSS only (no per-stage breakdown, no floor)")
    ap.add_argument("--optimize", choices=["0", "1", "2"], default=None,
                    help="the agent's PYTHONOPTIMIZE (default: the systemd unit's, "
                         f"{OPTIMIZE['level'] or 'none'}; 0: plain bytecode, as figures before perf72)")
    args = ap.parse_args()
    if args.optimize is not None:
        OPTIMIZE["level"] = args.optimize
    report: dict = {"machine": machine_info(), "ticks": args.ticks, "python_optimize": OPTIMIZE["level"] or "0",
                    "peak_rss_mib": {}, "breakdown_mib": {}}
    compile_agent()
    report["floor_mib"] = {} if args.no_breakdown else floor(ROOT / "agent" / "models" / "demo-corridor")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, path in configs(work, args.ticks).items():
            if args.rows and name not in args.rows:
                continue
            res = child(SWAP_CHILD if name == SWAP_ROW else RSS_CHILD,
                        ["run", "-c", str(path), "--max-ticks", str(args.ticks), "--log-level", "warning"], work)
            hwm = int(next(line.split()[1] for line in res.stderr.splitlines() if line.startswith("VmHWM_kB ")))
            report["peak_rss_mib"][name] = round(hwm / 1024, 1)
            if name == SWAP_ROW:
                said = next(line.split() for line in res.stderr.splitlines() if line.startswith("swapped "))
                report["hot_swap"] = {"accepted": int(said[1]), "onnxruntime_imported": said[3] == "True"}
            if args.no_breakdown or name == SWAP_ROW:      # (its breakdown is the shipped demo's up to the swap)
                print(f"{name}: peak {report['peak_rss_mib'][name]} MiB", file=sys.stderr, flush=True)
                continue
            res = child(BREAKDOWN_CHILD, [str(path), str(args.ticks)], work)
            report["breakdown_mib"][name] = [[stage, None if v is None else round(v, 1)]
                                             for stage, v in json.loads(res.stdout.splitlines()[-1])]
            print(f"{name}: peak {report['peak_rss_mib'][name]} MiB", file=sys.stderr, flush=True)
    names = list(report["breakdown_mib"])
    print(f"peak RSS of `stad-agent run` on the demo (PYTHONOPTIMIZE={report['python_optimize']}), {args.ticks} ticks: "
          + ", ".join(f"{n} {v} MiB" for n, v in report["peak_rss_mib"].items()))
    if "hot_swap" in report:
        print(f"the hot swap: {report['hot_swap']['accepted']} accepted, onnxruntime "
              f"{'imported' if report['hot_swap']['onnxruntime_imported'] else 'never imported'}")
    if names:
        print(f"{'stage (MiB resident)':<58}" + "".join(f"{n:>20}" for n in names))
        for i, (stage, _) in enumerate(report["breakdown_mib"][names[0]]):
            cells = [report["breakdown_mib"][n][i][1] for n in names]
            print(f"{stage:<58}" + "".join(f"{'-' if c is None else f'{c:.1f}':>20}" for c in cells))
    if report["floor_mib"]:
        print("the floor, bare runtimes without the agent (MiB resident after each step, fresh process each):")
    for kind, stages in report["floor_mib"].items():
        print(f"  {kind}: " + (stages if isinstance(stages, str) else " · ".join(f"{s} {v}" for s, v in stages)))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
