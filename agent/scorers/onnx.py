"""The `onnx` tier: the bundle's ONNX artifact (int8 when present, else fp32) on onnxruntime's CPU provider.

One intra-op thread by default (`scoring.onnx.num_threads`), one inter-op thread, sequential
execution, every graph optimisation on. Importing this module fails when onnxruntime is not
installed; the chain then logs it and goes on with the next tier.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from ..bundle import Bundle, BundleError, read_verified
from .model_scorer import OUTPUT_NAMES, ModelScorer, load_bundle, pick_artifact


class OnnxScorer(ModelScorer):
    TYPE = "onnx"
    ARTIFACTS = ("onnx_int8", "onnx_fp32")

    def __init__(self, bundle: Bundle, kind: str | None = None, threads: int = 1, top_k: int = 3,
                 profile=None):
        kind = kind or pick_artifact(bundle, self.ARTIFACTS)
        super().__init__(bundle, kind, f"onnxruntime {ort.__version__}", top_k, profile)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        model = read_verified(self.path, self.artifact)    # what runs is what was verified
        try:
            self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 — onnxruntime raises its own exception types
            raise BundleError(f"{self.path}: onnxruntime cannot load it: {exc}") from None
        self.check_runtime_io({i.name: tuple(i.shape) for i in self.session.get_inputs()},
                              {o.name: tuple(o.shape) for o in self.session.get_outputs()})
        self._outputs = list(OUTPUT_NAMES)

    def run(self, values: np.ndarray, missing: np.ndarray):
        forecast, temporal, spatial = self.session.run(self._outputs, {"values": values, "missing": missing})
        return forecast[0], temporal[0], spatial[0]


def create(cfg, sensors: list[str]) -> OnnxScorer:
    return OnnxScorer(load_bundle(cfg, sensors), threads=cfg.scoring.onnx.num_threads, top_k=cfg.alerts.top_k,
                      profile=cfg.scoring.profile)
