"""`stad-convert verify`: every artifact against the PyTorch model, on held-out windows.

The held-out windows are the bundle's own (holdout.npy, rows after validation that neither
training nor calibration saw; runs of consecutive rows, each inside one recording and with no
row labelled anomalous, listed in the manifest's data.holdout_runs — a bundle written before
has one run, whatever it crosses), in three groups:
- calm:      the held-out windows as they are;
- spiked:    a copy of each with a spike injected into one sensor of the newest row (0.5–2 ×
             the threshold in score units), so that the alert decision is tested on both sides
             of the threshold rather than only on calm data. The model never reads the newest
             row (it is the forecast target), so these test the scoring, not the model's inputs;
- perturbed: a copy of each with anomaly-like CONTEXT (convert.perturb: spikes, level shifts,
             drops to the sensor's floor, 2–24 standard deviations), the inputs an incident
             feeds the model. An int8 artifact whose activation ranges saturate fails here.

Tick scores are the agent's (forecast_error's combined statistic: max of the newest error and
the EW bias of the recent ticks' signed errors). Inside a run the held-out rows are consecutive,
so its calm windows are a time-ordered run of ticks: each runner's calm errors are the tick
history its bias sees, exactly as in the agent (a run starts with no history). A spiked or
perturbed window is a modified copy of calm window i, scored as if it had arrived at tick i:
its own newest error on top of the same runner's calm errors of the ticks before i. PyTorch and
every artifact are scored this way, each with its own forecasts, so a systematic int8 offset that
the bias accumulates is caught.
Each artifact runs in the gateway's own scorer (agent/scorers/onnx.py, tflite.py): what is
certified is what the gateway runs.

Per artifact and per group: max and RMS forecast error, correlation of tick scores, agreement
of the alert decision (tick score > threshold); latency per window (batch 1, one thread). An
int8 artifact passes when its alert agreement reaches the bound in EVERY group. Before any of it, the
manifest's sensors, tick_s, normalisation and holdout_rows are checked against the training
data's raw sample it carries (convert/provenance.py). Verifying is
read-only; with `write=True` (`stad-convert verify --record`, and `train`, which makes the bundle)
the figures go into the manifest under `parity` (and the manifest's hashes are refreshed).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from agent.bundle import Bundle, BundleError, PARITY_CURE, load as load_bundle, parity_failures, read_manifest
from agent.manifest import write as write_manifest
from agent.scorers.model_scorer import ModelScorer, ModelShapeError
from agent.scorers.forecast_error import combined_scores, rolling_bias, signed_errors

from . import bundle_writer as bw
from .data import unpack_rows, window_arrays
from .perturb import floor_from_normalisation, perturb_context
from .provenance import NOT_CHECKED, provenance_problems
from .runners import TorchRunner, run_all
from .show import parity_table

INT8_KINDS = ("onnx_int8", "tflite_int8")
# The manifest's residual_std is the forecast error's scale on validation rows; PyTorch's RMS error on
# the held-out rows after them is of the same order (0.4–1.0 × on the demo bundle, down to 0.1 × on a
# small test bundle whose validation days were busier). Beyond 1/100–100 × on a sensor with enough
# observed rows the manifest's scale is not this model's (hand-written, another bundle's, another unit
# or sensor order) and every score the agent computes is off by as much: only such gross mismatches fail.
RESIDUAL_BAND = 100.0
MIN_RESIDUAL_ROWS = 30
# Of the calm held-out windows, more than this share over the manifest's threshold: the threshold
# is not this model's (calibrated at a risk of ~1e-3, a real one raises a handful).
MAX_CALM_ALERT_SHARE = 0.5
# A held-out recording whose median (newest rows, per sensor) lies outside these quantiles of the
# calibration rows' (spread over training + validation) is named as at a level training did not see.
LEVEL_QUANTILES = (0.01, 0.99)
ONE_RUN = ("held-out windows of one run (bundle written before held-out rows were taken per recording): they may "
           "cross the joins between recordings and hold labelled rows")
SPIKE_SEED = 20260105
PERTURB_SEED = 20260106       # not export's calibration seed: verify tests perturbations export never saw


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


def tick_scores(values: np.ndarray, missing: np.ndarray, forecast: np.ndarray, residual: np.ndarray,
                groups: dict[str, slice], steps: int, runs: list[slice] | None = None) -> np.ndarray:
    """Tick scores of every window; the calm group is the tick history of every group (module doc),
    run by run (`runs`: the calm windows of each; the ticks before a run's first count as unknown)."""
    newest_missing = missing[:, -1, :] > 0.5
    errors = signed_errors(values[:, -1, :], newest_missing, forecast, residual)
    calm = groups["calm"]
    out = np.empty(len(values))
    for sl in groups.values():
        for run in runs or [slice(0, calm.stop - calm.start)]:
            cur = slice(sl.start + run.start, sl.start + run.stop)
            bias = rolling_bias(errors[calm.start + run.start:calm.start + run.stop], errors[cur], steps)
            out[cur] = combined_scores(errors[cur], bias, newest_missing[cur]).max(axis=1)
    return out


def residual_problems(values: np.ndarray, missing: np.ndarray, forecast: np.ndarray, residual: np.ndarray,
                      sensors: list[str]) -> list[str]:
    """Sensors whose held-out RMS forecast error is outside 1/RESIDUAL_BAND–RESIDUAL_BAND × the
    manifest's residual_std (calm windows, PyTorch's forecasts)."""
    observed = missing[:, -1, :] < 0.5
    out = []
    for s, name in enumerate(sensors):
        err = values[observed[:, s], -1, s] - forecast[observed[:, s], s]
        if err.size < MIN_RESIDUAL_ROWS:
            continue
        ratio = float(np.sqrt(np.mean(err.astype(np.float64) ** 2))) / float(residual[s])
        if not 1 / RESIDUAL_BAND <= ratio <= RESIDUAL_BAND:
            out.append(f"residual_std.{name}: {residual[s]:.4g}, but the model's RMS forecast error on the "
                       f"held-out rows is {ratio:.3g} × that")
    return out


@dataclasses.dataclass
class HeldOut:
    """The calm held-out windows and the runs of consecutive ticks they come in."""
    values: np.ndarray          # (n, T, N) normalised
    missing: np.ndarray         # (n, T, N) 1 = missing
    runs: list[slice]           # the windows of each run
    recordings: list[str] | None  # each run's recording; None: a bundle written before runs were stored


def held_out_windows(bundle_dir: Path, data: dict, steps: int) -> HeldOut:
    """holdout.npy's windows: per run of `data.holdout_runs` (no window across two), or for a bundle
    written before it, every window of its rows as one run (today's behaviour for such bundles)."""
    path = bundle_dir / bw.HOLDOUT_FILE
    runs = data.get("holdout_runs")
    if runs is None:
        values, missing = bw.load_windows(path, steps)
        return HeldOut(values, missing, [slice(0, len(values))], None)
    z, missing = unpack_rows(bw.load_rows(path))
    try:
        lengths = [int(r["rows"][1]) - int(r["rows"][0]) for r in runs]
        names = [str(r["recording"]) for r in runs]
    except (TypeError, KeyError, IndexError, ValueError):
        raise VerifyError(f"{bundle_dir / 'manifest.json'}: data.holdout_runs: expected a list of "
                          "{recording, rows: [first, end]}") from None
    if sum(lengths) != len(z) or min(lengths, default=0) < steps:
        raise VerifyError(f"{bundle_dir / 'manifest.json'}: data.holdout_runs: {len(lengths)} runs of {sum(lengths)} "
                          f"rows (shortest {min(lengths, default=0)}), but {bw.HOLDOUT_FILE} holds {len(z)} rows and "
                          f"a window is {steps}")
    edges = np.cumsum([0, *lengths])
    pieces = [window_arrays(z[a:b], missing[a:b], steps) for a, b in zip(edges[:-1], edges[1:])]
    counts = np.cumsum([0, *(len(v) for v, _ in pieces)])
    return HeldOut(np.concatenate([v for v, _ in pieces]), np.concatenate([m for _, m in pieces]),
                   [slice(int(a), int(b)) for a, b in zip(counts[:-1], counts[1:])], names)


def data_advice(bad: np.ndarray, held: HeldOut, bundle: Bundle, bundle_dir: Path) -> str | None:
    """One line on where the failing windows (`bad`, by calm window: it or a copy of it failed) came from, and which of those
    recordings' held-out levels lie outside the training and validation rows' (calibration.npy's sample):
    what the data can tell, nothing more. None for a bundle without runs or nothing failing."""
    if held.recordings is None or not bad.any():
        return None
    counts: dict[str, int] = {}
    for run, name in zip(held.runs, held.recordings):
        counts[name] = counts.get(name, 0) + int(bad[run].sum())
    failing = sorted((c, n) for n, c in counts.items() if c)[::-1]
    where = ", ".join(f"{n} ({c})" for c, n in failing[:3]) + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
    cal_v, cal_m = bw.load_windows(bundle_dir / bw.CALIBRATION_FILE, bundle.steps, len(bundle.sensors))
    cal_v, cal_m = cal_v.reshape(-1, cal_v.shape[-1]), cal_m.reshape(-1, cal_m.shape[-1]) > 0.5
    norm = bundle.normalisation
    off = []
    for _, name in failing:
        idx = np.concatenate([np.arange(r.start, r.stop) for r, n in zip(held.runs, held.recordings) if n == name])
        newest, newest_missing = held.values[idx, -1, :], held.missing[idx, -1, :] > 0.5
        for j, sensor in enumerate(bundle.sensors):
            seen, train_seen = newest[~newest_missing[:, j], j], cal_v[~cal_m[:, j], j]
            if not seen.size or not train_seen.size:
                continue
            lo, hi = np.quantile(train_seen, LEVEL_QUANTILES)
            level = float(np.median(seen))
            if not lo <= level <= hi:
                level, lo, hi = (z * norm.std[sensor] + norm.mean[sensor] for z in (level, lo, hi))   # as read
                off.append(f"{name}'s {sensor} (median {level:.4g}) lies outside the training and validation "
                           f"rows' {lo:.4g}–{hi:.4g}")
                break
    line = f"why it may be the data: the failing windows come from held-out rows of {where}"
    if not off:
        return line + "; their levels lie inside the training and validation rows' (1–99 % of calibration.npy's)"
    return (line + "; " + "; ".join(off[:2]) + " (1–99 % of calibration.npy's): an operating point not in training "
            "— train on recordings of it, or leave them out")


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


def verify_windows(values: np.ndarray, missing: np.ndarray, residual: np.ndarray, threshold: float,
                   floor: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, slice]]:
    """The held-out windows, their newest-row spiked copies and their perturbed-context copies."""
    spiked, spiked_missing = with_spikes(values, missing, residual, threshold)
    perturbed, perturbed_missing, _ = perturb_context(values, missing, floor, seed=PERTURB_SEED)
    n = len(values)
    groups = {"calm": slice(0, n), "spiked": slice(n, 2 * n), "perturbed": slice(2 * n, 3 * n)}
    return (np.concatenate([values, spiked, perturbed]), np.concatenate([missing, spiked_missing, perturbed_missing]),
            groups)


