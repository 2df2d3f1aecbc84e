"""The converter's steps on a bundle directory: train → export → verify.

train_bundle writes the PyTorch weights, calm windows spread over the training and validation
rows (int8 calibration), runs of held-out test rows (verify: each inside one recording, none
labelled anomalous; convert.data.holdout_runs) and a manifest without
artifacts; export_bundle adds the four model files, calibrating int8 on the calm windows plus
anomaly-like copies of them (convert.perturb); convert.verify measures them. Each step reads
what the previous one wrote.
"""
from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.bundle import ARTIFACT_KINDS, load as load_bundle, verify_files
from agent.config import calibration_threshold
from agent.manifest import Artifact, Manifest, write as write_manifest
from agent.sources.simulate import SimulateConfig
from agent.scorers.forecast_error import BIAS_HALF_LIFE_TICKS
from agent.window import sliding_windows

from . import bundle_writer as bw
from .bundle_files import BUNDLE_FILES, TFLITE_INT8_RECIPES
from .data import Series, TrainingError, read_series, training_sources, window_starts
from .data_checks import calm_holdout_runs
from .export import (Calibration, export_onnx_fp32, export_onnx_int8, export_tflite_fp32, export_tflite_int8)
from .fold import FOLD_FORM, fold
from .model import neighbour_mask_from_config
from .provenance import raw_sample
from .perturb import KINDS as PERTURB_KINDS, MAGNITUDES as PERTURB_MAGNITUDES, floor_from_normalisation, perturb_context
from .quiet import third_party_output
from .train import ProgressLine, TrainOptions, TrainResult, predict, train
from .wander import MAX_WINDOWS as WANDER_MAX_WINDOWS, profile_wander

if TYPE_CHECKING:
    from agent.config import AgentConfig


@dataclasses.dataclass
class DataOptions:
    days: float | None = 6.0        # simulated days (simulate sources only)
    split: str = "auto"             # train | validation | test: "time", "recording" or "auto" (convert.data.split_by)
    seed: int | list[int] | None = 1001   # simulator seed for training data (None: the config's); a list: one
                                          # segment a seed (convert.data.training_sources)
    anomalies: str = "none"         # "none": disable simulated anomalies; "keep": as configured


def describe_source(src) -> dict:
    return {"type": src.TYPE, **dataclasses.asdict(src)}


