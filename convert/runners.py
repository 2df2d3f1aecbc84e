"""Runners for a model before it is in a bundle: `runner.run(values, missing) -> (forecast, …)`.

Batch-1 float32 inputs of shape (1, T, N); one thread, as on the gateway. The PyTorch
reference, and export's choice between int8 candidates (files not yet in a manifest), run
here; ONNX with the agent's own session options. `stad-convert verify` certifies a finished
bundle with the agent's own scorers instead (convert/verify.py: agent_scorer).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .model import INPUT_NAMES, OUTPUT_NAMES
from .quiet import third_party_output


class ShapeMismatch(RuntimeError):
    """The model file's inputs are not the ones the agent feeds."""


class TorchRunner:
    kind = "pytorch"

    def __init__(self, model):
        import torch
        torch.set_num_threads(1)
        self.torch = torch
        self.model = model.eval()

    def run(self, values: np.ndarray, missing: np.ndarray):
        with self.torch.no_grad():
            out = self.model(self.torch.from_numpy(values), self.torch.from_numpy(missing))
        return tuple(o.numpy() for o in out)


class OnnxRunner:
    def __init__(self, path: Path, kind: str = "onnx"):
        from agent.scorers.onnx import open_session
        self.kind = kind
        self.session = open_session(str(path), threads=1)

    def run(self, values: np.ndarray, missing: np.ndarray):
        return tuple(self.session.run(list(OUTPUT_NAMES), {"values": values, "missing": missing}))


class TfliteRunner:
    def __init__(self, path: Path, kind: str = "tflite"):
        from ai_edge_litert.interpreter import Interpreter
        self.kind = kind
        with third_party_output():          # LiteRT's "INFO: Created ... XNNPACK delegate" on fd 2
            self.interpreter = Interpreter(model_path=str(path), num_threads=1)
            self.interpreter.allocate_tensors()
        self.signature = self.interpreter.get_signature_runner()
        names = self.interpreter.get_signature_list()
        inputs = next(iter(names.values()))["inputs"]
        if sorted(inputs) != sorted(INPUT_NAMES):
            raise ShapeMismatch(f"{kind}: model inputs are {inputs}, expected {INPUT_NAMES}")

    def run(self, values: np.ndarray, missing: np.ndarray):
        out = self.signature(values=values, missing=missing)
        return tuple(out[name] for name in OUTPUT_NAMES)


def open_runner(kind: str, path: Path):
    if kind.startswith("onnx"):
        return OnnxRunner(path, kind)
    if kind.startswith("tflite"):
        return TfliteRunner(path, kind)
    raise ValueError(f"unknown artifact kind {kind!r}")


def run_all(runner, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts (n, N) of every window and per-window latencies (n,) in ms, batch 1."""
    forecasts, times = [], []
    for i in range(len(values)):
        v, m = values[i:i + 1], missing[i:i + 1]
        t0 = time.perf_counter()
        out = runner.run(v, m)
        times.append((time.perf_counter() - t0) * 1e3)
        forecasts.append(np.asarray(out[0]).reshape(-1))
    return np.stack(forecasts), np.array(times)
