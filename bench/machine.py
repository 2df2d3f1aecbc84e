"""What machine a benchmark ran on: printed with every result."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


#: Run the agent, then print its own peak RSS (VmHWM of this process image, from /proc).
RSS_CHILD = """
import sys
from agent.cli import main
rc = main(sys.argv[1:])
hwm = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:'))
print(f'VmHWM_kB {hwm}', file=sys.stderr)
raise SystemExit(rc)
"""


def unit_optimize(unit: Path = ROOT / "systemd" / "stad-agent.service") -> str | None:
    """The PYTHONOPTIMIZE the systemd unit runs the agent with (its `Environment=` lines), None when it sets none."""
    found = None
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            for word in line.partition("=")[2].split():
                if word.startswith("PYTHONOPTIMIZE="):
                    found = word.partition("=")[2]
    return found


#: Every bench's agent children run as the unit runs the agent: its PYTHONOPTIMIZE (2, `python -OO`: no docstrings
#: in memory; perf72), unless a bench's --optimize says otherwise (0: plain bytecode, as every figure before perf72
#: was read). One level for bench/rss.py, bench/table.py and bench/ticks.py, so their RSS figures agree.
OPTIMIZE = {"level": unit_optimize()}


def agent_env() -> dict:
    """An agent child's environment: this checkout first, bytecode read (and written) as installed, at the unit's
    optimisation level (OPTIMIZE)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONOPTIMIZE", None)
    if OPTIMIZE["level"] not in (None, "", "0"):
        env["PYTHONOPTIMIZE"] = OPTIMIZE["level"]
    return env


def compile_agent() -> None:
    """agent/'s .pyc files, as the install writes them (git ignores __pycache__): at the children's optimisation
    level (the .opt-2.pyc files under the unit's PYTHONOPTIMIZE=2, as systemd/install.sh writes them)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "agent")], check=True,
                   env=agent_env(), capture_output=True, timeout=300)


def machine_info(packages=("numpy", "onnxruntime", "ai-edge-litert", "torch", "paho-mqtt")) -> dict:
    versions = {}
    for p in packages:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0], "packages": versions}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def percentiles_us(samples_s) -> dict:
    import numpy as np
    a = np.asarray(samples_s) * 1e6
    return {"p50_us": round(float(np.percentile(a, 50)), 2), "p99_us": round(float(np.percentile(a, 99)), 2),
            "mean_us": round(float(a.mean()), 2)}


def write_report(report: dict, out, text: str, said: str = "") -> int:
    """A bench's end: its JSON report written to `out`, its table (`text`) printed, then where the JSON went and how
    long the run took (`report["seconds"]`), after `said`; 0, the bench's exit code."""
    Path(out).write_text(json.dumps(report, indent=2) + "\n")
    print(text)
    print(f"{said}JSON: {out} ({report['seconds']} s)")
    return 0


def print_json_report(report: dict, out) -> int:
    """A bench's end when its report is its output: the load at the end added, the JSON written to `out` (if given)
    and printed; 0, the bench's exit code."""
    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    text = json.dumps(report, indent=1)
    if out:
        Path(out).write_text(text)
    print(text)
    return 0


def out_file(text: str) -> Path:
    """argparse type of a bench's --out FILE: its directory must exist, said before the run rather
    than in a traceback once the measurement is done and lost."""
    path = Path(text).expanduser()
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no directory {path.parent} for {path.name}")
    return path
