"""Export the trained forecaster: ONNX fp32/int8 and TFLite fp32/int8.

int8 recipes, chosen so that only weight-carrying layers are quantized (attention's
activation×activation products and softmax stay float; that kept the forecast error small).
Calibration windows (pipeline.export_calibration) are calm windows spread over the whole
training + validation period plus anomaly-like copies (convert.perturb): static activation
ranges must cover incident-sized inputs, or the artifact saturates exactly during incidents.
- ONNX: quant_pre_process, then both static QDQ (U8 activations, S8 per-channel weights,
  MinMax calibration, only MatMul/Gemm nodes with a weight initializer) and dynamic
  per-channel S8.
- TFLite: int8 per-channel symmetric weights on the nn.Linear layers, three ways: weight-only
  (ai-edge-quantizer; weights dequantized once, float compute, nothing to saturate), dynamic
  range (PT2E dynamic; activations quantized per inference) and static (PT2E; int8 activations
  with MinMax observers, true global min/max over the calibration windows, no clipped tails).
For both runtimes every candidate is measured on the calibration windows (forecast error
against PyTorch on calm and on perturbed windows, latency; all recorded in the manifest) and
the most accurate one wins: a choice by error alone is reproducible, one by timing is not.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .bundle_files import TFLITE_INT8_RECIPES
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
    """Windows for int8 calibration and for measuring candidates: (n, T, N) float32 each.

    The first `calm` windows are real calm ones, the rest perturbed copies (None: all calm)."""
    values: np.ndarray
    missing: np.ndarray
    calm: int | None = None

    def indices(self, limit: int | None = None) -> np.ndarray:
        """All windows, or `limit` of them spread evenly over calm and perturbed alike."""
        n = len(self.values)
        if limit is None or limit >= n:
            return np.arange(n)
        return np.unique(np.linspace(0, n - 1, max(1, limit)).round().astype(int))

    def batches(self, limit: int | None = None):
        for i in self.indices(limit):
            yield self.values[i:i + 1], self.missing[i:i + 1]

    def groups(self) -> dict[str, np.ndarray]:
        """Boolean masks of the calm and the perturbed windows (the latter may be empty)."""
        calm = np.zeros(len(self.values), bool)
        calm[:len(self.values) if self.calm is None else self.calm] = True
        return {"calm": calm, "perturbed": ~calm}


def error_figures(forecast: np.ndarray, reference: np.ndarray, calibration: Calibration, latency: float) -> dict:
    """Forecast error against PyTorch, overall and per group, and the latency of a candidate."""
    err = forecast - reference
    out = {"forecast_rms_error": float(np.sqrt(np.mean(err ** 2))), "forecast_max_error": float(np.abs(err).max())}
    for name, mask in calibration.groups().items():
        if mask.any():
            out[f"forecast_rms_error_{name}"] = float(np.sqrt(np.mean(err[mask] ** 2)))
    out["latency_ms_p50"] = latency
    return out


def export_onnx_fp32(model: SpatioTemporalForecaster, path: Path) -> None:
    spec = model.spec
    sample = (torch.zeros(1, spec.steps, spec.sensors), torch.zeros(1, spec.steps, spec.sensors))
    axes = {name: {0: "batch"} for name in INPUT_NAMES + OUTPUT_NAMES}
    torch.onnx.export(model.eval(), sample, str(path), input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                      dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False, do_constant_folding=True)


class _WindowReader:
    """onnxruntime's CalibrationDataReader over real windows, one at a time."""

    def __init__(self, calibration: Calibration, limit: int):
        self._it = iter(calibration.batches(limit))

    def get_next(self):
        batch = next(self._it, None)
        return None if batch is None else {"values": batch[0], "missing": batch[1]}


def weight_matmul_nodes(path: Path) -> list[str]:
    """MatMul/Gemm nodes that multiply by a 2-D weight initializer (the model's linear layers; the
    folded per-head tables of convert/fold.py are 3-D and stay float)."""
    import onnx
    graph = onnx.load(str(path)).graph
    weights = {i.name for i in graph.initializer if len(i.dims) == 2}
    return [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and any(i in weights for i in n.input)]


def quantize_onnx_static(preprocessed: Path, out: Path, calibration: Calibration, limit: int | None = None) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    quantize_static(str(preprocessed), str(out), _WindowReader(calibration, limit),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True, calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_quantize=weight_matmul_nodes(preprocessed))


