"""The converter's steps on a bundle directory: train → export → verify.

train_bundle writes the PyTorch weights, a slice of validation rows (int8 calibration), a slice
of held-out test rows (verify) and a manifest without artifacts; export_bundle adds the four
model files; convert.verify measures them. Each step reads what the previous one wrote.
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from agent.bundle import ARTIFACT_KINDS, load as load_bundle

from . import bundle_writer as bw
from .data import Series, read_series, training_sources
from .export import (Calibration, export_onnx_fp32, export_onnx_int8, export_tflite_fp32, export_tflite_int8)
from .model import neighbour_mask_from_config
from .train import TrainOptions, TrainResult, predict, train


@dataclasses.dataclass
class DataOptions:
    days: float | None = 6.0        # simulated days (simulate sources only)
    seed: int | None = 1001         # simulator seed for training data (None: the config's)
    anomalies: str = "none"         # "none": disable simulated anomalies; "keep": as configured


def describe_source(src) -> dict:
    return {"type": src.TYPE, **dataclasses.asdict(src)}


def train_bundle(cfg, out_dir: Path, options: TrainOptions, data: DataOptions, model_id: str,
                 series: Series | None = None) -> tuple[TrainResult, dict]:
    sources = training_sources(cfg, days=data.days, seed=data.seed, anomalies=data.anomalies)
    if series is None:
        series = read_series(cfg, sources)
    steps = cfg.window.steps
    result = train(series, steps, cfg.threshold, options, neighbour_mask_from_config(cfg))

    out_dir.mkdir(parents=True, exist_ok=True)
    bw.save_weights(result.model, out_dir / bw.WEIGHTS_FILE)
    split = result.split
    cal_start = max(split.train_end, split.val_end - (bw.CALIBRATION_WINDOWS + steps - 1))
    bw.save_rows(out_dir / bw.CALIBRATION_FILE, result.z[cal_start:split.val_end],
                 result.missing[cal_start:split.val_end])
    hold_end = min(split.n, split.val_end + bw.HOLDOUT_WINDOWS + steps - 1)
    bw.save_rows(out_dir / bw.HOLDOUT_FILE, result.z[split.val_end:hold_end], result.missing[split.val_end:hold_end])

    sensors = series.sensors
    manifest = bw.new_manifest(model_id, sensors, result.spec, cfg.tick_s)
    manifest.update({
        "normalisation": result.normaliser.to_manifest(sensors),
        "residual_std": {s: float(v) for s, v in zip(sensors, result.residual_std)},
        "score": "per sensor |newest − forecast| / residual_std (0 when missing); tick score = max over sensors",
        "threshold": result.threshold,
        "model": {"architecture": "spatio-temporal-forecaster", **result.spec.as_dict(),
                  "parameters": result.summary["parameters"], "topology": cfg.topology,
                  "neighbour_prior": "learned scale × (topology neighbours + self), added to spatial logits"},
        "training": {k: v for k, v in result.summary.items()},
        "data": {"sources": [describe_source(s) for s in sources], "days": data.days, "seed": data.seed,
                 "anomalies": data.anomalies, "carry_forward_s": cfg.window.carry_forward_s,
                 "split": split.as_dict(),
                 "calibration_rows": [cal_start, split.val_end], "holdout_rows": [split.val_end, hold_end],
                 "row_files": "float16 (rows, sensors) normalised values, NaN where missing"},
        "artifacts": {},
        "files": {bw.WEIGHTS_FILE: {}, bw.CALIBRATION_FILE: {}, bw.HOLDOUT_FILE: {}},
    })
    bw.write_manifest(out_dir, manifest)
    return result, manifest


def export_bundle(bundle_dir: Path, kinds: list[str] | None = None, log=print) -> dict:
    """Export the bundle's PyTorch model to the requested artifact kinds and record them."""
    bundle = load_bundle(bundle_dir)
    manifest = bundle.manifest
    model = bw.load_model(bundle_dir, manifest)
    values, missing = bw.load_windows(bundle_dir / bw.CALIBRATION_FILE, bundle.steps)
    calibration = Calibration(values, missing)
    reference = predict(model, values, missing)
    kinds = list(kinds or ARTIFACT_KINDS)
    with tempfile.TemporaryDirectory(prefix="stad-export-") as tmp:
        work = Path(tmp)
        fp32_onnx = bundle_dir / bw.ARTIFACT_FILES["onnx_fp32"]
        for kind in kinds:
            target = bundle_dir / bw.ARTIFACT_FILES[kind]
            log(f"exporting {kind} → {target.name}")
            if kind == "onnx_fp32":
                export_onnx_fp32(model, target)
                quant = {"recipe": "none (fp32)"}
            elif kind == "onnx_int8":
                if not fp32_onnx.exists():
                    export_onnx_fp32(model, work / "fp32.onnx")
                    fp32_onnx = work / "fp32.onnx"
                quant = export_onnx_int8(fp32_onnx, target, reference, calibration, work)
            elif kind == "tflite_fp32":
                export_tflite_fp32(model, target)
                quant = {"recipe": "none (fp32)"}
            elif kind == "tflite_int8":
                quant = export_tflite_int8(model, target, calibration)
            else:
                raise ValueError(f"unknown artifact kind {kind!r} (known: {', '.join(ARTIFACT_KINDS)})")
            manifest["artifacts"][kind] = {"file": target.name, "quantization": quant}
    manifest["artifacts"] = {k: manifest["artifacts"][k] for k in ARTIFACT_KINDS if k in manifest["artifacts"]}
    bw.write_manifest(bundle_dir, manifest)
    return manifest