def train_bundle(cfg: AgentConfig, out_dir: Path, options: TrainOptions, data: DataOptions, model_id: str,
                 series: Series | None = None) -> tuple[TrainResult, Manifest]:
    sources = training_sources(cfg, days=data.days, seed=data.seed, anomalies=data.anomalies)
    if series is None:
        series = read_series(cfg, sources, split=data.split)
    steps = cfg.window.steps
    runs = calm_holdout_runs(series, steps, bw.HOLDOUT_WINDOWS)
    result = train(series, steps, calibration_threshold(cfg.threshold), options, neighbour_mask_from_config(cfg))
    if not runs:
        raise TrainingError(f"no held-out window for verify: every recording's test part (its last 15 %, or the "
                            f"newest recording) is "
                            f"shorter than a window of {steps} ticks; train on longer recordings")

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in BUNDLE_FILES:           # the previous bundle's files go, not only those written again
        (out_dir / name).unlink(missing_ok=True)
    bw.save_weights(result.model, out_dir / bw.WEIGHTS_FILE)
    split = result.split
    cal_starts = calibration_starts(split.val_end, steps, segment=series.segment)
    windows, windows_missing = sliding_windows(result.z, result.missing, steps)
    bw.save_rows(out_dir / bw.CALIBRATION_FILE, windows[cal_starts], windows_missing[cal_starts])
    cal_hours = [round(float(series.ts[s + steps - 1] % 86400.0) / 3600.0, 2) for s in cal_starts]
    held = np.concatenate([np.arange(lo, hi) for lo, hi in runs])
    held_run = np.concatenate([np.full(hi - lo, k) for k, (lo, hi) in enumerate(runs)])
    bw.save_rows(out_dir / bw.HOLDOUT_FILE, result.z[held], result.missing[held])

    sensors = series.sensors
    line = ProgressLine(options.progress)
    if options.progress:        # said before it starts: a log (not a terminal) gets the progress line only at its end
        print(f"profile wander: forecasting each of the {split.train_end:,} training rows' windows once …"
              if split.train_end <= WANDER_MAX_WINDOWS else
              f"profile wander: forecasting at most {WANDER_MAX_WINDOWS:,} windows of stretches evenly spread over "
              f"the {split.train_end:,} training rows …", file=sys.stderr, flush=True)
    wander = profile_wander(lambda v, m: predict(result.model, v, m), sensors, result.z, result.missing,
                            series.anomalous, series.segment, split.train_end, steps, cfg.warmup.ticks,
                            cfg.scoring.profile.half_life_ticks,
                            progress=lambda done, total: line.show("profile wander: training windows forecast",
                                                                   done, total))
    line.end()
    manifest = bw.new_manifest(
        out_dir, model_id, sensors, result.spec, cfg.tick_s,
        files=[bw.WEIGHTS_FILE, bw.CALIBRATION_FILE, bw.HOLDOUT_FILE],
        normalisation=result.normaliser.to_manifest(sensors),
        residual_std={s: float(v) for s, v in zip(sensors, result.residual_std)},
        score=("per sensor max(|e_t|, |bias_t|), e = (newest − forecast) / residual_std signed, bias = EW mean "
               f"of e over the last {steps} ticks (half-life {BIAS_HALF_LIFE_TICKS:g} ticks, weights with "
               "sum of squares 1, unknown ticks 0); 0 when the newest value is missing; "
               "tick score = max over sensors"),
        threshold=result.threshold,
        model={"architecture": "spatio-temporal-forecaster", **result.spec.as_dict(),
               "parameters": result.summary["parameters"], "topology": cfg.topology,
               "neighbour_prior": "learned scale × (topology neighbours + self), added to spatial logits"},
        training={k: v for k, v in result.summary.items()},
        data={"sources": [describe_source(s) for s in sources],
              **({"days": data.days, "seed": data.seed, "anomalies": data.anomalies}       # the simulator's only
                 if any(isinstance(s, SimulateConfig) for s in sources) else {}),
              "carry_forward_s": cfg.window.carry_forward_s,
              "split": split.as_dict(),
              **({"split_by": series.split_by} if series.split_by != "time" else {}),     # time: as before
              # (one recording too: the warm-up on it is calibrated on its held-out rows by their times, review43)
              **({"segments": series.segments} if series.segments else {}),
              "calibration_windows": {
                  "file": "float16 (windows, steps, sensors) normalised values, NaN where missing",
                  "starts": [int(s) for s in cal_starts], "newest_row_hour_of_day_utc": cal_hours,
                  "spread": "evenly over training + validation rows [0, %d)" % split.val_end},
              **({"off_levels": series.off_levels} if series.off_levels else {}),
              "missing_share": {s: round(float(v), 6) for s, v in zip(sensors, series.missing.mean(axis=0))},
              "rejected": dict(series.rejected or {}),
              "holdout_rows": [runs[0][0], runs[-1][1]],
              "holdout_runs": [{"recording": recording_of(series, lo), "rows": [lo, hi]} for lo, hi in runs],
              "raw_sample": raw_sample(series.sensors, series.ts, series.raw, series.missing, held, held_run),
              "row_files": "float16 (rows, sensors) normalised values, NaN where missing"},
        profile_wander=wander)
    return result, write_manifest(out_dir, manifest)


def recording_of(series: Series, row: int) -> str:
    """The name of the recording a series row was read from (a replay file's, else 'sources')."""
    if series.segment is None or not series.segments:
        return "sources"
    return str(series.segments[int(series.segment[row])]["recording"])


def calibration_starts(rows: int, steps: int, count: int = bw.CALIBRATION_WINDOWS,
                       segment: np.ndarray | None = None) -> list[int]:
    """First rows of `count` windows spread evenly over rows [0, rows): every time of day; with
    segments, only windows inside one segment."""
    if rows < steps:
        raise ValueError(f"{rows} training + validation rows cannot fill a window of {steps} steps")
    starts = window_starts(segment, steps, 0, rows)
    return sorted({int(starts[i]) for i in np.linspace(0, len(starts) - 1, count).round().astype(int)})


def export_calibration(bundle) -> tuple[Calibration, dict]:
    """The bundle's calm calibration windows plus perturbed copies: what int8 must cover."""
    calm_v, calm_m = bw.load_windows(bundle.path / bw.CALIBRATION_FILE, bundle.steps, len(bundle.sensors))
    floor = floor_from_normalisation(bundle.normalisation, bundle.sensors)
    pert_v, pert_m, _ = perturb_context(calm_v, calm_m, floor, seed=bw.CALIBRATION_SEED,
                                        copies=bw.CALIBRATION_PERTURBED_COPIES)
    calibration = Calibration(np.concatenate([calm_v, pert_v]), np.concatenate([calm_m, pert_m]),
                              calm=len(calm_v))
    summary = {"calm_windows": len(calm_v), "perturbed_windows": len(pert_v),
               "perturbations": list(PERTURB_KINDS), "magnitudes": list(PERTURB_MAGNITUDES),
               "seed": bw.CALIBRATION_SEED,
               "why": "int8 activation ranges must cover incident-sized inputs (queues, spikes, "
                      "sensors dropping to 0), which calm training traffic never contains"}
    return calibration, summary


