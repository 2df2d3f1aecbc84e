"""What the two model runtimes (tflite, onnx) share: bundle checks, and outputs → TickScore.

A runtime module only opens its artifact and runs it; everything else is here:
- the bundle is verified against the agent's config before the first tick, once for all tiers
  (load_tiers in agent/scorers/__init__.py → agent/bundle.py: every file's sha256, format
  version, sensors and their order, T, tick);
- `check_io` compares the names and shapes the runtime reports with what the agent feeds
  and reads, and refuses the artifact with a message naming each difference;
- `ModelScorer.score` turns the model's forecast into per-sensor scores with forecast_error's
  combined statistic, max(|newest error|, |EW bias of the recent ticks' signed errors|) (the
  converter calibrated the threshold with the same functions over its time-ordered validation
  ticks), and its attention into the explanation weights;
- with `scoring.profile` on, `fit_profile` (called by the pipeline at warm-up) refits on this
  plant the forecast-error scale and mean, and a normal profile of the forecast levels
  (profile.py); `score` then takes per sensor the max of that statistic and the distance from the
  profile, and the pipeline calibrates this tier's threshold on its own warm-up scores;
- with `scoring.profile.scale_half_life_ticks` H > 0, `learn` (the detector calls it on calm ticks)
  lets each sensor's forecast-error scale follow that tick's error: scale² ← scale² + (1 − 2^(−1/H))·
  (error² − scale²), never under the scale warm-up fitted, on the ticks that are calm by the tier's own
  score too (the detector's rule asked of it: with `blend_numpy` the detector judges the blend, which
  the fallback can bring under the threshold on a tick the tier calls anomalous; taught such ticks, the
  scale learnt an anomaly's errors and heard the rest of it less — SKAB valve1/0, the twenty-sixth round). Why: the scale is fitted once, on warm-up; a
  pump that settles a little off its warm-up after a test (SKAB) leaves its temperatures' forecast
  error a lasting bias about the size of the threshold, which the fallback, learning on every calm
  tick, absorbs and the tier did not. Only calm ticks teach it and it only widens, so it can quiet a
  sensor, never make it more sensitive than warm-up made it;
- without a profile, `warmup_scores` scores the warm-up as `score` would, for the threshold's
  clock, recurring level and mean path (agent/pipeline_fit.py, TierFitter.teach).

Why a model scorer keeps state: the bias statistic needs the signed forecast errors of the
previous ticks, and those are forecasts the model made from earlier windows — they cannot be
recomputed from the current window without running the model T−1 more times. So each scorer
keeps a small ring of its own signed errors, keyed by tick timestamp (window.ts[-1]), for the
window's last T ticks (and, for the profile, of its forecasts). Recording is idempotent per tick (scoring the same tick twice, e.g. the
chain retrying or the hot-swap shadow scoring a candidate on the pipeline's window, overwrites
that tick's entry), and a tick whose error is not in the ring — before this scorer's first
tick, after a step-down left it idle, across a gap — counts as 0, which only lowers the bias:
a scorer that has just become active starts conservative and is fully informed after T ticks.

The model: inputs `values`, `missing` (1, T, N) float32; outputs `forecast` (1, N) of the newest
row from rows 0..T-2, `temporal_attention` (1, N, T-1), `spatial_attention` (1, N, N).
"""
from __future__ import annotations

import abc
import math
from typing import TYPE_CHECKING, Callable

import numpy as np

from .. import bundle as bundles
from .. import fastnp as fnp
from ..checkpoint import array_like, array_of
from ..window import Normaliser, sliding_windows
from .base import Scorer, ScorerError, TickScore
from .forecast_error import (RESIDUAL_STD_FLOOR, bias_weights, combined_scores, ew_bias, residual_std, rolling_bias,
                             run_scores, signed_errors)
from .profile import (NormalProfile, ProfileConfig, ew_level, forecast_levels, settle_ticks,
                      ticks_to_fit)
from .sensor_tails import tail_gains

_DOT, _SUBTRACT, _ABS = fnp.dot, np.subtract, np.abs

if TYPE_CHECKING:
    from ..window import WindowBuffer

INPUT_NAMES = ("values", "missing")

#: A profile σ is at least this share of the sensor's forecast-error scale on this plant: a level
#: that hardly moved during warm-up (a set-point) does not turn a sensor's noise into a 100-σ event.
PROFILE_FLOOR_OF_RESIDUAL = 0.25
OUTPUT_NAMES = ("forecast", "temporal_attention", "spatial_attention")


def expected_shapes(sensors: int, steps: int) -> dict[str, tuple[int, ...]]:
    """Batch-1 shapes of every input and output, by name."""
    return {"values": (1, steps, sensors), "missing": (1, steps, sensors), "forecast": (1, sensors),
            "temporal_attention": (1, sensors, steps - 1), "spatial_attention": (1, sensors, sensors)}


