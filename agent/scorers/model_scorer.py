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
  ticks), and its attention into the explanation weights.

Why a model scorer keeps state: the bias statistic needs the signed forecast errors of the
previous ticks, and those are forecasts the model made from earlier windows — they cannot be
recomputed from the current window without running the model T−1 more times. So each scorer
keeps a small ring of its own signed errors, keyed by tick timestamp (window.ts[-1]), for the
window's last T ticks. Recording is idempotent per tick (scoring the same tick twice, e.g. the
chain retrying or the hot-swap shadow scoring a candidate on the pipeline's window, overwrites
that tick's entry), and a tick whose error is not in the ring — before this scorer's first
tick, after a step-down left it idle, across a gap — counts as 0, which only lowers the bias:
a scorer that has just become active starts conservative and is fully informed after T ticks.

The model: inputs `values`, `missing` (1, T, N) float32; outputs `forecast` (1, N) of the newest
row from rows 0..T-2, `temporal_attention` (1, N, T-1), `spatial_attention` (1, N, N).
"""
from __future__ import annotations

import abc
from typing import TYPE_CHECKING

import numpy as np

from .. import bundle as bundles
from ..window import Normaliser
from .base import Scorer, ScorerError, TickScore, tick_score
from .forecast_error import combined_scores, ew_bias, signed_errors

if TYPE_CHECKING:
    from ..window import WindowBuffer

INPUT_NAMES = ("values", "missing")
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
        raise bundles.BundleError(f"{where}: the model does not fit the agent: " + "; ".join(diffs))


def check_manifest_io(bundle: bundles.Bundle, expected: dict[str, tuple]) -> None:
    """The manifest's own inputs/outputs declaration (when present) must agree with T and N."""
    for part in ("inputs", "outputs"):
        declared = bundle.manifest.get(part)
        if declared is None:
            continue
        if isinstance(declared, dict):
            entries = [dict(v, name=k) if isinstance(v, dict) else {"name": k, "shape": v} for k, v in declared.items()]
        else:
            entries = declared
        shapes = {}
        for e in entries:
            if not (isinstance(e, dict) and isinstance(e.get("name"), str)):
                raise bundles.BundleError(f"{bundle.path}: manifest {part}: expected entries with a name and a shape")
            shapes[e["name"]] = tuple(d if isinstance(d, int) else None for d in e.get("shape", []))
        names = INPUT_NAMES if part == "inputs" else OUTPUT_NAMES
        check_io(f"{bundle.path}: manifest {part}", names, shapes, expected)


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


class ModelScorer(Scorer):
    """A scorer backed by one artifact of a verified bundle; subclasses implement `run`."""

    ARTIFACTS: tuple[str, ...] = ()     # artifact kinds this runtime reads, preferred first

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
        self._missing = np.zeros(self.expected["missing"], np.float32)
        # Signed errors of this scorer's recent ticks, by tick ts (see the module docstring).
        self._history: dict[float, np.ndarray] = {}
        self._run = np.zeros((self.steps, self.n), np.float64)
        check_manifest_io(bundle, self.expected)

    def check_runtime_io(self, inputs: dict[str, tuple], outputs: dict[str, tuple]) -> None:
        """check_io on the names → shapes the runtime reports for the artifact's inputs and outputs."""
        check_io(f"{self.path} inputs", INPUT_NAMES, inputs, self.expected)
        check_io(f"{self.path} outputs", OUTPUT_NAMES, outputs, self.expected)

    @abc.abstractmethod
    def run(self, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One inference: (forecast (N,), temporal attention (N, T-1), spatial attention (N, N))."""

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
        np.copyto(self._missing[0], window.missing)
        if self._scale is None:
            np.copyto(self._values[0], window.values)
        else:                                   # rebased in place: no per-tick temporaries
            z = self._values[0]
            np.multiply(window.values, self._scale, out=z)
            z += self._offset
            np.copyto(z, 0.0, where=self._missing[0] > 0)
        return self._values, self._missing

    def score(self, window: WindowBuffer) -> TickScore:
        values, missing = self.inputs(window)
        forecast, temporal, spatial = self.run(values, missing)
        if not (np.isfinite(forecast).all() and np.isfinite(temporal).all() and np.isfinite(spatial).all()):
            raise ScorerError(f"{self.kind} returned NaN/inf outputs")
        missing_newest = missing[0, -1] > 0
        err = signed_errors(values[0, -1], missing_newest, forecast, self.residual)
        s = combined_scores(err, self.bias(window.ts, err), missing_newest)
        sensor_w, time_w = explanation_weights(s, temporal, spatial, self.top_k)
        return TickScore(sensor_scores=s, score=tick_score(s), tier=self.TYPE,
                         sensor_weights=sensor_w, time_weights=time_w)

    def bias(self, ts: np.ndarray, err: np.ndarray) -> np.ndarray:
        """Record this tick's signed errors under ts[-1] and return the EW bias over the window's
        ticks ts (oldest first): the recorded errors of the earlier ticks, 0 for ticks not recorded."""
        now = float(ts[-1])
        run = self._run
        run.fill(0.0)
        run[-1] = err
        if np.isfinite(now):
            for j in range(len(ts) - 1):
                t = float(ts[j])
                if t < now:                         # NaN (a row not filled yet) compares False
                    past = self._history.get(t)
                    if past is not None:
                        run[j] = past
            self._history[now] = err.copy()
            if len(self._history) > 2 * self.steps:
                oldest = float(np.nanmin(ts)) if np.isfinite(ts).any() else now
                self._history = {t: e for t, e in self._history.items() if oldest <= t <= now}
        return ew_bias(run)

    def describe(self) -> dict:
        return {"tier": self.TYPE, "model_id": self.bundle.model_id, "artifact": self.artifact["file"],
                "quantization": self.kind.rsplit("_", 1)[-1], "sha256": self.artifact["sha256"],
                "runtime": self.runtime}


__all__ = ["ModelScorer", "INPUT_NAMES", "OUTPUT_NAMES", "expected_shapes", "pick_artifact",
           "check_io", "check_manifest_io", "explanation_weights"]