def verify_bundle(bundle_dir: Path, min_agreement: float = 0.99, write: bool = False, log=print) -> tuple[bool, dict]:
    try:
        bundle = load_bundle(bundle_dir)
    except BundleError as exc:
        raise VerifyError(str(exc)) from None
    manifest = bundle.manifest
    steps, n = bundle.steps, len(bundle.sensors)
    try:
        model = bw.load_model(bundle_dir, manifest)
        lies = provenance_problems(manifest, bw.load_rows(bundle_dir / bw.HOLDOUT_FILE))
    except BundleError as exc:
        raise VerifyError(str(exc)) from None
    if lies:
        raise VerifyError(f"{bundle_dir / 'manifest.json'}: the manifest is not its training data's: "
                          + "; ".join(lies))
    if lies is None:
        log(f"note: {NOT_CHECKED}")
    held = held_out_windows(bundle_dir, manifest.data if isinstance(manifest.data, dict) else {}, steps)
    if held.recordings is None:
        log(f"note: {ONE_RUN}")
    values, missing = held.values, held.missing
    if values.shape[1:] != (steps, n):
        raise VerifyError(f"{bw.HOLDOUT_FILE}: windows of shape {values.shape[1:]}, expected ({steps}, {n})")
    residual = bundle.residual_std()
    threshold = float(bundle.threshold["value"])
    floor = floor_from_normalisation(bundle.normalisation, bundle.sensors)
    values, missing, groups = verify_windows(values, missing, residual, threshold, floor)

    torch_runner = TorchRunner(model)
    try:
        reference, torch_ms = run_all(torch_runner, values, missing)
    except RuntimeError as exc:     # weights that load but do not fit the windows the manifest describes
        raise VerifyError(f"{bundle_dir / bw.WEIGHTS_FILE}: does not run on the manifest's windows ({steps} steps × "
                          f"{n} sensors): {exc}") from None
    ref_scores = tick_scores(values, missing, reference, residual, groups, steps, held.runs)
    held_out = groups["calm"].stop
    calm = groups["calm"]
    problems = residual_problems(values[calm], missing[calm], reference[calm], residual, bundle.sensors)
    share = float(np.mean(ref_scores[calm] > threshold))
    if share > MAX_CALM_ALERT_SHARE:
        problems.append(f"threshold.value: {threshold:.4g}, over which PyTorch's own scores put {share:.0%} of the "
                        f"calm held-out windows")
    if problems:
        advice = data_advice(ref_scores[calm] > threshold, held, bundle, bundle_dir) if share > MAX_CALM_ALERT_SHARE \
            else None
        raise VerifyError(f"{bundle_dir / 'manifest.json'}: the manifest's numbers are not this model's: "
                          + "; ".join(problems) + (f"\n{advice}" if advice else ""))
    parity = {"windows": int(len(values)), "held_out_windows": held_out, "spiked_windows": held_out,
              "perturbed_windows": held_out, "threshold": threshold, "min_int8_agreement": min_agreement,
              "groups": {"calm": "held-out windows as they are",
                         "spiked": "one newest-row reading pushed 0.5-2 x threshold (the forecast target)",
                         "perturbed": "anomaly-like context rows (convert.perturb: spike, level shift, floor drop; "
                                      "2-24 std)"},
              "alerts_reference": {g: int((ref_scores[sl] > threshold).sum()) for g, sl in groups.items()},
              "pytorch": latency_figures(torch_ms)}
    ok = True
    disagree = np.zeros(held_out, bool)        # calm window i, or a spiked / perturbed copy of it, failed
    for kind in bundle.artifact_kinds():
        path = bundle.artifact_path(kind)
        try:
            forecast, ms = run_all(agent_scorer(bundle, kind), values, missing)
        except ModelShapeError as exc:
            raise VerifyError(f"shape error: {exc} (the manifest: {steps} steps × {n} sensors)") from None
        except Exception as exc:   # a runtime refusing the model: report which file and why
            raise VerifyError(f"{path}: {kind} failed to run: {type(exc).__name__}: {exc}") from None
        if forecast.shape != reference.shape:
            raise VerifyError(f"{path}: shape error: forecast has shape {forecast.shape[1:]}, expected ({n},)")
        scores = tick_scores(values, missing, forecast, residual, groups, steps, held.runs)
        figures = compare(reference, forecast, ref_scores, scores, threshold)
        figures.update(latency_figures(ms))
        figures["bytes"] = path.stat().st_size
        figures["groups"] = {g: compare(reference[sl], forecast[sl], ref_scores[sl], scores[sl], threshold)
                             for g, sl in groups.items()}
        parity[kind] = figures
        if kind in INT8_KINDS:
            for g, f in figures["groups"].items():
                if f["alert_agreement"] < min_agreement:
                    ok = False
                    sl = groups[g]
                    disagree |= (scores[sl] > threshold) != (ref_scores[sl] > threshold)
                    log(f"FAIL {kind}: alert agreement on {g} windows {f['alert_agreement']:.4f} < {min_agreement} "
                        f"(forecast RMS error {f['forecast_rms_error']:.4f}, score r {f['score_correlation']:.4f})")
    parity["passed"] = ok
    advice = None if ok else data_advice(disagree, held, bundle, bundle_dir)
    if advice:
        log(f"{advice} (PyTorch's own scores put {share:.0%} of the calm held-out windows over the threshold)")
    if write:
        write_manifest(bundle_dir, dataclasses.replace(manifest, parity=parity))
    return ok, parity


