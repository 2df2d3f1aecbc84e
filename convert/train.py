"""Self-supervised training: forecast the newest row of every window from the rows before it.

Seeded and deterministic (same data, seed and thread count → same weights). Early stopping on
validation loss; the best epoch's weights are kept. Calibration then runs on the validation
windows: per-sensor residual scale, then the threshold via agent.threshold.calibrate on the
tick scores that agent.scorers.forecast_error would produce at run time — the combined
statistic max(|newest error|, |EW bias of the recent ticks' signed errors|), computed over the
validation windows in time order (one window per tick, as the agent scores them).
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from agent.scorers.base import tick_score
from agent.scorers.forecast_error import residual_std, run_scores, signed_errors
from agent.threshold import calibrate
from agent.window import Normaliser

from .data import Series, TimeSplit, TrainingError, Windows
from .data_checks import (checked_windows, minimum_calibration_ticks, minimum_data_text, naive_mse, target_weights,
                          warn_flat_sensors)
from .model import EnsembleForecaster, ModelSpec, build_model, parameter_count
from .train_options import TrainOptions  # noqa: F401 (the trainer's options; importers' name)

log = logging.getLogger("stad.convert")


@dataclass
class TrainResult:
    model: torch.nn.Module            # a SpatioTemporalForecaster, or an EnsembleForecaster of them
    spec: ModelSpec
    normaliser: Normaliser
    residual_std: np.ndarray          # (N,)
    threshold: dict
    split: TimeSplit
    z: np.ndarray                     # (n, N) float32 normalised rows
    missing: np.ndarray               # (n, N) bool
    summary: dict = field(default_factory=dict)


class ProgressLine:
    """One stderr line rewritten with '\\r': no dependency, quiet when not wanted. When stderr is not a
    terminal (`2> train.log`, a CI job, nohup) the '\\r' rewrites and the erase-line escape would pile up in
    the file (hundreds of fragments an epoch, user11): there each `end` writes the last line shown once,
    plainly — one line an epoch."""

    def __init__(self, enabled: bool, width: int = 24, every_s: float = 0.2):
        self.enabled = enabled
        self.width = width
        self.every_s = every_s
        self._last = 0.0
        self._pending = ""          # not a terminal: the line `end` writes

    @staticmethod
    def _terminal() -> bool:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())

    def show(self, label: str, done: int, total: int, extra: str = "") -> None:
        if not self.enabled:
            return
        if not self._terminal():
            self._pending = f"{label} {done}/{total} {extra}".rstrip()
            return
        now = time.monotonic()
        if done < total and now - self._last < self.every_s:
            return
        self._last = now
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(f"\r{label} [{bar}] {done}/{total} {extra}\x1b[K")
        sys.stderr.flush()

    def end(self) -> None:
        if not self.enabled:
            return
        if self._terminal():
            sys.stderr.write("\n")
        elif self._pending:
            sys.stderr.write(self._pending + "\n")
        else:
            return
        self._pending = ""
        sys.stderr.flush()


class WeightAverage:
    """An exponential moving average of a model's weights over the optimiser's steps
    (ema ← d·ema + (1 − d)·w after every step): the weights a run ends on then depend less on
    its last few batches, so bundles trained with different seeds sit closer together."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for mine, theirs in zip(self.model.parameters(), model.parameters()):
            mine.mul_(self.decay).add_(theirs.detach(), alpha=1.0 - self.decay)
        for mine, theirs in zip(self.model.buffers(), model.buffers()):
            mine.copy_(theirs)


