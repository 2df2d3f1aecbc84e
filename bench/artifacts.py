"""Size and batch-1, one-thread latency of every artifact of a bundle next to PyTorch eager.

    python bench/artifacts.py [BUNDLE] [--repeats 2000]      (default: agent/models/demo-corridor)

One run; JSON on stdout with the machine it ran on. Inputs are the bundle's held-out windows,
cycled, so that every runtime sees the same real data.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from machine import machine_info  # noqa: E402

PACKAGES = ("numpy", "torch", "onnx", "onnxruntime", "ai-edge-litert", "litert-torch")


def time_runner(runner, values, missing, repeats: int, warmup: int = 50) -> dict:
    import numpy as np
    from convert.verify import latency_figures
    n = len(values)
    for i in range(warmup):
        runner.run(values[i % n:i % n + 1], missing[i % n:i % n + 1])
    times = np.empty(repeats)
    for i in range(repeats):
        j = i % n
        v, m = values[j:j + 1], missing[j:j + 1]
        t0 = time.perf_counter()
        runner.run(v, m)
        times[i] = time.perf_counter() - t0
    ms = times * 1e3
    return {**latency_figures(ms), "latency_ms_mean": round(float(ms.mean()), 4), "repeats": repeats}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(REPO / "agent" / "models" / "demo-corridor"))
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()

    from agent.bundle import BundleError, load
    from convert import bundle_writer as bw
    from convert.runners import TorchRunner, open_runner

    try:
        bundle = load(args.bundle)
    except BundleError as exc:
        parser.error(str(exc))
    values, missing = bw.load_windows(bundle.path / bw.HOLDOUT_FILE, bundle.steps)
    model = bw.load_model(bundle.path, bundle.manifest)
    results = {"pytorch_eager": {"bytes": (bundle.path / bw.WEIGHTS_FILE).stat().st_size,
                                 **time_runner(TorchRunner(model), values, missing, args.repeats)}}
    for kind in bundle.artifact_kinds():
        path = bundle.artifact_path(kind)
        results[kind] = {"bytes": path.stat().st_size,
                         "quantization": (bundle.artifact(kind).quantization or {}).get("recipe"),
                         **time_runner(open_runner(kind, path), values, missing, args.repeats)}
    print(json.dumps({"bundle": str(bundle.path), "model_id": bundle.model_id,
                      "window": {"steps": bundle.steps, "sensors": len(bundle.sensors)},
                      "parameters": (bundle.manifest.model or {}).get("parameters"),
                      "batch": 1, "threads": 1, "machine": machine_info(PACKAGES), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