def after_failure(bundle_dir: Path, parity: dict, recorded: bool) -> str:
    """What a failed verify leaves to do, in one line: which artifacts a gateway runs instead (agent/bundle.py's
    rule for a failed parity, which `--record` writes: the failing int8 ones are left out) and the bound under which
    these figures would pass. user29: a retrain on one more recording ended `verify: FAILED (int8 alert agreement
    below 0.99)`, exit 1, without the gateway keys — whether the bundle could be deployed at all, and how, was in
    README's troubleshooting alone."""
    worst = min(f["alert_agreement"] for kind in INT8_KINDS if isinstance(parity.get(kind), dict)
                for f in parity[kind]["groups"].values())
    accept = f"stad-convert verify --record --min-agreement {math.floor(worst * 100) / 100:.2f} {bundle_dir}"
    if not recorded:
        return (f"not recorded: the manifest keeps its last parity; `stad-convert verify --record {bundle_dir}` writes "
                f"this failure, and a gateway then leaves the failing int8 artifacts out and runs the others; or accept "
                f"these figures: {accept}")
    manifest = read_manifest(bundle_dir)
    failed, runs = parity_failures(manifest), _runnable(manifest)
    if not runs:
        return (f"every artifact failed: a gateway refuses this bundle (check-config and `run` exit 2); "
                f"{PARITY_CURE.split(', or ')[0]} (another --seed; --members 2 --ema-decay 0.99), or accept these "
                f"figures: {accept}")
    return (f"a gateway can run this bundle: it leaves {', '.join(failed)} out and runs "
            f"{', '.join(runs)} instead (check-config and `run` say so in a note); for int8 on the gateway, train "
            f"again (another --seed; --members 2 --ema-decay 0.99) or accept these figures: {accept}")