def export_artifact(kind: str, model, bundle_dir: Path, calibration: Calibration, reference: np.ndarray,
                    work: Path, tflite_limit: int | None = None, fp32_onnx: Path | None = None,
                    tflite_int8_recipes: tuple[str, ...] | None = None) -> tuple[Path, dict]:
    """Write one artifact kind of `model` into bundle_dir: (its path, its quantization record).

    onnx_int8 quantizes `fp32_onnx` — an fp32 export of this same `model` written in this run — or, without one,
    a fresh fp32 export in `work`: never a file found in the bundle directory. One there that the manifest does not
    list (a stopped export's, another model's) was quantized by `export --only onnx_int8` (qa41).
    `reference` is PyTorch's forecast of the calibration windows; `tflite_int8_recipes` the int8 candidates built
    (default: every one of TFLITE_INT8_RECIPES)."""
    if kind not in bw.ARTIFACT_FILES:
        raise ValueError(f"unknown artifact kind {kind!r} (known: {', '.join(ARTIFACT_KINDS)})")
    target = bundle_dir / bw.ARTIFACT_FILES[kind]
    if kind == "onnx_fp32":
        export_onnx_fp32(model, target)
        return target, {"recipe": "none (fp32)"}
    if kind == "onnx_int8":
        if fp32_onnx is None:
            fp32_onnx = work / "fp32.onnx"
            export_onnx_fp32(model, fp32_onnx)
        return target, export_onnx_int8(fp32_onnx, target, reference, calibration, work)
    if kind == "tflite_fp32":
        export_tflite_fp32(model, target)
        return target, {"recipe": "none (fp32)"}
    return target, export_tflite_int8(model, target, calibration, limit=tflite_limit, reference=reference,
                                      work_dir=work, recipes=tuple(tflite_int8_recipes or TFLITE_INT8_RECIPES))


def export_bundle(bundle_dir: Path, kinds: list[str] | None = None, log=print,
                  tflite_int8_recipes: tuple[str, ...] | None = None) -> Manifest:
    """Export the bundle's PyTorch model to the requested artifact kinds and record them. The artifacts it writes
    anew are not held to the manifest's hashes (every other listed file is): an export stopped halfway — Ctrl-C, a
    kill, a full disk — left them rewritten or cut short under the old hashes, and refused for them, the bundle
    could not be exported again (review34). In ARTIFACT_KINDS' order whatever `kinds` says: onnx_int8 quantizes
    the onnx_fp32 written in the same run, or without one a fresh fp32 export of its own, never a file that was in
    the directory before (qa41). `tflite_int8_recipes`: the TFLite int8 candidates to build (default: all of
    TFLITE_INT8_RECIPES; the manifest's `candidates` says how each did), the most accurate kept."""
    kinds = [k for k in ARTIFACT_KINDS if k in (kinds or ARTIFACT_KINDS)]
    bundle = load_bundle(bundle_dir, verify_hashes=False)
    manifest = bundle.manifest
    verify_files(bundle_dir, dataclasses.replace(
        manifest, artifacts={k: a for k, a in manifest.artifacts.items() if k not in kinds}))
    model = bw.load_model(bundle_dir, manifest)
    calibration, cal_summary = export_calibration(bundle)
    reference = predict(model, calibration.values, calibration.missing)
    folded = fold(model, calibration.values, calibration.missing)      # what every artifact is exported from
    artifacts = dict(manifest.artifacts)
    written: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="stad-export-") as tmp:
        for kind in kinds:
            log(f"exporting {kind} → {bw.ARTIFACT_FILES.get(kind, '?')}")
            with third_party_output():
                target, quant = export_artifact(kind, folded, bundle_dir, calibration, reference, Path(tmp),
                                                fp32_onnx=written.get("onnx_fp32"), tflite_int8_recipes=tflite_int8_recipes)
            written[kind] = target
            if kind in ("onnx_int8", "tflite_int8"):
                quant["calibration"] = cal_summary
            artifacts[kind] = Artifact.of(target, quant)
    artifacts = {k: artifacts[k] for k in ARTIFACT_KINDS if k in artifacts}
    model_section = dict(manifest.model or {}, exported_form=FOLD_FORM)
    return write_manifest(bundle_dir, dataclasses.replace(manifest, artifacts=artifacts, model=model_section))

