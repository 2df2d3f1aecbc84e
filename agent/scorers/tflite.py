"""The `tflite` tier: the bundle's TFLite artifact (int8 when present, else fp32) on ai-edge-litert.

`ai_edge_litert.interpreter.Interpreter` with `scoring.tflite.num_threads` threads. The older
`tflite_runtime` wheel is used only when ai-edge-litert is absent and tflite_runtime imports and
works: its last builds need numpy < 2, which is said in one log line instead of a traceback.
The runtime is imported when the tier is created, so the config loads without it; when neither
runtime is usable `create` raises ImportError, and the chain logs the tier as not available and
goes on with the next one.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from ..bundle import Bundle, BundleError, read_verified
from ..lean_import import submodule
from ..plugins import Plugin
from ..typed import rng
from .model_scorer import INPUT_NAMES, OUTPUT_NAMES, ModelScorer, pick_artifact

log = logging.getLogger("stad.scorer")

# The runtime's two packages, in the order tried: declared once, for PLUGIN.libraries (a standby's check
# that one is installed) and for the probe below (interpreter_class), which imports them its own way.
LITERT, TFLITE_RUNTIME = "ai_edge_litert", "tflite_runtime"


@dataclass
class TfliteConfig:
    """`scoring.tflite`: how the tflite tier runs."""
    TYPE: ClassVar[str] = "tflite"
    num_threads: int = rng(1, 64, default=1, doc="interpreter threads (a gateway has other work)")


def _version(dist: str) -> str:
    import importlib.metadata
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _tflite_runtime():
    """tflite_runtime's Interpreter, or ImportError saying why it cannot be used here."""
    if importlib.util.find_spec(TFLITE_RUNTIME) is None:
        raise ImportError("tflite_runtime is not installed either")
    if int(np.__version__.split(".")[0]) >= 2:
        msg = (f"tflite_runtime {_version('tflite-runtime')} is installed but needs numpy < 2 "
               f"(this is numpy {np.__version__}); install ai-edge-litert instead")
        log.warning(msg)
        raise ImportError(msg)
    try:
        Interpreter = importlib.import_module(f"{TFLITE_RUNTIME}.interpreter").Interpreter
    except Exception as exc:  # noqa: BLE001 — a wheel built for another numpy/ABI fails in many ways
        msg = f"tflite_runtime {_version('tflite-runtime')} is installed but does not import: {exc}"
        log.warning(msg)
        raise ImportError(msg) from None
    return Interpreter, f"tflite_runtime {_version('tflite-runtime')}"


def _litert_version() -> str:
    """ai-edge-litert's version: its `__version__` when its package is imported, else the name of
    its installed `ai_edge_litert-<version>.dist-info` directory (importlib.metadata, which reads
    the same, costs ~2.8 MiB resident to import), else importlib.metadata's answer."""
    # vars(): a missing attribute of a package imported by agent/lean_import.py runs its __init__
    version = vars(sys.modules[LITERT]).get("__version__") if LITERT in sys.modules else None
    if version:
        return version
    spec = importlib.util.find_spec(LITERT)
    if spec is not None and spec.origin:
        site = os.path.dirname(os.path.dirname(spec.origin))
        prefix, suffix = f"{LITERT}-", ".dist-info"
        found = [d[len(prefix):-len(suffix)] for d in os.listdir(site) if d.startswith(prefix) and d.endswith(suffix)]
        if len(found) == 1:
            return found[0]
    return _version("ai-edge-litert")


@lru_cache(maxsize=1)
def interpreter_class():
    """(Interpreter class, runtime description): ai-edge-litert, else a usable tflite_runtime;
    ImportError saying why when neither is (not cached: asked again next time)."""
    try:
        # without the package's __init__, which loads libLiteRt.so (the CompiledModel API's
        # runtime, ~1.6 MiB resident) that the Interpreter does not use (agent/lean_import.py)
        interpreter = submodule(LITERT, "interpreter")
        return interpreter.Interpreter, f"ai-edge-litert {_litert_version()}"
    except ImportError as litert_missing:
        try:
            return _tflite_runtime()
        except ImportError as exc:
            raise ImportError(f"ai-edge-litert is not usable ({litert_missing}); {exc}") from None


@contextlib.contextmanager
def native_info_to_log():
    """LiteRT's C++ side prints `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` straight
    to file descriptor 2, unformatted. While the interpreter is built, fd 2 goes to a temporary
    file; afterwards its `INFO:` lines become DEBUG records of this module's logger, and anything
    else (another thread's output, a real error) is written to stderr as it was."""
    sys.stderr.flush()
    saved = os.dup(2)
    with _capture_file() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if line.startswith("INFO: "):
                    log.debug("LiteRT: %s", line[6:].rstrip())
                else:
                    sys.stderr.write(line)
            sys.stderr.flush()