def masked_mse(forecast: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return ((forecast - target) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)


def predict(model: torch.nn.Module, values: np.ndarray, missing: np.ndarray,
            batch_size: int = 1024) -> np.ndarray:
    """(n, N) forecasts of the newest rows, in eval mode, no gradients."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(values), batch_size):
            f, _, _ = model(torch.from_numpy(values[i:i + batch_size]), torch.from_numpy(missing[i:i + batch_size]))
            out.append(f.numpy())
    return np.concatenate(out) if out else np.zeros((0, values.shape[-1]), np.float32)


def model_mse(forecast: np.ndarray, w: Windows) -> float:
    weight = target_weights(w)
    err = (w.values[:, -1, :] - forecast) ** 2
    return float((err * weight).sum() / max(weight.sum(), 1.0))


def seed_everything(seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def train(series: Series, steps: int, threshold_cfg, options: TrainOptions,
          neighbour_mask: np.ndarray | None = None, split: TimeSplit | None = None) -> TrainResult:
    problems = options.problems()
    if problems:
        raise TrainingError("; ".join(problems))
    seed_everything(options.seed, options.threads)
    started = time.monotonic()
    checked = checked_windows(series, steps, split)
    split, normaliser, z, train_w, val_w = checked.split, checked.normaliser, checked.z, checked.train_w, checked.val_w
    warn_flat_sensors(series.sensors, series.raw[:split.train_end][~series.anomalous[:split.train_end]])

    spec = ModelSpec(sensors=len(series.sensors), steps=steps, d_model=options.d_model,
                     heads=options.heads, ff_hidden=options.ff_hidden, members=options.members)
    fits = []
    for i in range(options.members):         # each member its own run: seed, seed + 1, ...
        member_options = dataclasses.replace(options, seed=options.seed + i)
        if i:
            seed_everything(member_options.seed, options.threads)
        label = f"member {i + 1}/{options.members} " if options.members > 1 else ""
        fits.append(fit_member(spec.member(), neighbour_mask, train_w, val_w, member_options, label))
    if options.members > 1:
        model = EnsembleForecaster(spec, members=[f["model"] for f in fits]).eval()
    else:
        model = fits[0]["model"]

    val_forecast = predict(model, val_w.values, val_w.missing)
    scale, tick_scores = calibration_scores(val_w, val_forecast, steps)
    threshold, calibrated_on = calibrate_threshold(model, train_w, scale, tick_scores, steps, threshold_cfg)

    first = fits[0]
    summary = {
        "epochs_run": sum(f["epochs_run"] for f in fits), "best_epoch": first["best_epoch"],
        "stopped_early": all(f["stopped_early"] for f in fits),
        "train_loss": float(np.mean([f["train_loss"] for f in fits])) if all(
            f["train_loss"] is not None for f in fits) else None,
        "val_loss": model_mse(val_forecast, val_w),
        "val_mse_naive_repeat_last": naive_mse(val_w),
        "val_mse_model": model_mse(val_forecast, val_w),
        "train_windows": len(train_w), "val_windows": len(val_w),
        "val_tick_score_p50": float(np.quantile(tick_scores, 0.5)),
        "val_tick_score_p99": float(np.quantile(tick_scores, 0.99)),
        "val_share_above_threshold": float(np.mean(tick_scores > threshold["value"])),
        "parameters": parameter_count(model),
        "seconds": round(time.monotonic() - started, 1),
        "history": first["history"],
        "options": {k: v for k, v in asdict(options).items() if k != "progress"},
    }
    if options.members > 1:
        summary["members"] = [{k: f[k] for k in ("seed", "epochs_run", "best_epoch", "val_loss", "history")}
                              for f in fits]
    if calibrated_on != "validation":
        summary["threshold_calibrated_on"] = calibrated_on
    check_trained(summary, threshold)
    return TrainResult(model=model, spec=spec, normaliser=normaliser, residual_std=scale, threshold=threshold,
                       split=split, z=z, missing=series.missing, summary=summary)


def fit_member(spec: ModelSpec, neighbour_mask: np.ndarray | None, train_w: Windows, val_w: Windows,
               options: TrainOptions, label: str = "") -> dict:
    """One forecaster trained from options.seed, early-stopped on validation loss; the best epoch's
    weights (of the moving average, with ema_decay) kept. The caller has seeded torch."""
    model = build_model(spec, neighbour_mask)
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    rng = np.random.default_rng(options.seed)
    progress = ProgressLine(options.progress)

    train_target = target_weights(train_w)
    averaged = WeightAverage(model, options.ema_decay) if options.ema_decay > 0 else None
    judged = averaged.model if averaged else model      # the weights validated, kept and shipped
    best = (math.inf, 0, copy.deepcopy(judged.state_dict()))
    history = []
    epoch = 0
    for epoch in range(1, options.epochs + 1):
        model.train()
        order = rng.permutation(len(train_w))
        if options.windows_per_epoch:
            order = order[:options.windows_per_epoch]
        batches = range(0, len(order), options.batch_size)
        total, seen = 0.0, 0
        for b, start in enumerate(batches):
            idx = np.sort(order[start:start + options.batch_size])
            values, missing = train_w.values[idx], train_w.missing[idx]
            values, missing = hide_context(values, missing, options.missing_augment, rng)
            forecast, _, _ = model(torch.from_numpy(values), torch.from_numpy(missing))
            loss = masked_mse(forecast, torch.from_numpy(train_w.values[idx, -1, :]),
                              torch.from_numpy(train_target[idx]))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            if averaged:
                averaged.update(model)
            total += loss.item() * len(idx)
            seen += len(idx)
            progress.show(f"{label}epoch {epoch:>3}/{options.epochs}", b + 1, len(batches),
                          f"loss {total / seen:.4f}")
        val_loss = model_mse(predict(judged, val_w.values, val_w.missing), val_w)
        history.append({"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": val_loss})
        progress.show(f"{label}epoch {epoch:>3}/{options.epochs}", len(batches), len(batches),
                      f"loss {total / max(seen, 1):.4f} val {val_loss:.4f}")
        progress.end()
        if val_loss < best[0] - 1e-6:
            best = (val_loss, epoch, copy.deepcopy(judged.state_dict()))
        elif epoch - best[1] >= options.patience:
            break
    judged.load_state_dict(best[2])
    judged.eval()
    return {"model": judged, "seed": options.seed, "epochs_run": epoch, "best_epoch": best[1],
            "stopped_early": epoch < options.epochs, "val_loss": best[0], "history": history,
            "train_loss": history[best[1] - 1]["train_loss"] if best[1] else None}


def calibrate_threshold(model, train_w: Windows, scale: np.ndarray, val_scores: np.ndarray, steps: int,
                        threshold_cfg) -> tuple[dict, str]:
    """POT on the validation tick scores; on training + validation pooled when validation alone has
    fewer than data_checks.MIN_CALIBRATION_PEAKS peaks (a short stream); TrainingError when both are too few."""
    enough = minimum_calibration_ticks(threshold_cfg.init_quantile)
    if len(val_scores) >= enough:
        return calibrate(val_scores, threshold_cfg), "validation"
    train_scores = calibration_scores(train_w, predict(model, train_w.values, train_w.missing), steps,
                                      scale=scale)[1]
    pooled = np.concatenate([train_scores, val_scores])
    if len(pooled) < enough:
        raise TrainingError(f"too little data to calibrate a threshold: {len(pooled)} scored ticks; "
                            + minimum_data_text(steps, threshold_cfg.init_quantile))
    return calibrate(pooled, threshold_cfg), f"training + validation pooled (validation: {len(val_scores)} ticks)"


def check_trained(summary: dict, threshold: dict) -> None:
    """Refuse what would ship a useless bundle: a zero/non-finite threshold, or a model no better
    than repeating the last value on validation."""
    value = threshold.get("value")
    if value is None or not math.isfinite(value) or value <= 0:
        raise TrainingError(f"the threshold calibrated to {value!r}: the validation scores are degenerate "
                            f"(p50 {summary['val_tick_score_p50']:.3g}, p99 {summary['val_tick_score_p99']:.3g})")
    model_mse, naive = summary["val_mse_model"], summary["val_mse_naive_repeat_last"]
    if not math.isfinite(model_mse) or model_mse >= naive:
        raise TrainingError(f"the model is no better than repeating the last value on validation "
                            f"(MSE {model_mse:.4g} vs {naive:.4g}): more data, more epochs, or a longer window")


def calibration_scores(w: Windows, forecast: np.ndarray, steps: int,
                       scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(residual_std (N,), tick scores of the usable windows) for time-ordered consecutive windows.

    The residual scale comes from the usable windows' point errors (or is given). The tick scores
    are the agent's: forecast_error.run_scores over the windows in order, the bias spanning the
    window's `steps` ticks, restarted at every segment (a new recording: the agent starts again).
    A window whose newest row is labelled anomalous is not scored, and its error
    counts as 0 in the bias of the ticks after it (as an unknown tick does at run time), so the
    threshold is fitted to normal behaviour only — e.g. the rows after a stitch between two
    recordings, which the agent never scores, do not leak into the following ticks' bias.
    """
    usable = w.usable
    newest, newest_missing = w.values[:, -1, :], w.missing[:, -1, :] > 0.5
    if scale is None:
        scale = residual_std(newest[usable], newest_missing[usable], forecast[usable])
    errors = signed_errors(newest, newest_missing | ~usable[:, None], forecast, scale)
    segment = np.zeros(len(w), int) if w.segment is None else w.segment
    cuts = np.flatnonzero(np.diff(segment)) + 1
    per_sensor = np.concatenate([run_scores(e, m, steps) for e, m in
                                 zip(np.split(errors, cuts), np.split(newest_missing, cuts))])[usable]
    return scale, np.array([tick_score(row) for row in per_sensor])


def hide_context(values: np.ndarray, missing: np.ndarray, share: float, rng: np.random.Generator):
    """Mark a random share of context readings (not the target row) missing, as a gap would."""
    if share <= 0:
        return values, missing
    hide = rng.random(values.shape, dtype=np.float32) < share
    hide[:, -1, :] = False
    return np.where(hide, 0.0, values).astype(np.float32), np.where(hide, 1.0, missing).astype(np.float32)


def summary_text(summary: dict, threshold: dict | None = None, tick_s: float | None = None) -> str:
    """The lines `stad-convert train` prints; with the calibrated `threshold` (and the tick), also
    the share of validation ticks — normal data — above it: a threshold calibrated badly (a `risk`
    near its 0.2 bound, too few peaks) shows here as alarms on normal data, before deployment."""
    naive, mse = summary["val_mse_naive_repeat_last"], summary["val_mse_model"]
    lower = (1.0 - mse / naive) * 100.0 if naive > 0 else 0.0
    members = "".join(f"\n  member seed {m['seed']}: {m['epochs_run']} epochs (best {m['best_epoch']}), "
                      f"validation loss {m['val_loss']:.4f}" for m in summary.get("members", []))
    return (f"trained {summary['epochs_run']} epochs (best {summary['best_epoch']}"
            f"{', stopped early' if summary['stopped_early'] else ''}) in {summary['seconds']} s, "
            f"{summary['parameters']} parameters\n"
            f"  train loss {summary['train_loss']:.4f}   validation loss {summary['val_loss']:.4f}\n"
            f"  validation MSE: model {mse:.4f}   repeat-last-value baseline {naive:.4f}   ({lower:.1f}% lower)\n"
            f"  validation tick score p50 {summary['val_tick_score_p50']:.2f}  p99 {summary['val_tick_score_p99']:.2f}"
            + _threshold_line(summary, threshold, tick_s) + members)


def _threshold_line(summary: dict, threshold: dict | None, tick_s: float | None) -> str:
    share = summary.get("val_share_above_threshold")
    if threshold is None or share is None:
        return ""
    per_hour = f" (about {share * 3600.0 / tick_s:.0f} ticks an hour)" if tick_s else ""
    return (f"\n  threshold {threshold['value']:.3f} ({threshold.get('method')}, risk {threshold.get('risk')}): "
            f"{100.0 * share:.2f} % of the validation ticks, normal data, score above it{per_hour}")