def quantize_onnx_dynamic(preprocessed: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(str(preprocessed), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm"], nodes_to_quantize=weight_matmul_nodes(preprocessed))


def artifact_forecasts(kind: str, path: Path, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, float]:
    """Batch-1 forecasts over every window, and the median latency per window in ms (one thread)."""
    from .runners import open_runner, run_all
    forecast, ms = run_all(open_runner(kind, path), values, missing)
    return forecast, float(np.median(ms))


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
        forecast, latency = artifact_forecasts("onnx_int8", path, calibration.values, calibration.missing)
        measured[name] = error_figures(forecast, reference, calibration, latency)
    chosen = min(measured, key=lambda n: measured[n]["forecast_rms_error"])
    why = "lowest forecast RMS error against PyTorch on the calibration windows (calm and perturbed)"
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


TFLITE_INT8_SCOPES = {
    "weight_only_int8_per_channel": "nn.Linear (FULLY_CONNECTED): int8 per-channel symmetric weights, "
                                    "dequantized to float at load; float activations and compute",
    "dynamic_range_int8_per_channel": "nn.Linear: int8 per-channel symmetric weights, activations quantized "
                                      "per inference from their own range (TFLite dynamic-range kernels)",
    "static_int8_per_channel_minmax": "nn.Linear: int8 per-channel symmetric weights, int8 activations with "
                                      "fixed ranges (MinMax observers: global min/max over the calibration "
                                      "windows)",
}
TFLITE_INT8_COMMON_SCOPE = "attention products, softmax, layer norm and the input embedding stay float; float inputs/outputs"


def _linear_int8_config(dynamic: bool):
    """Per-channel symmetric int8 weights; static activations observed by MinMax (no clipped tails)."""
    from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config
    from torchao.quantization.pt2e.observer import MinMaxObserver

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic)
    if dynamic:
        return config
    activation = dataclasses.replace(config.input_activation,
                                     observer_or_fake_quant_ctr=MinMaxObserver.with_args(eps=2 ** -12))
    return dataclasses.replace(config, input_activation=activation, output_activation=activation)


def _tflite_pt2e(model: SpatioTemporalForecaster, path: Path, calibration: Calibration, dynamic: bool,
                 limit: int | None) -> None:
    import litert_torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    config = _linear_int8_config(dynamic)
    linear_only = PT2EQuantizer().set_module_type(LINEAR_MODULE_TYPE, config)
    kwargs = sample_kwargs(model, calibration)
    exported = torch.export.export(NamedOutputs(model).eval(), (), kwargs).module()
    prepared = prepare_pt2e(exported, linear_only)
    with torch.no_grad():
        for values, missing in calibration.batches(1 if dynamic else limit):   # dynamic: a trace, no ranges
            prepared(values=torch.from_numpy(values), missing=torch.from_numpy(missing))
    quantized = convert_pt2e(prepared, fold_quantize=False)
    # QuantConfig reads the static/dynamic mode from a global config; the annotation came from
    # `linear_only` above, so this quantizer only tells the converter which mode.
    mode = QuantConfig(pt2e_quantizer=PT2EQuantizer().set_global(config))
    litert_torch.convert(quantized, (), kwargs, quant_config=mode).export(str(path))


def _tflite_weight_only(model: SpatioTemporalForecaster, path: Path, calibration: Calibration) -> None:
    import litert_torch
    from litert_torch.generative.quantize import quant_attrs, quant_recipe
    from litert_torch.quantize.quant_config import QuantConfig

    layer = quant_recipe.LayerQuantRecipe(activation_dtype=quant_attrs.Dtype.FP32, weight_dtype=quant_attrs.Dtype.INT8,
                                          mode=quant_attrs.Mode.WEIGHT_ONLY, algorithm=quant_attrs.Algorithm.MIN_MAX,
                                          granularity=quant_attrs.Granularity.CHANNELWISE)
    config = QuantConfig(generative_recipe=quant_recipe.GenerativeQuantRecipe(default=layer))
    litert_torch.convert(NamedOutputs(model).eval(), (), sample_kwargs(model, calibration),
                         quant_config=config).export(str(path))


def build_tflite_int8(recipe: str, model: SpatioTemporalForecaster, path: Path, calibration: Calibration,
                      limit: int | None = None) -> None:
    """One TFLite int8 candidate (a name from TFLITE_INT8_RECIPES)."""
    if recipe == "weight_only_int8_per_channel":
        _tflite_weight_only(model, path, calibration)
    elif recipe == "dynamic_range_int8_per_channel":
        _tflite_pt2e(model, path, calibration, dynamic=True, limit=limit)
    elif recipe == "static_int8_per_channel_minmax":
        _tflite_pt2e(model, path, calibration, dynamic=False, limit=limit)
    else:
        raise ValueError(f"unknown TFLite int8 recipe {recipe!r} (known: {', '.join(TFLITE_INT8_RECIPES)})")


def export_tflite_int8(model: SpatioTemporalForecaster, path: Path, calibration: Calibration,
                       limit: int | None = None, reference: np.ndarray | None = None, work_dir: Path | None = None,
                       recipes: tuple[str, ...] = TFLITE_INT8_RECIPES) -> dict:
    """Build the TFLite int8 candidates, measure them against PyTorch, keep the most accurate.

    `limit` caps the windows the static candidate calibrates on (spread over calm and perturbed);
    every candidate is measured on all of `calibration`."""
    if reference is None:
        from .train import predict
        reference = predict(model, calibration.values, calibration.missing)
    with tempfile.TemporaryDirectory(prefix="stad-tflite-int8-", dir=work_dir) as tmp:
        measured, files = {}, {}
        for recipe in recipes:
            files[recipe] = Path(tmp) / f"{recipe}.tflite"
            build_tflite_int8(recipe, model, files[recipe], calibration, limit)
            forecast, latency = artifact_forecasts("tflite_int8", files[recipe], calibration.values,
                                                   calibration.missing)
            measured[recipe] = error_figures(forecast, reference, calibration, latency)
            measured[recipe]["bytes"] = files[recipe].stat().st_size
        chosen = min(measured, key=lambda n: measured[n]["forecast_rms_error"])
        files[chosen].replace(path)
    groups = calibration.groups()
    why = "lowest forecast RMS error against PyTorch on the calibration windows (calm and perturbed)"
    if chosen == "weight_only_int8_per_channel":
        why += "; float activations: no activation range that incident-sized inputs could saturate"
    return {"recipe": chosen, "why": why,
            "candidates": measured,
            "scope": f"{TFLITE_INT8_SCOPES[chosen]}; {TFLITE_INT8_COMMON_SCOPE}",
            "static_calibration_windows": int(len(calibration.indices(limit))),
            "measured_on": {"calm_windows": int(groups["calm"].sum()), "perturbed_windows": int(groups["perturbed"].sum())}}
