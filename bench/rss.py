"""Where the agent's memory goes: peak RSS of `stad-agent run` on the demo per tier, and a
breakdown of it by stage.

Every figure is read inside the agent's own process from /proc (VmRSS at a stage, VmHWM for the
peak): getrusage(RUSAGE_CHILDREN) would report this bench's own peak. Each run is a fresh
process: the demo config (configs/demo.yaml, unpaced, JSONL sink only, as bench/table.py runs
it) with the chain of its tier, `--ticks` ticks (the warm-up day is 2880). Also the numpy tier on
a CSV replay of the same simulated data: what a gateway without the simulator (and so without
numpy.random) pays.

Rows of the breakdown (MiB resident after each stage, in one process):
python · + numpy · + pyyaml · + the agent's modules · + the config loaded (with what the named
plugins import: numpy.random for the simulator) · + Agent() (pipeline; a model tier's runtime and
model) · the warm-up's ticks held, just before the fallback's fit · peak · end of the run.

    python bench/rss.py [--ticks 5000] [--out rss.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import RSS_CHILD, machine_info  # noqa: E402
from table import demo_config  # noqa: E402

#: The agent run step by step, VmRSS after each stage (the finish of the warm-up is wrapped to
#: read the resident size just before the fallback's fit). Prints the stages as JSON.
BREAKDOWN_CHILD = """
import json, sys
def status(key):
    return int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith(key))) / 1024
stages = [("python", status("VmRSS:"))]
import numpy
stages.append(("+ numpy", status("VmRSS:")))
import yaml
stages.append(("+ pyyaml", status("VmRSS:")))
import agent.cli, agent.config, agent.pipeline, agent.service
stages.append(("+ the agent's modules", status("VmRSS:")))
cfg = agent.cli.load_config(sys.argv[1])
stages.append(("+ the config loaded (and what its plugins import)", status("VmRSS:")))
agent.cli.setup_logging("warning")
run = agent.service.Agent(cfg, max_ticks=int(sys.argv[2]))
stages.append(("+ Agent() (pipeline; a model tier's runtime and model)", status("VmRSS:")))
before_fit = []
finish = agent.pipeline.Pipeline._finish_warmup
def wrapped(self):
    before_fit.append(status("VmRSS:"))
    finish(self)
agent.pipeline.Pipeline._finish_warmup = wrapped
run.run()
stages.append(("the warm-up's ticks held, just before the fit", before_fit[0] if before_fit else None))
stages.append(("peak (VmHWM)", status("VmHWM:")))
stages.append(("end of the run", status("VmRSS:")))
print(json.dumps(stages))
"""

TIERS = {"numpy": ["numpy"], "tflite": ["tflite", "numpy"], "onnx": ["onnx", "numpy"]}


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
        out[name] = work / f"rss-{name}.yaml"
        out[name].write_text(yaml.safe_dump(demo_config(chain, work)))
    cfg = demo_config(["numpy"], work)
    cfg["state_dir"] = str(work / "state-replay")
    cfg["sinks"] = [{"type": "jsonl", "path": str(work / "alerts-replay.jsonl")}]
    replay_csv(cfg, ticks, work / "demo.csv")
    cfg["sources"] = [{"type": "replay", "path": str(work / "demo.csv"), "speed": 0}]
    out["numpy, csv replay"] = work / "rss-replay.yaml"
    out["numpy, csv replay"].write_text(yaml.safe_dump(cfg))
    return out


def child(code: str, args: list[str], fresh_state: Path) -> subprocess.CompletedProcess:
    import shutil
    for d in fresh_state.glob("state-*"):
        shutil.rmtree(d)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=900, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"agent run failed ({res.returncode}): {res.stderr[-1500:]}")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=5000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    report: dict = {"machine": machine_info(), "ticks": args.ticks, "peak_rss_mib": {}, "breakdown_mib": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, path in configs(work, args.ticks).items():
            res = child(RSS_CHILD, ["run", "-c", str(path), "--max-ticks", str(args.ticks), "--log-level", "warning"],
                        work)
            hwm = int(next(line.split()[1] for line in res.stderr.splitlines() if line.startswith("VmHWM_kB ")))
            report["peak_rss_mib"][name] = round(hwm / 1024, 1)
            res = child(BREAKDOWN_CHILD, [str(path), str(args.ticks)], work)
            report["breakdown_mib"][name] = [[stage, None if v is None else round(v, 1)]
                                             for stage, v in json.loads(res.stdout.splitlines()[-1])]
            print(f"{name}: peak {report['peak_rss_mib'][name]} MiB", file=sys.stderr, flush=True)
    names = list(report["breakdown_mib"])
    print(f"peak RSS of `stad-agent run` on the demo, {args.ticks} ticks: "
          + ", ".join(f"{n} {v} MiB" for n, v in report["peak_rss_mib"].items()))
    print(f"{'stage (MiB resident)':<58}" + "".join(f"{n:>20}" for n in names))
    for i, (stage, _) in enumerate(report["breakdown_mib"][names[0]]):
        cells = [report["breakdown_mib"][n][i][1] for n in names]
        print(f"{stage:<58}" + "".join(f"{'-' if c is None else f'{c:.1f}':>20}" for c in cells))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