def usable_after_failure(bundle_dir: Path) -> bool:
    """The bundle's recorded parity failed (not a verify that could not run) and it still has an artifact a gateway
    runs (agent/bundle.py)."""
    manifest = read_manifest(bundle_dir)
    failed = isinstance(manifest.parity, dict) and manifest.parity.get("passed") is False
    return failed and bool(_runnable(manifest))


def _runnable(manifest) -> list[str]:
    """The artifacts a gateway runs from this manifest: those its recorded parity did not fail (agent/bundle.py)."""
    failed = parity_failures(manifest)
    return [k for k in manifest.artifact_kinds() if k not in failed]


def agent_scorer(bundle: Bundle, kind: str) -> ModelScorer:
    """The gateway's own scorer for one artifact (agent/scorers/onnx.py, tflite.py: the same session
    options, the same verified bytes, the same input quantisation): verify certifies what runs."""
    from agent.scorers.onnx import OnnxScorer
    from agent.scorers.tflite import TfliteScorer
    scorer = next(c for c in (OnnxScorer, TfliteScorer) if kind in c.ARTIFACTS)
    return scorer(bundle, kind=kind, threads=1)


def verify_and_report(bundle: Path, min_agreement: float, tar: bool = False, record: bool = False,
                      log=print) -> int:
    """Verify a bundle and print the parity table; `record` writes the figures into its manifest."""
    try:
        ok, parity = verify_bundle(bundle, min_agreement=min_agreement, write=record, log=log)
    except (VerifyError, BundleError) as exc:      # BundleError: a stored file read on the way (bundle_writer)
        log(f"verify failed: {exc}")
        return 1
    print(parity_table(parity))
    print("verify: " + ("passed" if ok else f"FAILED (int8 alert agreement below {min_agreement})"))
    if not ok:
        log(after_failure(bundle, parity, record))
    if tar:
        tar_path = bundle.with_suffix(".tar")
        bw.write_tar(bundle, tar_path)
        print(f"wrote {tar_path}")
    return 0 if ok else 1
