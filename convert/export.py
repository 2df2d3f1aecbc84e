"""Export the trained forecaster: ONNX fp32/int8 and TFLite fp32/int8.

int8 recipes, chosen so that only weight-carrying layers are quantized (attention's
activation×activation products and softmax stay float; that kept the forecast error small):
- ONNX: quant_pre_process, then both static QDQ (U8 activations, S8 per-channel weights,
  MinMax calibration on real windows, only MatMul/Gemm nodes with a weight initializer) and
  dynamic per-channel S8; both are measured (error and latency, recorded in the manifest) and
  the more accurate one wins: a choice by error alone is reproducible, one by timing is not.
- TFLite: litert-torch PT2E static quantization, per-channel symmetric int8 weights and
  histogram-calibrated int8 activations on nn.Linear only, calibrated on real windows.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .model import INPUT_NAMES, OUTPUT_NAMES, SpatioTemporalForecaster

os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")

ONNX_OPSET = 17
LINEAR_MODULE_TYPE = "torch.nn.modules.linear.Linear"   # how torch.export names nn.Linear in nn_module_stack
#: The ONNX int8 candidate must keep the forecast RMS error (normalised units) below this.
ONNX_INT8_RMS_BOUND = 0.05


class NamedOutputs(torch.nn.Module):
    """The model with keyword inputs and named outputs, so the TFLite signature says what is what."""

    def __init__(self, model: SpatioTemporalForecaster):
        super().__init__()
        self.model = model

    def forward(self, values: torch.Tensor, missing: torch.Tensor):
        forecast, temporal, spatial = self.model(values, missing)
        return {"forecast": forecast, "temporal_attention": temporal, "spatial_attention": spatial}


@dataclass
class Calibration:
    """Real windows for int8 calibration and for measuring candidates: (n, T, N) float32 each."""
    values: np.ndarray
    missing: np.ndarray

    def batches(self, limit: int | None = None):
        n = len(self.values) if limit is None else min(limit, len(self.values))
        for i in range(n):
            yield self.values[i:i + 1], self.missing[i:i + 1]


def export_onnx_fp32(model: SpatioTemporalForecaster, path: Path) -> None:
    spec = model.spec
    sample = (torch.zeros(1, spec.steps, spec.sensors), torch.zeros(1, spec.steps, spec.sensors))
    axes = {name: {0: "batch"} for name in INPUT_NAMES + OUTPUT_NAMES}
    torch.onnx.export(model.eval(), sample, str(path), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                      dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False, do_constant_folding=True)


def onnx_session(path: Path, threads: int = 1):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class _WindowReader:
    """onnxruntime's CalibrationDataReader over real windows, one at a time."""

    def __init__(self, calibration: Calibration, limit: int):
        self._it = iter(calibration.batches(limit))

    def get_next(self):
        batch = next(self._it, None)
        return None if batch is None else {"values": batch[0], "missing": batch[1]}


def weight_matmul_nodes(path: Path) -> list[str]:
    """MatMul/Gemm nodes that multiply by a weight initializer (the model's linear layers)."""
    import onnx
    graph = onnx.load(str(path)).graph
    weights = {i.name for i in graph.initializer}
    return [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and any(i in weights for i in n.input)]


def quantize_onnx_static(preprocessed: Path, out: Path, calibration: Calibration, limit: int = 256) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    quantize_static(str(preprocessed), str(out), _WindowReader(calibration, limit),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True, calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_quantize=weight_matmul_nodes(preprocessed))


