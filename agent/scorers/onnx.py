"""The `onnx` tier: the bundle's ONNX artifact (int8 when present, else fp32) on onnxruntime's CPU provider.

One intra-op thread by default (`scoring.onnx.num_threads`), one inter-op thread, sequential
execution, every graph optimisation on. onnxruntime is imported when the tier is created, so the
config loads without it; without it `create` raises ImportError, and the chain logs the tier as
not available and goes on with the next one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..bundle import Bundle, BundleError, read_verified
from ..plugins import Plugin
from ..typed import rng
from .model_scorer import OUTPUT_NAMES, ModelScorer, pick_artifact


@dataclass
class OnnxConfig:
    """`scoring.onnx`: how the onnx tier runs."""
    TYPE: ClassVar[str] = "onnx"
    num_threads: int = rng(1, 64, default=1, doc="intra-op threads (a gateway has other work)")


def onnxruntime():
    """The onnxruntime module (the library PLUGIN declares); ImportError when it is not installed."""
    return PLUGIN.import_library()


def open_session(model: bytes | str, threads: int = 1):
    """An onnxruntime CPU session with the agent's options: `threads` intra-op threads, one inter-op
    thread, sequential execution, every graph optimisation. stad-convert's parity runs use it too,
    so what the converter certifies is what the gateway runs."""
    ort = onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


class OnnxScorer(ModelScorer):
    TYPE = "onnx"
    ARTIFACTS = ("onnx_int8", "onnx_fp32")

    def __init__(self, bundle: Bundle, kind: str | None = None, threads: int = 1, top_k: int = 3):
        ort = onnxruntime()
        kind = kind or pick_artifact(bundle, self.ARTIFACTS)
        super().__init__(bundle, kind, f"onnxruntime {ort.__version__}", top_k)
        model = read_verified(self.path, self.artifact)    # what runs is what was verified
        try:
            self.session = open_session(model, threads)
        except Exception as exc:  # noqa: BLE001 — onnxruntime raises its own exception types
            raise BundleError(f"{self.path}: onnxruntime cannot load it: {exc}") from None
        self.check_runtime_io({i.name: tuple(i.shape) for i in self.session.get_inputs()},
                              {o.name: tuple(o.shape) for o in self.session.get_outputs()})
        self._outputs = list(OUTPUT_NAMES)
        # The scorer's own input buffers (ModelScorer.inputs fills them in place every tick) and
        # output buffers, bound once: a tick's run is then one call with no feed dict, no name
        # lookups and no output allocation (session.run's Python side was ~12 µs of ~110).
        self._bound_out = [np.zeros(self.expected[name], np.float32) for name in OUTPUT_NAMES]
        self._binding = self.session.io_binding()
        self._binding.bind_cpu_input("values", self._values)
        self._binding.bind_cpu_input("missing", self._missing)
        for name, buf in zip(OUTPUT_NAMES, self._bound_out):
            self._binding.bind_output(name, "cpu", 0, np.float32, list(buf.shape), buf.ctypes.data)

    def run(self, values: np.ndarray, missing: np.ndarray):
        if values is self._values and missing is self._missing:
            self.session.run_with_iobinding(self._binding)
            forecast, temporal, spatial = self._bound_out
            # copies: the buffers are overwritten by the next run, the arrays outlive it (an explanation)
            return forecast[0].copy(), temporal[0].copy(), spatial[0].copy()
        forecast, temporal, spatial = self.session.run(self._outputs, {"values": values, "missing": missing})
        return forecast[0], temporal[0], spatial[0]


def create(cfg: OnnxConfig, bundle: Bundle, top_k: int) -> OnnxScorer:
    return OnnxScorer(bundle, threads=cfg.num_threads, top_k=top_k)


PLUGIN = Plugin(config=OnnxConfig, create=create, rank=1, libraries=("onnxruntime",))