def _capture_file():
    """An anonymous file in memory (Linux's memfd: `tempfile` costs ~0.5 MiB resident to import),
    else tempfile's."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("litert-stderr", os.MFD_CLOEXEC), "w+b")
    import tempfile
    return tempfile.TemporaryFile()


class TfliteScorer(ModelScorer):
    TYPE = "tflite"
    ARTIFACTS = ("tflite_int8", "tflite_fp32")

    def __init__(self, bundle: Bundle, kind: str | None = None, threads: int = 1, top_k: int = 3):
        Interpreter, runtime = interpreter_class()
        kind = kind or pick_artifact(bundle, self.ARTIFACTS)
        super().__init__(bundle, kind, runtime, top_k)
        # From verified bytes in memory, not model_path: the interpreter memory-maps a path, and a
        # file truncated or copied over while mapped kills the process with SIGBUS.
        model = read_verified(self.path, self.artifact)
        try:
            with native_info_to_log():
                self.interpreter = Interpreter(model_content=model, num_threads=threads)
                self.interpreter.allocate_tensors()
            signatures = self.interpreter.get_signature_list()
        except Exception as exc:  # noqa: BLE001 — the interpreter raises ValueError/RuntimeError
            raise BundleError(f"{self.path}: the TFLite interpreter cannot load it: {exc}") from None
        if len(signatures) != 1:
            raise BundleError(f"{self.path}: expected one signature, the model has {len(signatures) or 'none'}")
        runner = self.interpreter.get_signature_runner(next(iter(signatures)))
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        self.check_runtime_io({k: tuple(v["shape"]) for k, v in inputs.items()},
                              {k: tuple(v["shape"]) for k, v in outputs.items()})
        # Tensor indices and converters: the general path (any tensor type, any caller's arrays).
        self._in = [(inputs[n]["index"], _quantizer(inputs[n])) for n in INPUT_NAMES]
        self._out = [(outputs[n]["index"], _dequantizer(outputs[n])) for n in OUTPUT_NAMES]
        self._views = None
        if all(np.dtype(d["dtype"]) == np.float32 for d in (*inputs.values(), *outputs.values())):
            self._hold_views(inputs, outputs)

    def _hold_views(self, inputs: dict, outputs: dict) -> None:
        """Float tensors (every recipe stad-convert ships): the scorer's input buffers become the
        interpreter's own input tensors, and the outputs are read in place, so a tick is one window
        copy, one invoke and three small output copies — no set_tensor/get_tensor round trips, no
        converter calls (together ~30 % of the call at the demo's size).

        The views are numpy arrays over the interpreter's tensor memory, held for its lifetime.
        The Python `Interpreter.invoke` refuses to run while any such array exists (its guard
        against an `allocate_tensors` or resize moving the buffers under them), so ticks call the
        wrapped C++ interpreter's `Invoke` directly: this scorer never resizes or reallocates after
        the views are taken, which is the situation the guard is there to rule out."""
        raw = getattr(self.interpreter, "_interpreter", None)
        if raw is None or not hasattr(raw, "Invoke"):
            return                              # another wrapper layout: the general path only
        views = [self.interpreter.tensor(d["index"])()
                 for d in (*(inputs[n] for n in INPUT_NAMES), *(outputs[n] for n in OUTPUT_NAMES))]
        self._values, self._missing = views[0], views[1]
        self._values[...] = 0.0
        self._missing[...] = 0.0
        self._views = tuple(v[0] for v in views[2:])
        self._invoke = raw.Invoke

    def run_read_now(self, values: np.ndarray, missing: np.ndarray):
        """`run` on the held views' tick (ModelScorer.score: the window in the input tensors), with the forecast
        returned in place, as the output tensor's view: its caller reads it before the next invoke, and the
        one copy it saves is ~0.2 µs a tick (perf65). The attention arrays are copies, as `run`'s: an alert's
        explanation reads them later."""
        if self._views is None or values is not self._values or missing is not self._missing:
            return self.run(values, missing)
        self._invoke()
        forecast, temporal, spatial = self._views
        return forecast, temporal.copy(), spatial.copy()

    def run(self, values: np.ndarray, missing: np.ndarray):
        if self._views is not None:
            if values is not self._values:      # a caller's arrays: into the input tensors
                np.copyto(self._values, values)
            if missing is not self._missing:
                np.copyto(self._missing, missing)
            self._invoke()
            forecast, temporal, spatial = self._views
            # copies: the tensors are overwritten by the next invoke, the arrays outlive it (an
            # alert's explanation reads them)
            return forecast.copy(), temporal.copy(), spatial.copy()
        it = self.interpreter
        (v_index, v_convert), (m_index, m_convert) = self._in
        it.set_tensor(v_index, v_convert(values))
        it.set_tensor(m_index, m_convert(missing))
        it.invoke()
        (f_index, f_convert), (t_index, t_convert), (s_index, s_convert) = self._out
        # get_tensor copies: the arrays outlive the next invoke (an alert's explanation reads them)
        return (f_convert(it.get_tensor(f_index))[0], t_convert(it.get_tensor(t_index))[0],
                s_convert(it.get_tensor(s_index))[0])


def _quantizer(detail: dict):
    """float32 → the tensor's type: identity for float inputs, affine for int8/uint8 ones."""
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return lambda x: x
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return lambda x: np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)


def _dequantizer(detail: dict):
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return lambda x: x
    scale, zero = detail["quantization"]
    return lambda x: (x.astype(np.float32) - zero) * scale


def create(cfg: TfliteConfig, bundle: Bundle, top_k: int) -> TfliteScorer:
    return TfliteScorer(bundle, threads=cfg.num_threads, top_k=top_k)


PLUGIN = Plugin(config=TfliteConfig, create=create, rank=0, probe=interpreter_class,
                libraries=(LITERT, TFLITE_RUNTIME))