def quantize_onnx_dynamic(preprocessed: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(str(preprocessed), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm"])


def onnx_forecasts(path: Path, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, float]:
    """Batch-1 forecasts over every window, and the median latency per window in ms (one thread)."""
    sess = onnx_session(path)
    out, times = [], []
    for i in range(len(values)):
        t0 = time.perf_counter()
        f = sess.run(["forecast"], {"values": values[i:i + 1], "missing": missing[i:i + 1]})[0]
        times.append(time.perf_counter() - t0)
        out.append(f[0])
    return np.stack(out), float(np.median(times) * 1e3)


def export_onnx_int8(fp32: Path, out: Path, reference: np.ndarray, calibration: Calibration,
                     work_dir: Path) -> dict:
    """Build both int8 candidates, measure them against `reference` forecasts, keep the better one."""
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = work_dir / "onnx_preprocessed.onnx"
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    candidates = {
        "static_qdq_u8s8_per_channel": (work_dir / "onnx_int8_static.onnx",
                                        lambda p: quantize_onnx_static(pre, p, calibration)),
        "dynamic_s8_per_channel": (work_dir / "onnx_int8_dynamic.onnx", lambda p: quantize_onnx_dynamic(pre, p)),
    }
    measured = {}
    for name, (path, build) in candidates.items():
        build(path)
        forecast, latency = onnx_forecasts(path, calibration.values, calibration.missing)
        err = forecast - reference
        measured[name] = {"forecast_rms_error": float(np.sqrt(np.mean(err ** 2))),
                          "forecast_max_error": float(np.abs(err).max()), "latency_ms_p50": latency}
    chosen = min(measured, key=lambda n: measured[n]["forecast_rms_error"])
    why = "lowest forecast RMS error against PyTorch on the calibration windows"
    if measured[chosen]["forecast_rms_error"] > ONNX_INT8_RMS_BOUND:
        why += f" (above the {ONNX_INT8_RMS_BOUND} bound: check verify's alert agreement)"
    candidates[chosen][0].replace(out)
    for path, _ in candidates.values():
        path.unlink(missing_ok=True)
    pre.unlink(missing_ok=True)
    return {"recipe": chosen, "why": why, "candidates": measured,
            "scope": "MatMul/Gemm with weight initializers (linear layers); attention and softmax stay float"}


def sample_kwargs(model: SpatioTemporalForecaster, calibration: Calibration | None = None) -> dict:
    spec = model.spec
    if calibration is not None and len(calibration.values):
        return {"values": torch.from_numpy(calibration.values[:1]), "missing": torch.from_numpy(calibration.missing[:1])}
    return {"values": torch.zeros(1, spec.steps, spec.sensors), "missing": torch.zeros(1, spec.steps, spec.sensors)}


def export_tflite_fp32(model: SpatioTemporalForecaster, path: Path) -> None:
    import litert_torch
    edge = litert_torch.convert(NamedOutputs(model).eval(), (), sample_kwargs(model))
    edge.export(str(path))


def export_tflite_int8(model: SpatioTemporalForecaster, path: Path, calibration: Calibration,
                       limit: int = 256) -> dict:
    import litert_torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
    linear_only = PT2EQuantizer().set_module_type(LINEAR_MODULE_TYPE, config)
    kwargs = sample_kwargs(model, calibration)
    exported = torch.export.export(NamedOutputs(model).eval(), (), kwargs).module()
    prepared = prepare_pt2e(exported, linear_only)
    with torch.no_grad():
        for values, missing in calibration.batches(limit):
            prepared(values=torch.from_numpy(values), missing=torch.from_numpy(missing))
    quantized = convert_pt2e(prepared, fold_quantize=False)
    # QuantConfig reads the static/dynamic mode from a global config; the annotation came from
    # `linear_only` above, so this quantizer only tells the converter "static PT2E".
    mode = QuantConfig(pt2e_quantizer=PT2EQuantizer().set_global(config))
    edge = litert_torch.convert(quantized, (), kwargs, quant_config=mode)
    edge.export(str(path))
    return {"recipe": "litert_torch_pt2e_static_per_channel",
            "scope": "nn.Linear: int8 per-channel symmetric weights, int8 activations (histogram "
                     f"observer over {min(limit, len(calibration.values))} windows); attention, "
                     "softmax, layer norm and the input embedding stay float; float inputs/outputs"}
