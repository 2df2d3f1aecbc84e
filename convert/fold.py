"""The exported form of the forecaster: its temporal attention folded into per-step constants.

Why: in the trained model (convert/model.py) every context step of every sensor is embedded as
h = value·e_v + missing·e_m + step_embedding[c], then projected to a key and a value by d × d
matrices: 82 % of the model's FLOPs, 2·C·N·d² per tick. The embedding is affine, so the key is

    W_k h + b_k = value·(W_k e_v) + missing·(W_k e_m) + (W_k step_embedding[c] + b_k)

— two d-vectors and a (C, d) table, all constants of the trained weights (the value likewise). A
query q (one per sensor, per head) then meets the keys as

    q·k[c] = value[c]·(q·kv) + missing[c]·(q·km) + q·kc[c]

so the logits need one (N, d) × (d, C) product, not N·C keys; and the attention-weighted value is
(Σ_c w_c value_c)·vv + (Σ_c w_c missing_c)·vm + w @ vc. The temporal attention costs O(N·C·d)
instead of O(N·C·d²): the whole model ~0.2 MFLOP per tick at the demo's N = 18, T = 32, d = 24,
instead of 1.56. Everything after the temporal attention (its output projection, the spatial
attention, the gate, the head) is the trained model's own modules, unchanged.

The folded model computes the same function as the trained one, in a different order of float
operations (differences ~1e-6 in the forecast). `fold` checks that on the windows it is given
before anything is exported from it, and refuses a model it does not reproduce (a change to
model.py's forward that this module does not follow). The int8 artifacts quantize the linear
layers that remain; the folded constants stay float32 (they are no longer nn.Linear weights).
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from .model import EnsembleForecaster, SpatioTemporalForecaster

#: The folded model must reproduce the trained model's outputs to within this (normalised units
#: for the forecast, probability for the attention weights) on the windows `fold` checks.
FOLD_TOLERANCE = 1e-4
#: What the manifest says about the artifacts' form (manifest.model.exported_form).
FOLD_FORM = ("temporal keys/values folded into per-step constants (convert/fold.py): the same function "
             "as model.pt; the temporal attention costs O(N·T·d) instead of O(N·T·d²) per tick")


class FoldError(RuntimeError):
    """The folded model does not reproduce the trained model's outputs."""