def pick_artifact(bundle: bundles.Bundle, preference: tuple[str, ...]) -> str:
    """The first artifact kind of `preference` the bundle has (int8 before fp32)."""
    kinds = bundle.artifact_kinds()
    for kind in preference:
        if kind in kinds:
            return kind
    have = ", ".join(kinds) or "none"
    raise bundles.BundleError(f"{bundle.path}: no {' or '.join(preference)} artifact (the bundle has: {have})")


def plant_fit(newest: np.ndarray, newest_missing: np.ndarray, forecasts: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offset, forecasts + offset, residual scale) of warm-up rows `newest` (n, N) and the model's
    `forecasts` of them: this plant's mean forecast error and its forecast-error scale.

    The model was trained on other plants; its mean error here is not an anomaly, and left in, the
    lasting-shift statistic would add it up every tick: the offset is added to every forecast."""
    seen = ~np.asarray(newest_missing, bool)
    counts = seen.sum(axis=0)
    offset = np.where(seen, newest - forecasts, 0.0).sum(axis=0) / np.maximum(counts, 1)
    forecasts = forecasts + offset
    return offset, forecasts, residual_std(newest, newest_missing, forecasts)


def finite_sum(forecast: np.ndarray) -> bool:
    """`math.isfinite(np.add.reduce(forecast))` — every entry finite and their sum not overflowing — with the
    same answer for every array, at ~0.5 µs where a ufunc reduce costs 1.5–2.5 (numpy 2.4, 18 entries; perf51):
    the square norm (a dot) is finite only when every entry is finite and under √(the dtype's max) (≈ 1.8e19
    in float32), where no order of their sum can overflow; an array that fails it is summed as before (a
    forecast past √max also warns of the dot's overflow, beside the sum's own warning when that overflows)."""
    return math.isfinite(_DOT(forecast, forecast)) or math.isfinite(np.add.reduce(forecast))


class ModelShapeError(bundles.BundleError):
    """The model's inputs or outputs do not have the names and shapes the agent feeds and reads."""


def _dim(d) -> int | None:
    """A reported dimension as an int, None when symbolic/dynamic (ONNX 'batch', TFLite -1)."""
    if isinstance(d, (int, np.integer)) and d >= 0:
        return int(d)
    return None


def check_io(where: str, names: tuple[str, ...], actual: dict[str, tuple], expected: dict[str, tuple]) -> None:
    """Raise BundleError naming every input/output that is missing, unexpected or mis-shaped.

    `actual` maps the runtime's names to its shapes; a dynamic batch dimension is accepted,
    any other dynamic dimension is not (the agent feeds exactly T × N).
    """
    diffs = []
    missing, extra = bundles.name_diff(names, actual)
    if missing:
        diffs.append(f"no {', '.join(missing)}")
    if extra:
        diffs.append(f"unexpected {', '.join(extra)}")
    for name in names:
        if name not in actual:
            continue
        got = tuple(_dim(d) for d in actual[name])
        want = expected[name]
        if len(got) != len(want) or any(g != w and not (i == 0 and g is None) for i, (g, w) in enumerate(zip(got, want))):
            shown = "×".join("?" if g is None else str(g) for g in got)
            diffs.append(f"{name} is {shown}, expected {'×'.join(map(str, want))}")
    if diffs:
        raise ModelShapeError(f"{where}: the model does not fit the agent: " + "; ".join(diffs))


def check_manifest_io(bundle: bundles.Bundle, expected: dict[str, tuple]) -> None:
    """The manifest's own inputs/outputs declaration (when present) must agree with T and N."""
    for part, names in (("inputs", INPUT_NAMES), ("outputs", OUTPUT_NAMES)):
        declared = getattr(bundle.manifest, part)
        if declared is None:
            continue
        shapes = {t.name: tuple(d if isinstance(d, int) else None for d in t.shape) for t in declared}
        check_io(f"{bundle.path}: manifest {part}", names, shapes, expected)


def load_fitting(ref, base_dir, expect: bundles.Expectation, verify_hashes: bool = True) -> bundles.Bundle:
    """The bundle `ref` as this agent can run it, or BundleError saying why not: its manifest against the config
    (agent/bundle.py `load`: sensors, steps, tick, signature, with `verify_hashes` every listed file) and its
    declared inputs and outputs against the window the agent feeds (`check_manifest_io`). The one check of a
    bundle before any runtime reads it: check-config and `run`'s start (agent/preflight.py), the chain's load
    (agent/scorers `load_tiers`: said once, not once per tier), and so a hot swap's candidate and a restart onto a
    swapped-in bundle — a bundle delivered into models_dir later is refused in the words the start says of it
    (qa44: it reached the runtimes, which refused it in theirs, once per tier)."""
    bundle = bundles.load(ref, base_dir=base_dir, expect=expect, verify_hashes=verify_hashes)
    check_manifest_io(bundle, expected_shapes(len(expect.sensors), expect.steps))
    return bundle


