"""What machine a benchmark ran on: printed with every result."""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
from importlib import metadata
from pathlib import Path


#: Run the agent, then print its own peak RSS (VmHWM of this process image, from /proc).
RSS_CHILD = """
import sys
from agent.cli import main
rc = main(sys.argv[1:])
hwm = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:'))
print(f'VmHWM_kB {hwm}', file=sys.stderr)
raise SystemExit(rc)
"""


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


def out_file(text: str) -> Path:
    """argparse type of a bench's --out FILE: its directory must exist, said before the run rather
    than in a traceback once the measurement is done and lost."""
    path = Path(text).expanduser()
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no directory {path.parent} for {path.name}")
    return path