class FoldedForecaster(nn.Module):
    """SpatioTemporalForecaster with its temporal keys and values folded (see the module doc)."""

    def __init__(self, model: SpatioTemporalForecaster):
        super().__init__()
        self.spec = model.spec
        self.model = model                      # its remaining modules run as they are
        t = model.temporal
        with torch.no_grad():
            def project(linear: nn.Linear):
                w = linear.weight                                            # (d, d): out × in
                return (w @ model.value_embedding, w @ model.missing_embedding,
                        model.step_embedding @ w.T + linear.bias)            # (d,), (d,), (C, d)
            kv, km, kc = project(t.k)
            vv, vm, vc = project(t.v)
        h, hd = t.heads, t.head_dim
        context = self.spec.steps - 1
        # Per-head tables as block-diagonal 2-D matrices, so both products are plain (R, ·) × (·, ·)
        # matmuls with a constant right side (a runtime's fully-connected kernel; a batched matmul
        # with a constant operand is what TFLite's XNNPACK delegate and ORT's quantizer trip on):
        # key_steps (d, h·C): head i's rows i·hd… meet its columns i·C…; value_steps (h·C, d) likewise.
        key_steps = torch.zeros(h * hd, h * context, dtype=kc.dtype)      # the model's dtype (the check's is float64)
        value_steps = torch.zeros(h * context, h * hd, dtype=vc.dtype)
        for i in range(h):
            dims, steps = slice(i * hd, (i + 1) * hd), slice(i * context, (i + 1) * context)
            key_steps[dims, steps] = kc[:, dims].T
            value_steps[steps, dims] = vc[:, dims]
        self.register_buffer("key_steps", key_steps)
        self.register_buffer("value_steps", value_steps)
        self.register_buffer("key_value", kv.reshape(h, hd).clone())
        self.register_buffer("key_missing", km.reshape(h, hd).clone())
        self.register_buffer("value_value", vv.reshape(h, hd).clone())
        self.register_buffer("value_missing", vm.reshape(h, hd).clone())

    def forward(self, values: torch.Tensor, missing: torch.Tensor):
        model = self.model
        n, context, d = self.spec.sensors, self.spec.steps - 1, self.spec.d_model
        t = model.temporal
        h, hd = t.heads, t.head_dim
        batch = values.shape[0]
        rows = batch * n
        x = values[:, :context, :]
        m = missing[:, :context, :]
        # The newest context step's embedding, with the sensor's identity: the query (as model.py).
        newest = (x[:, context - 1, :].unsqueeze(-1) * model.value_embedding
                  + m[:, context - 1, :].unsqueeze(-1) * model.missing_embedding
                  + model.step_embedding[context - 1] + model.sensor_embedding).reshape(rows, d)
        q = t.q(newest).reshape(rows, h, hd) * (1.0 / math.sqrt(hd))               # (R, h, hd)
        xs = x.permute(0, 2, 1).reshape(rows, 1, context)                          # (R, 1, C)
        ms = m.permute(0, 2, 1).reshape(rows, 1, context)
        alpha = (q * self.key_value).sum(-1, keepdim=True)                          # (R, h, 1)
        beta = (q * self.key_missing).sum(-1, keepdim=True)
        gamma = torch.matmul(q.reshape(rows, d), self.key_steps).reshape(rows, h, context)   # (R, h, C)
        weights = torch.softmax(xs * alpha + ms * beta + gamma, dim=-1)            # (R, h, C)
        wx = (weights * xs).sum(-1, keepdim=True)                                   # (R, h, 1)
        wm = (weights * ms).sum(-1, keepdim=True)
        steps = torch.matmul(weights.reshape(rows, h * context), self.value_steps)          # (R, d)
        mixed = (wx * self.value_value + wm * self.value_missing).reshape(rows, d) + steps
        t_mix = t.out(mixed)
        temporal = model.temporal_norm(newest + t_mix).reshape(batch, n, d)

        forecast, s_weights = model.spatial_and_head(temporal, x[:, context - 1, :])
        return forecast, weights.mean(dim=1).reshape(batch, n, context), s_weights


def _worst_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b|, a NaN in both counting as equal (a model with NaN weights folds to one that is
    NaN in the same places), a NaN in one only as infinitely different."""
    both = torch.isnan(a) & torch.isnan(b)
    diff = torch.where(both, torch.zeros_like(a), (a - b).abs())
    return float(torch.nan_to_num(diff, nan=float("inf")).max())


def folded_form(model: nn.Module) -> nn.Module:
    """FoldedForecaster of a forecaster; of an ensemble, the ensemble of its folded members."""
    if isinstance(model, EnsembleForecaster):
        return EnsembleForecaster(model.spec, members=[FoldedForecaster(m) for m in model.members])
    return FoldedForecaster(model)


def fold(model: nn.Module, values: np.ndarray, missing: np.ndarray) -> nn.Module:
    """The folded form of `model` (a forecaster or an ensemble of them), checked to reproduce its
    outputs on the (n, T, N) windows given.

    The check runs on float64 copies of both: it is there to catch a forward that this module does
    not follow, and in float32 the two orders of operations differ by more than FOLD_TOLERANCE on
    windows far outside the training range (a reading 576 σ off made near-equal attention logits in
    the hundreds, whose float32 rounding moved the softmax by 9e-4: review21, one SKAB file). What is
    returned, and exported, is the float32 fold; verify then measures the artifacts against model.pt."""
    model = model.eval()
    folded = folded_form(model).eval()
    wide = copy.deepcopy(model).double().eval()
    v, m = (torch.from_numpy(np.asarray(a, np.float64)) for a in (values, missing))
    with torch.no_grad():
        want, got = wide(v, m), folded_form(wide).eval()(v, m)
    names = ("forecast", "temporal_attention", "spatial_attention")
    worst = {name: _worst_difference(a, b) for name, a, b in zip(names, want, got)}
    bad = {k: e for k, e in worst.items() if not e <= FOLD_TOLERANCE}
    if bad:
        raise FoldError("the folded model does not reproduce the trained one (max |difference| "
                        + ", ".join(f"{k} {e:.2e}" for k, e in bad.items())
                        + f" > {FOLD_TOLERANCE}): convert/fold.py no longer follows model.py's forward")
    return folded