def explanation_weights(scores: np.ndarray, temporal: np.ndarray, spatial: np.ndarray,
                        top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """(sensor_weights (N,), time_weights (T,)) from one tick's attention.

    time_weights: the temporal attention of the top-k scoring sensors, averaged, over context
    steps 0..T-2; the newest step (the one forecast) gets 0. sensor_weights: the spatial
    attention row of the top sensor (whom it looked at), or the column mean (who was looked at
    overall) when no sensor scored. Both sum to 1.
    """
    order = np.argsort(-scores)[:max(1, top_k)]
    top = order[scores[order] > 0]
    context = temporal[top].mean(axis=0) if top.size else temporal.mean(axis=0)
    time_w = np.append(np.maximum(context, 0.0), 0.0)
    sensor_w = np.maximum(spatial[top[0]] if top.size else spatial.mean(axis=0), 0.0)
    return _unit(sensor_w), _unit(time_w)


def _unit(w: np.ndarray) -> np.ndarray:
    total = float(w.sum())
    return w / total if total > 0 else np.full(len(w), 1.0 / len(w))


class TickRun:
    """The rows a per-tick statistic reads for the window's ticks, oldest first, carried from one
    call to the next: the bias reads the recorded signed errors, the profile level the recorded
    forecasts. Rebuilding them from the history (a dict keyed by tick ts) is a Python loop over
    the window, so when the window is the previous call's one tick on (the usual case) or the same
    tick again (a retry), `step` writes the newest row and returns the carried run; otherwise it
    returns None and the caller rebuilds the run and `keep`s it. The run is ring[head:head + T], a
    doubled ring (as WindowBuffer's): one tick on is one row written twice, not a shift of T rows."""

    def __init__(self, steps: int, n: int):
        self.steps = steps
        self.ring = np.zeros((2 * steps, n), np.float64)
        self.head = 0
        self.ts: bytes | None = None              # the window ticks the run holds, as bytes (None: rebuild)
        self.now = math.nan                       # the newest of them
        # Each head's (rows r and r + T, the run ring[r:r + T]), made when first used: a tick then makes no
        # view (the ring is only written in place; perf54).
        self._at: list[tuple | None] = [None] * steps

    def _views(self, head: int) -> tuple[np.ndarray, np.ndarray]:
        v = self._at[head] = (self.ring[head::self.steps], self.ring[head:head + self.steps])
        return v

    def step(self, ts: np.ndarray, newest: np.ndarray, now: float) -> np.ndarray | None:
        """The window's ticks are compared as their bytes: one call and one compare instead of
        four numpy comparisons (~0.5–2 µs each on a tick's budget). Bitwise equal ticks are equal
        ticks; a window with unfilled NaN rows can be carried too (its NaN rows hold 0 either way:
        a rebuild finds no recorded error for a NaN tick), and a NaN newest tick is never kept. `now`:
        float(ts[-1]), the caller's (compared as a Python float: the same order as ts[-1]'s, ~0.1 µs less; perf65)."""
        last, self.ts = self.ts, None
        if last is None:
            return None
        key, steps, at = ts.tobytes(), self.steps, self._at
        # A row's two copies, r and r + T for r in [0, T), are ring[r::T] (the ring is 2T rows): one write.
        if key == last:
            r = (self.head - 1) % steps             # the same tick again: its newest row replaced
            (at[r] or self._views(r))[0][...] = newest
        elif now > self.now and key[:-ts.itemsize] == last[ts.itemsize:]:
            # One tick on: the earlier ticks' rows are what the history holds for them (window
            # ticks are in order).
            h = self.head
            (at[h] or self._views(h))[0][...] = newest
            self.head = (h + 1) % steps
            self.now = now
        else:
            return None
        self.ts = key
        h = self.head
        return (at[h] or self._views(h))[1]

    def keep(self, ts: np.ndarray, run: np.ndarray) -> None:
        """Carry `run`, rebuilt for the window ticks `ts`, into the next call."""
        self.ring[:self.steps] = self.ring[self.steps:] = run
        self.head = 0
        self.ts = ts.tobytes()
        self.now = float(ts[-1])

    def forget(self) -> None:
        """The history was replaced (warm-up's fit, a checkpoint restore): rebuild next time."""
        self.ts = None


class ModelScorer(Scorer):
    """A scorer backed by one artifact of a verified bundle; subclasses implement `run`."""

    ARTIFACTS: tuple[str, ...] = ()     # artifact kinds this runtime reads, preferred first
    # `score`: max(|error|, |bias|) (with the profile: and a finite distance ≥ 0), 0 where missing, and
    # the tick's score their np.maximum.reduce: NaN or inf there whenever in a sensor's (base.py).
    SCORE_COVERS_SENSORS = True

    def __init__(self, bundle: bundles.Bundle, kind: str, runtime: str, top_k: int = 3):
        self.bundle = bundle
        self.manifest = bundle.manifest
        self.kind = kind
        self.artifact = bundle.artifact(kind)
        self.path = bundle.artifact_path(kind)
        self.runtime = runtime
        self.top_k = top_k
        self.n = len(bundle.sensors)
        self.steps = bundle.steps
        self.expected = expected_shapes(self.n, self.steps)
        self.residual = bundle.residual_std()
        self._bundle_norm = Normaliser.from_manifest(bundle.normalisation, bundle.sensors)
        self._scale: np.ndarray | None = None     # agent z → bundle z, when their normalisations differ
        self._offset: np.ndarray | None = None
        self._values = np.zeros(self.expected["values"], np.float32)
        self._abs_err = np.empty(self.n, np.float64)      # score's |err|, read in the call (perf51)
        self._missing = np.zeros(self.expected["missing"], np.float32)
        # Signed errors of this scorer's recent ticks, by tick ts (see the module docstring).
        self._history: dict[float, np.ndarray] = {}
        self._forecasts: dict[float, np.ndarray] = {}     # the forecasts of the same ticks (profile level)
        self._error_run = TickRun(self.steps, self.n)       # the bias's run of recorded errors
        self._forecast_run = TickRun(self.steps, self.n)    # the level's run of recorded forecasts
        self._bias_weights = bias_weights(self.steps)
        self._scale_of = self._floored = None     # see _residual_scale
        self._offset_of = self._offset_used = None  # see _forecast_offset
        self.set_profile(ProfileConfig(enabled=False))
        self.forecast_offset = np.zeros(self.n, np.float32)   # this plant's mean forecast error (warm-up)
        self.scale_floor: np.ndarray | None = None    # the warm-up's scale, under which `learn` never takes it
        self._calm_error: tuple | None = None         # (tick, signed errors, missing, own score) of the last score, for `learn`
        self.tail_quantile = 0.0                  # scoring.sensor_tail_quantile (sensor_tails.py; 0: off)
        self.sensor_gain: np.ndarray | None = None    # fitted at warm-up when it is on
        check_manifest_io(bundle, self.expected)

    def check_runtime_io(self, inputs: dict[str, tuple], outputs: dict[str, tuple]) -> None:
        """check_io on the names → shapes the runtime reports for the artifact's inputs and outputs."""
        check_io(f"{self.path} inputs", INPUT_NAMES, inputs, self.expected)
        check_io(f"{self.path} outputs", OUTPUT_NAMES, outputs, self.expected)

    @abc.abstractmethod
    def run(self, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One inference: (forecast (N,), temporal attention (N, T-1), spatial attention (N, N))."""

    def run_read_now(self, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`run` for a caller that reads the forecast before the next run (`score`): a runtime may return the
        forecast in its own memory, not a copy (tflite.py). `run` itself: arrays that outlive the next run."""
        return self.run(values, missing)

    def align_to(self, normaliser) -> None:
        """Feed the model its own normalisation when the agent's window uses another one.

        The pipeline normalises with the first bundle's statistics (or warm-up's). A bundle
        swapped in later may carry different ones: z_bundle = (z_agent·std_a + mean_a − mean_b) / std_b.
        """
        if normaliser is None:
            return
        mean_a, std_a = np.asarray(normaliser.mean, np.float64), np.asarray(normaliser.std, np.float64)
        mean_b, std_b = self._bundle_norm.mean, self._bundle_norm.std
        if np.allclose(mean_a, mean_b) and np.allclose(std_a, std_b):
            self._scale = self._offset = None
            return
        self._scale = (std_a / std_b).astype(np.float32)
        self._offset = ((mean_a - mean_b) / std_b).astype(np.float32)

    def inputs(self, window: WindowBuffer) -> tuple[np.ndarray, np.ndarray]:
        """The window as the model's (1, T, N) float32 inputs, in reused buffers."""
        # (into the (1, T, N) buffers whole, the window broadcast: ~0.25 µs less than through their [0] view, perf54)
        fnp.copyto(self._missing, window.missing)
        if self._scale is None:
            fnp.copyto(self._values, window.values)
        else:                                   # rebased in place: no per-tick temporaries
            z = self._values[0]
            np.multiply(window.values, self._scale, out=z)
            z += self._offset
            fnp.copyto(z, 0.0, where=window.missing)
        return self._values, self._missing

    def score(self, window: WindowBuffer) -> TickScore:
        values, missing = self.inputs(window)
        forecast, temporal, spatial = self.run_read_now(values, missing)    # (the forecast is read in this call only)
        # The attention weights feed the forecast (softmax → weighted mix → forecast), so a NaN or
        # inf in them makes the forecast NaN too: the forecast is the one check a tick needs. Its
        # sum is finite when every entry is (one reduction; a sum that overflows float32 needs
        # forecasts beyond ±1e37 normalised units, which are refused as well).
        if not finite_sum(forecast):
            raise ScorerError(f"{self.kind} returned NaN/inf outputs")
        missing_newest = window.newest_missing  # what missing[0, -1] holds, as bools
        # (a where= copy through an all-False mask writes nothing: skipped while every sensor reads)
        some_missing = fnp.count_nonzero(missing_newest)
        # (the two cached checks inline: each is looked at again only when its array is replaced)
        offset = self._offset_used if self._offset_of is self.forecast_offset else self._forecast_offset()
        if offset is not None:                  # (None: no offset fitted; adding zeros is skipped)
            forecast = forecast + offset
        # signed_errors (forecast_error.py), with the residual floor applied once, not every tick
        # (each operand copied to float64 first, exactly, then one float64 subtract: the same bits as the
        # ufunc's float64 loop on them, without its buffered casts, ~0.6 µs; err is recorded: a new array)
        # (values[0, -1] is the window's newest row, copied exactly, unless rebased: the window's kept view; perf65)
        err = (window.newest_values if self._scale is None else values[0, -1]).astype(np.float64)
        _SUBTRACT(err, forecast.astype(np.float64), err)
        err /= self._floored if self._scale_of is self.residual else self._residual_scale()
        if some_missing:
            fnp.copyto(err, 0.0, where=missing_newest)
        profiled = self.profile.fitted
        kept = self.profile.bias_kept() if profiled else True
        if kept is False:       # lasting_shift off: the errors are recorded (checkpoints), the bias is unread,
            self.record(window.ts, err)         # and max(|e|, |0|) is |e|, bit for bit (NaN as well)
            s = np.abs(err)
        else:
            bias = self.bias(window.ts, err, window.newest_ts)
            if profiled:
                bias = fnp.where(kept, bias, 0.0)
            s = np.abs(bias, bias)              # combined_scores: max(|e|, |bias|), 0 when missing
            np.maximum(s, _ABS(err, self._abs_err), out=s)   # (bias: this call's own array, never recorded)
        if some_missing:
            fnp.copyto(s, 0.0, where=missing_newest)
        if profiled:         # (fit_profile sets the forecast ring; unfitted, a level is unused)
            level = self.level(window.ts, forecast, missing_newest)
            now = float(window.ts[-1])
            distance = self.profile.scores(level)
            self.profile.track(level, distance, now, window.missing)
            s = np.where(missing_newest, 0.0, np.maximum(s, distance))
        if self.sensor_gain is not None:        # each sensor in units of its calm tail (sensor_tails.py)
            s = s * self.sensor_gain
        top_k = self.top_k
        # Nothing for the explanation here: the lambda runs only when an alert is built. The tick's score
        # by numpy's reduction (NaN when a sensor's is): as Python floats the tick's scorer was slower (review11).
        own = fnp.max_of(s)
        if self.scale_floor is not None:        # scale_half_life_ticks: `learn` reads this tick's errors and score
            self._calm_error = (float(window.ts[-1]), err, missing_newest.copy(), own)
        return TickScore(s, own, self.TYPE, lambda: explanation_weights(s, temporal, spatial, top_k))

    def learn(self, window: WindowBuffer, calm: Callable[[float, int], bool] | None = None) -> None:
        """A calm tick (the detector's judgement): each read sensor's forecast-error scale follows its
        error on it (`scale_half_life_ticks`, the module docstring), never under warm-up's. The error is
        the one `score` computed for this tick; a window whose newest tick was not scored last teaches nothing,
        nor does a tick whose own score the detector's rule `calm` would not learn from (the blend's calm tick
        that this tier alone calls anomalous; with `scale_after_alert_ticks`, a tick inside or just after an alert)."""
        last, self._calm_error = self._calm_error, None
        if last is None or self.scale_floor is None or last[0] != float(window.ts[-1]):
            return
        _, err, missing, own = last
        if calm is not None and not calm(own, self.profile_cfg.scale_after_alert_ticks):
            return
        scale = np.asarray(self.residual, np.float64)
        raw = err * self._residual_scale()           # the error in normalised units, before the scale
        rate = 1.0 - 0.5 ** (1.0 / self.profile_cfg.scale_half_life_ticks)
        square = scale * scale + rate * (raw * raw - scale * scale)
        widened = np.where(missing, scale, np.maximum(np.sqrt(np.maximum(square, 0.0)), self.scale_floor))
        self.residual = widened                      # a new array: _residual_scale picks it up

    def _forecast_offset(self) -> np.ndarray | None:
        """forecast_offset, or None while it is all zeros (no profile fitted): looked at again
        only when it is replaced (warm-up's fit_profile, a checkpoint restore)."""
        if self._offset_of is not self.forecast_offset:
            self._offset_of = self.forecast_offset
            self._offset_used = self.forecast_offset if np.any(self.forecast_offset) else None
        return self._offset_used

    def _residual_scale(self) -> np.ndarray:
        """The forecast-error scale with signed_errors' floor, recomputed only when `residual` is
        replaced (warm-up's fit_profile, a checkpoint restore)."""
        if self._scale_of is not self.residual:
            self._scale_of = self.residual
            self._floored = np.maximum(np.asarray(self.residual, np.float64), RESIDUAL_STD_FLOOR)
        return self._floored

    def set_profile(self, cfg: ProfileConfig) -> None:
        """The normal-profile settings (scoring.profile); fitted by fit_profile at warm-up."""
        self.profile_cfg = cfg
        self.profile = NormalProfile(cfg, list(self.bundle.sensors), self.bundle.profile_wander())

    def fit_profile(self, z: np.ndarray, missing: np.ndarray, ts: np.ndarray) -> np.ndarray | None:
        """Fit this plant's normal behaviour on the warm-up rows (normalised z, missing, tick ts;
        oldest first) and return the warm-up tick scores as the tier scores them from now on (for
        the threshold), or None when the profile is disabled or the warm-up too short (the tier
        then keeps the bundle's residual scale and threshold).

        Fitted on the device: the per-sensor forecast-error scale (the bundle's is
        an average over its training plants; this plant's sensors may be quieter or noisier), and
        the normal profile of the forecast levels (profile.py); also its mean forecast error, which
        is added to every forecast from then on. The error and forecast rings are
        left holding the last warm-up ticks, so live scoring continues from them.
        """
        if not self.profile_cfg.enabled:
            if self.tail_quantile > 0:
                self._fit_tails(z, missing)
            return None
        steps = self.steps
        z = np.asarray(z, np.float32)
        missing = np.asarray(missing, bool)
        ts = np.asarray(ts, np.float64)
        if len(z) < steps:
            return None
        forecasts = self._warmup_forecasts(z, missing)
        newest, newest_missing, tick_ts = z[steps - 1:], missing[steps - 1:], ts[steps - 1:]
        seen = ~newest_missing
        if seen.sum(axis=0).min() < self.profile_cfg.min_ticks:
            return None
        offset, forecasts, residual = plant_fit(newest, newest_missing, forecasts)
        errors = signed_errors(newest, newest_missing, forecasts, residual)
        bias = np.where(self.profile.bias_kept(), rolling_bias(errors, errors, steps), 0.0)
        error_scores = combined_scores(errors, bias, newest_missing)
        run = np.where(seen, forecasts, np.nan)
        levels = forecast_levels(run, steps, self.profile_cfg.half_life_ticks)
        settle = settle_ticks(len(levels), self.profile_cfg.half_life_ticks)
        if not self.profile.fit(levels[settle:], floor=PROFILE_FLOOR_OF_RESIDUAL * residual):
            return None
        self.residual = residual
        self.scale_floor = np.array(residual, np.float64) if self.profile_cfg.scale_half_life_ticks > 0 else None
        self.forecast_offset = offset.astype(np.float32)
        self._history = {float(t): e for t, e in zip(tick_ts[-steps:], errors[-steps:])}
        self._error_run.forget()
        self._forecast_run.forget()
        self._forecasts = {float(t): f for t, f in zip(tick_ts[-steps:], run[-steps:])}
        scores = np.where(newest_missing, 0.0, np.maximum(error_scores, self.profile.scores(levels)))[settle:]
        if self.tail_quantile > 0:
            self.sensor_gain = tail_gains(scores, newest_missing[settle:], self.tail_quantile, self._tail_cap())
            scores = scores * self.sensor_gain
        return scores.max(axis=1)

    def _fit_tails(self, z: np.ndarray, missing: np.ndarray) -> None:
        """Without a profile: each sensor's gain from the warm-up scored as `score` scores it (the
        bundle's residual scale), its scores at or above the bundle's threshold not counted; None, so
        the tier keeps its bundle's threshold (sensor_tails.py: a dirty warm-up must not set it)."""
        scores = self._warmup_sensor_scores(z, missing)
        if scores is not None:
            self.sensor_gain = tail_gains(scores, np.asarray(missing, bool)[self.steps - 1:], self.tail_quantile,
                                          self._tail_cap())

    def _tail_cap(self) -> float:
        """The bundle's calibrated threshold: a warm-up score over it is not part of a calm tail."""
        return float(self.bundle.threshold.get("value", np.inf))

    def _warmup_forecasts(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """(len(z) − T + 1, N) forecasts of the newest row of every warm-up window, oldest first."""
        windows, windows_missing = sliding_windows(np.where(missing, 0.0, z).astype(np.float32),
                                                   missing.astype(np.float32), self.steps)
        forecasts = np.empty((len(windows), self.n), np.float64)
        for i in range(len(windows)):
            np.copyto(self._values[0], windows[i])
            np.copyto(self._missing[0], windows_missing[i])
            forecasts[i] = self.run(self._values, self._missing)[0]
        if not np.isfinite(forecasts).all():
            raise ScorerError(f"{self.kind} returned NaN/inf outputs at warm-up")
        return forecasts

    def rebased(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """Rows in the agent's normalisation as this bundle's own (align_to; 0 where missing), float32:
        what the model reads of a hot swap's recent ticks, as `inputs` rebases the window."""
        z = np.asarray(z, np.float32)
        if self._scale is None:
            return z
        return np.where(missing, 0.0, z * self._scale + self._offset).astype(np.float32)

    def warmup_scores(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray | None:
        """The tick scores of the warm-up rows (normalised z, missing; oldest first) from the T-th
        on, as `score` gives them live without a profile (the bundle's residual scale), the bias
        counting the warm-up's own earlier errors; None when shorter than T.
        Nothing of this scorer changes: the pipeline teaches the tier's threshold with them
        (threshold.clock_scale_*, recurring_*, likelihood: what happened at this time of day
        during warm-up), as it does the fallback's."""
        scores = self._warmup_sensor_scores(z, missing)
        if scores is not None and self.sensor_gain is not None:   # sensor_tail_quantile's gains, as live
            scores = scores * self.sensor_gain
        return None if scores is None else scores.max(axis=1)

    def _warmup_sensor_scores(self, z: np.ndarray, missing: np.ndarray) -> np.ndarray | None:
        """warmup_scores' rows per sensor, (n − T + 1, N); None when shorter than T."""
        z = np.asarray(z, np.float32)
        missing = np.asarray(missing, bool)
        if len(z) < self.steps:
            return None
        z = self.rebased(z, missing)
        forecasts = self._warmup_forecasts(z, missing)
        newest, newest_missing = z[self.steps - 1:], missing[self.steps - 1:]
        errors = signed_errors(newest, newest_missing, forecasts + self.forecast_offset, self._residual_scale())
        return run_scores(errors, newest_missing, self.steps)

    def level(self, ts: np.ndarray, forecast: np.ndarray, missing_newest: np.ndarray) -> np.ndarray:
        """Record this tick's forecast under ts[-1]; the EW level of the recorded forecasts of the
        window's ticks (a missing newest value's forecast is recorded but not counted)."""
        now = float(ts[-1])
        row = fnp.where(missing_newest, np.nan, forecast)
        if math.isfinite(now):
            self._forecasts[now] = row
        run = self._forecast_run.step(ts, row, now)
        if run is None:
            run = np.full((len(ts), self.n), np.nan)
            for j, t in enumerate(ts):
                f = self._forecasts.get(float(t)) if np.isfinite(t) and t <= now else None
                if f is not None:
                    run[j] = f
            if math.isfinite(now):
                self._forecast_run.keep(ts, run)
        self._forecasts = self._recent(self._forecasts, ts, now)
        return ew_level(run, np.isfinite(run), self.profile_cfg.half_life_ticks)

    def _recent(self, store: dict, ts: np.ndarray, now: float) -> dict:
        """`store` (tick ts → row) as it is up to 2T entries; past that, only the entries of the
        window's ticks `ts` (from its oldest filled tick to `now`): what the bias and the level read."""
        if len(store) <= 2 * self.steps:
            return store
        oldest = float(np.nanmin(ts)) if np.isfinite(ts).any() else now
        return {t: e for t, e in store.items() if oldest <= t <= now}

    def record(self, ts: np.ndarray, err: np.ndarray) -> None:
        """Record this tick's signed errors under ts[-1] without the bias (`lasting_shift` off: it is
        never read): the history as `bias` leaves it (its window ticks' entries, at most 2T), no
        carried run (forgotten: a bias asked for later rebuilds it from the history)."""
        now = float(ts[-1])
        self._error_run.forget()
        if math.isfinite(now):
            self._history[now] = err
            self._history = self._recent(self._history, ts, now)

    def bias(self, ts: np.ndarray, err: np.ndarray, now: float | None = None) -> np.ndarray:
        """Record this tick's signed errors under ts[-1] and return the EW bias over the window's
        ticks ts (oldest first): the recorded errors of the earlier ticks, 0 for ticks not recorded.
        `err` itself is recorded, not a copy: the caller does not change it afterwards. `now`: float(ts[-1]) when
        the caller has it (the window's newest_ts)."""
        if now is None:
            now = float(ts[-1])
        run = self._error_run.step(ts, err, now)
        if run is not None:
            history = self._history
            history[now] = err
            if len(history) > 2 * self.steps:           # (_recent's own first test, without its call)
                self._history = self._recent(history, ts, now)
            # ew_bias(run): np.dot is the same gemv as `@` on these operands, bit for bit (a zero's sign
            # may differ, and the bias is only read through abs), ~0.35 µs less a tick; without np.dot's
            # dispatch (fastnp), ~0.3 µs more
            return _DOT(self._bias_weights, run)
        run = np.zeros((self.steps, self.n), np.float64)
        run[-1] = err
        if np.isfinite(now):
            for j in range(len(ts) - 1):
                t = float(ts[j])
                if t < now:                         # NaN (a row not filled yet) compares False
                    past = self._history.get(t)
                    if past is not None:
                        run[j] = past
            self._history[now] = err
            self._history = self._recent(self._history, ts, now)
            self._error_run.keep(ts, run)
        return ew_bias(run)

    # -- checkpoint (agent/checkpoint.py): what the warm-up fitted on this device, and the recent
    # signed errors and forecasts the bias and level statistics need ---------------------------

    def state_dict(self) -> dict:
        ts = sorted(self._history)
        fts = sorted(self._forecasts)
        profile = self.profile
        return {"ts": np.array(ts, np.float64),
                "errors": np.array([self._history[t] for t in ts], np.float64).reshape(-1, self.n),
                "forecast_ts": np.array(fts, np.float64),
                "forecasts": np.array([self._forecasts[t] for t in fts], np.float64).reshape(-1, self.n),
                "residual": self.residual, "forecast_offset": self.forecast_offset,
                **({} if self.scale_floor is None else {"scale_floor": self.scale_floor}),
                **({} if self.sensor_gain is None else {"sensor_gain": self.sensor_gain}),
                "profile": None if profile.mean is None else
                {"mean": profile.mean, "std": profile.std, "ticks": profile.ticks,
                 "normal": profile.normal,
                 **({} if profile.wander is None else {"wander": profile.wander})}}

    def restore(self, state: dict) -> None:
        """Validates everything before changing anything."""
        name = self.TYPE
        rings = []
        for ts_key, rows_key in (("ts", "errors"), ("forecast_ts", "forecasts")):
            ts = array_of(state[ts_key], f"{name}.{ts_key}", np.float64, 1)
            rows = array_of(state[rows_key], f"{name}.{rows_key}", np.float64, 2, self.n)
            if len(ts) != len(rows) or len(ts) > 2 * self.steps + 1:
                raise ValueError(f"{name}.{rows_key}: {len(rows)} rows for {len(ts)} ticks")
            rings.append({float(t): r for t, r in zip(ts, rows)})
        residual = array_like(state["residual"], self.residual, f"{name}.residual")
        offset = array_like(state["forecast_offset"], self.forecast_offset, f"{name}.forecast_offset")
        if not (np.isfinite(residual).all() and (residual > 0).all() and np.isfinite(offset).all()):
            raise ValueError(f"{name}.residual: not positive and finite")
        # the warm-up's scale (scale_half_life_ticks): absent when off and in older checkpoints
        floor = None if state.get("scale_floor") is None else \
            array_like(state["scale_floor"], self.residual, f"{name}.scale_floor")
        if floor is not None and not (np.isfinite(floor).all() and (floor > 0).all()):
            raise ValueError(f"{name}.scale_floor: not positive and finite")
        fitted = state["profile"]
        if fitted is not None:
            mean = array_like(fitted["mean"], np.zeros(self.n), f"{name}.profile.mean")
            std = array_like(fitted["std"], np.zeros(self.n), f"{name}.profile.std")
            ticks = int(fitted["ticks"])
            # the warm-up range (track_half_life_ticks): absent in checkpoints written before it
            normal = None if fitted.get("normal") is None else \
                array_like(fitted["normal"], np.zeros(self.n), f"{name}.profile.normal")
            # each sensor's wander (per_sensor_fraction): absent when off and in older checkpoints
            wander = None if fitted.get("wander") is None else \
                array_like(fitted["wander"], np.zeros(self.n), f"{name}.profile.wander")
            if wander is not None and not (np.isfinite(wander).all() and (wander >= 1).all()):
                raise ValueError(f"{name}.profile.wander: not finite and ≥ 1")
        # sensor_tail_quantile's gains: absent when off and in checkpoints written before it
        gain = None if state.get("sensor_gain") is None else \
            array_like(state["sensor_gain"], np.ones(self.n), f"{name}.sensor_gain")
        if gain is not None and not (np.isfinite(gain).all() and (gain > 0).all()):
            raise ValueError(f"{name}.sensor_gain: not positive and finite")
        self._history, self._forecasts = rings
        self.sensor_gain = gain
        self._error_run.forget()                # the runs are rebuilt from the restored rings
        self._forecast_run.forget()
        self.residual, self.forecast_offset = residual, offset
        # off, or no profile: nothing learns, whatever was saved; on without a saved floor (a checkpoint from
        # before the key was on): the restored scale is the floor
        learns = self.profile_cfg.scale_half_life_ticks > 0 and fitted is not None
        self.scale_floor = (floor if floor is not None else np.array(residual, np.float64)) if learns else None
        self._calm_error = None
        if fitted is None:
            self.profile.mean = self.profile.std = self.profile.wander = None
        else:
            self.profile.mean, self.profile.std, self.profile.ticks = mean, std, ticks
            self.profile.normal, self.profile.wander = normal, wander
        self.profile.forget_last_tick()

    def describe(self) -> dict:
        return {"tier": self.TYPE, "model_id": self.bundle.model_id, "artifact": self.artifact.file,
                "quantization": self.kind.rsplit("_", 1)[-1], "sha256": self.artifact.sha256,
                "runtime": self.runtime,
                "profile": {**self.profile.describe(), "ticks_to_fit": ticks_to_fit(self.profile_cfg, self.steps)}}


__all__ = ["ModelScorer", "ModelShapeError", "finite_sum", "INPUT_NAMES", "OUTPUT_NAMES", "expected_shapes", "pick_artifact",
           "check_io", "check_manifest_io", "explanation_weights", "load_fitting"]
