"""`stad-convert verify`: every artifact against the PyTorch model, on held-out windows.

The held-out windows are the bundle's own (holdout.npy, rows after validation that neither
training nor calibration saw), plus a copy of each with a spike injected into one sensor of
the newest row (0.5–2 × the threshold in score units), so that the alert decision is tested
on both sides of the threshold rather than only on calm data.

Per artifact: max and RMS forecast error, correlation of tick scores, agreement of the alert
decision (tick score > threshold), latency per window (batch 1, one thread). The figures go
into the manifest under `parity` (and the manifest's hashes are refreshed).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from agent.bundle import BundleError, load as load_bundle
from agent.scorers.forecast_error import sensor_scores

from . import bundle_writer as bw
from .runners import ShapeMismatch, TorchRunner, check_input_shape, open_runner

INT8_KINDS = ("onnx_int8", "tflite_int8")
SPIKE_SEED = 20260105


class VerifyError(RuntimeError):
    """The bundle cannot be verified: tampered, inconsistent, or a model that does not run."""


def with_spikes(values: np.ndarray, missing: np.ndarray, residual: np.ndarray, threshold: float):
    """A copy of every window with one observed newest reading pushed off by 0.5–2 × threshold."""
    rng = np.random.default_rng(SPIKE_SEED)
    spiked = values.copy()
    n, _, sensors = values.shape
    for i in range(n):
        observed = np.flatnonzero(missing[i, -1] < 0.5)
        if observed.size == 0:
            continue
        s = int(rng.choice(observed))
        size = rng.uniform(0.5, 2.0) * threshold * residual[s] * rng.choice([-1.0, 1.0])
        spiked[i, -1, s] += np.float32(size)
    return spiked, missing.copy()


def run_all(runner, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts (n, N) and per-window latencies (n,) in ms, batch 1."""
    forecasts, times = [], []
    for i in range(len(values)):
        v, m = values[i:i + 1], missing[i:i + 1]
        t0 = time.perf_counter()
        out = runner.run(v, m)
        times.append((time.perf_counter() - t0) * 1e3)
        forecasts.append(np.asarray(out[0]).reshape(-1))
    return np.stack(forecasts), np.array(times)


def tick_scores(values: np.ndarray, missing: np.ndarray, forecast: np.ndarray, residual: np.ndarray) -> np.ndarray:
    return sensor_scores(values[:, -1, :], missing[:, -1, :] > 0.5, forecast, residual).max(axis=1)


def latency_figures(ms: np.ndarray) -> dict:
    return {"latency_ms_p50": round(float(np.quantile(ms, 0.5)), 4),
            "latency_ms_p99": round(float(np.quantile(ms, 0.99)), 4)}


def compare(reference: np.ndarray, forecast: np.ndarray, ref_scores: np.ndarray, scores: np.ndarray,
            threshold: float) -> dict:
    err = forecast - reference
    corr = float(np.corrcoef(ref_scores, scores)[0, 1]) if np.std(ref_scores) > 0 and np.std(scores) > 0 else 1.0
    return {"forecast_max_abs_error": float(np.abs(err).max()),
            "forecast_rms_error": float(np.sqrt(np.mean(err ** 2))),
            "score_correlation": corr,
            "alert_agreement": float(np.mean((scores > threshold) == (ref_scores > threshold))),
            "alerts_reference": int((ref_scores > threshold).sum()), "alerts": int((scores > threshold).sum())}


def verify_bundle(bundle_dir: Path, min_agreement: float = 0.99, write: bool = True, log=print) -> tuple[bool, dict]:
    try:
        bundle = load_bundle(bundle_dir)
    except BundleError as exc:
        raise VerifyError(str(exc)) from None
    manifest = bundle.manifest
    steps, n = bundle.steps, len(bundle.sensors)
    try:
        model = bw.load_model(bundle_dir, manifest)
    except (RuntimeError, KeyError) as exc:
        raise VerifyError(f"{bundle_dir / bw.WEIGHTS_FILE}: does not match the manifest's model: {exc}") from None
    values, missing = bw.load_windows(bundle_dir / bw.HOLDOUT_FILE, steps)
    if values.shape[1:] != (steps, n):
        raise VerifyError(f"{bw.HOLDOUT_FILE}: windows of shape {values.shape[1:]}, expected ({steps}, {n})")
    residual = bundle.residual_std()
    threshold = float(bundle.threshold["value"])
    spiked, spiked_missing = with_spikes(values, missing, residual, threshold)
    values = np.concatenate([values, spiked])
    missing = np.concatenate([missing, spiked_missing])

    torch_runner = TorchRunner(model)
    reference, torch_ms = run_all(torch_runner, values, missing)
    ref_scores = tick_scores(values, missing, reference, residual)
    parity = {"windows": int(len(values)), "held_out_windows": int(len(values) // 2),
              "spiked_windows": int(len(values) // 2), "threshold": threshold, "min_int8_agreement": min_agreement,
              "pytorch": latency_figures(torch_ms)}
    ok = True
    for kind in bundle.artifact_kinds():
        path = bundle.artifact_path(kind)
        try:
            runner = open_runner(kind, path)
            check_input_shape(runner, steps, n)
            forecast, ms = run_all(runner, values, missing)
        except ShapeMismatch as exc:
            raise VerifyError(f"{path}: shape error: {exc}") from None
        except Exception as exc:   # a runtime refusing the model: report which file and why
            raise VerifyError(f"{path}: {kind} failed to run: {type(exc).__name__}: {exc}") from None
        if forecast.shape != reference.shape:
            raise VerifyError(f"{path}: shape error: forecast has shape {forecast.shape[1:]}, expected ({n},)")
        figures = compare(reference, forecast, ref_scores, tick_scores(values, missing, forecast, residual), threshold)
        figures.update(latency_figures(ms))
        figures["bytes"] = path.stat().st_size
        parity[kind] = figures
        if kind in INT8_KINDS and figures["alert_agreement"] < min_agreement:
            ok = False
            log(f"FAIL {kind}: alert agreement {figures['alert_agreement']:.4f} < {min_agreement}")
    parity["passed"] = ok
    if write:
        manifest["parity"] = parity
        bw.write_manifest(bundle_dir, manifest)
    return ok, parity


def parity_table(parity: dict) -> str:
    rows = [f"{'artifact':<12} {'bytes':>8} {'max err':>9} {'rms err':>9} {'score r':>8} {'agree':>7} "
            f"{'p50 ms':>8} {'p99 ms':>8}",
            f"{'pytorch':<12} {'':>8} {'':>9} {'':>9} {'':>8} {'':>7} "
            f"{parity['pytorch']['latency_ms_p50']:>8.3f} {parity['pytorch']['latency_ms_p99']:>8.3f}"]
    for kind in ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8"):
        f = parity.get(kind)
        if f:
            rows.append(f"{kind:<12} {f['bytes']:>8} {f['forecast_max_abs_error']:>9.5f} {f['forecast_rms_error']:>9.5f} "
                        f"{f['score_correlation']:>8.5f} {f['alert_agreement']:>7.4f} "
                        f"{f['latency_ms_p50']:>8.3f} {f['latency_ms_p99']:>8.3f}")
    return "\n".join(rows)
