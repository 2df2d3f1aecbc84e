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
instead of 1.56.

Written for few operators (convert4): a cold tick pays each operator XNNPACK runs (its record,
the runtime's step, its kernel's code: ~8–10 last-level misses, perf71), not its FLOPs. So every
constant the weights allow is folded: the newest row's embedding is one FC over the inputs side by
side ([values | missing] transposed, zero weights but at the newest context row); the temporal
query only ever meets the key tables, so its projection is folded into them (the logits' value
and missing coefficients and the per-step part are FCs of the embedding); the attention-weighted
values and the output projection are one FC over [Σ w·value, Σ w·missing] and one over the
weights. In the spatial attention q_i·k_i = T_a·(W_qiᵀW_ki)T_b + a part constant along the keys
that the softmax drops, so each head's query and key are one d × d table, and its value and output
projections one FC after the attention-weighted rows (the value bias passes through the softmax's
unit row sums into a constant). The layer norms use keepdim means (no reshapes), the gate mixes as
S + g·(T − S), the persistence term is read from the transposed inputs. At the demo's shape this
exports 63 TFLite operators instead of 109 (fp32), and XNNPACK runs 66 operators an Invoke instead
of 113.

The folded model computes the same function as the trained one, in a different order of float
operations (differences ~1e-6 in the forecast). `fold` checks that on the windows it is given
before anything is exported from it, and refuses a model it does not reproduce (a change to
model.py's forward that this module does not follow). The int8 artifacts quantize the linear
layers and the folded tables (2-D constants of FCs) alike.
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
FOLD_FORM = ("temporal keys/values folded into per-step constants, every projection the weights allow folded "
             "into the tables it meets, in few operators (convert/fold.py): the same function as model.pt; the "
             "temporal attention costs O(N·T·d) instead of O(N·T·d²) per tick")


class FoldError(RuntimeError):
    """The folded model does not reproduce the trained model's outputs."""


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """norm(x) over the last axis with keepdim means: no reduction that drops an axis and a reshape to
    put it back (nn.LayerNorm's export: 14 operators; this one 9). eps is added to each centred square
    before their mean, the same number in exact arithmetic."""
    centred = x - x.mean(-1, keepdim=True)
    return centred * torch.rsqrt((centred * centred + norm.eps).mean(-1, keepdim=True)) * norm.weight + norm.bias


class FoldedForecaster(nn.Module):
    """SpatioTemporalForecaster with its temporal keys and values folded, in few operators (module doc)."""

    def __init__(self, model: SpatioTemporalForecaster):
        super().__init__()
        self.spec = model.spec
        self.model = model                      # its norms, gate and head run as they are
        steps, d = model.spec.steps, model.spec.d_model
        c = steps - 1
        t = model.temporal
        h, hd = t.heads, t.head_dim
        s = 1.0 / math.sqrt(hd)
        with torch.no_grad():
            ev, em = model.value_embedding, model.missing_embedding
            dt = ev.dtype
            # the newest context row's embedding: [values | missing] (B, N, 2T) @ embed.T + base
            embed = torch.zeros(d, 2 * steps, dtype=dt)
            embed[:, c - 1] = ev
            embed[:, steps + c - 1] = em
            base = model.step_embedding[c - 1] + model.sensor_embedding           # (N, d)
            # the temporal query (scaled), folded into every table it meets
            wq, bq = t.q.weight * s, t.q.bias * s                                  # (d, d), (d,)
            kv, km = t.k.weight @ ev, t.k.weight @ em                               # (d,)
            kc = model.step_embedding[:c] @ t.k.weight.T + t.k.bias                 # (C, d)
            vv, vm = t.v.weight @ ev, t.v.weight @ em
            vc = model.step_embedding[:c] @ t.v.weight.T + t.v.bias                 # (C, d)
            # the logits' coefficients of head i's context values (k = 0) and missing flags (k = 1): q·kv, q·km
            ab_w = torch.zeros(h, 2, d, dtype=dt)
            key_steps = torch.zeros(d, h * c, dtype=dt)
            for i in range(h):
                dims = slice(i * hd, (i + 1) * hd)
                ab_w[i, 0, dims] = kv[dims]
                ab_w[i, 1, dims] = km[dims]
                key_steps[dims, i * c:(i + 1) * c] = kc[:, dims].T
            ab_w = ab_w.reshape(2 * h, d)
            coefficients, offsets = ab_w @ wq, ab_w @ bq                  # (2h, d), (2h,): value, missing per head
            self.register_buffer("alpha_weight", coefficients[0::2].contiguous())
            self.register_buffer("alpha_bias", offsets[0::2].contiguous())
            self.register_buffer("beta_weight", coefficients[1::2].contiguous())
            self.register_buffer("beta_bias", offsets[1::2].contiguous())
            self.register_buffer("gamma_weight", (wq.T @ key_steps).T.contiguous())   # (hC, d)
            self.register_buffer("gamma_bias", bq @ key_steps)
            self.register_buffer("embed", embed)
            self.register_buffer("base", base.clone())
            wo, bo = t.out.weight, t.out.bias
            # out(mixed), mixed's head i = (Σ_c w·value)·vv_i + (Σ_c w·missing)·vm_i + Σ_c w_c·vc[c]_i
            xm_w = torch.zeros(d, h * 2, dtype=dt)
            steps_w = torch.zeros(d, h * c, dtype=dt)
            for i in range(h):
                dims = slice(i * hd, (i + 1) * hd)
                xm_w[dims, 2 * i] = vv[dims]
                xm_w[dims, 2 * i + 1] = vm[dims]
                steps_w[dims, i * c:(i + 1) * c] = vc[:, dims].T
            mix = wo @ xm_w                                                          # (d, 2h)
            self.register_buffer("mix_value_weight", mix[:, 0::2].contiguous())
            self.register_buffer("mix_missing_weight", mix[:, 1::2].contiguous())
            self.register_buffer("mix_steps_weight", (wo @ steps_w).contiguous())   # (d, hC)
            self.register_buffer("mix_bias", bo.clone())
            # spatial head i: logits = (T @ p_i.T + pb_i) @ T.T (+ a part constant along the keys, dropped
            # by the softmax); out = Σ_i (w_i @ T) @ u_i.T + u_bias (each row of w_i sums to 1)
            sp = model.spatial
            ss = 1.0 / math.sqrt(sp.head_dim)
            p_w, p_b, u_w = [], [], []
            for i in range(h):
                dims = slice(i * hd, (i + 1) * hd)
                wqi, bqi = sp.q.weight[dims], sp.q.bias[dims]
                wki = sp.k.weight[dims]
                p_w.append(ss * wki.T @ wqi)                                  # (d, d)
                p_b.append(ss * wki.T @ bqi)
                u_w.append(sp.out.weight[:, dims] @ sp.v.weight[dims])        # (d, d)
            # the keys are read as the temporal norm's output before its affine (T = y·g + b): g joins the
            # query side, q·b is constant along the keys (dropped)
            g = model.temporal_norm.weight
            self.register_buffer("p_weight", torch.cat([g[:, None] * w for w in p_w], 0))   # (h d, d)
            self.register_buffer("p_bias", torch.cat([g * b for b in p_b], 0))
            self.register_buffer("u_weight", torch.cat(u_w, 1))             # (d, h d)
            self.register_buffer("u_bias", sp.out.bias + sp.out.weight @ sp.v.bias)
            self.register_buffer("prior", (model.prior_scale * model.neighbour_mask).unsqueeze(1).clone())  # (N,1,N)

    def forward(self, values: torch.Tensor, missing: torch.Tensor):
        model = self.model
        n, c, d = self.spec.sensors, self.spec.steps - 1, self.spec.d_model
        h = model.temporal.heads
        batch = values.shape[0]
        rows = batch * n
        full = torch.cat([values, missing], dim=1).transpose(1, 2)         # (B, N, 2T)
        xm = full.reshape(rows, 2, c + 1)[..., :c]                          # (R, 2, C): context values, missing
        newest = nn.functional.linear(full, self.embed) + self.base          # (B, N, d)
        gamma = nn.functional.linear(newest, self.gamma_weight, self.gamma_bias).reshape(rows, h, c)
        # Elementwise with broadcasts, not batched matmuls over the R rows: XNNPACK packs a batched
        # matmul's right side every Invoke (variant 2: 72 operators, yet the Invoke 1.35× main's).
        xs, ms = xm[:, 0:1, :], xm[:, 1:2, :]                                # (R, 1, C)
        alpha = nn.functional.linear(newest, self.alpha_weight, self.alpha_bias).reshape(rows, h, 1)
        beta = nn.functional.linear(newest, self.beta_weight, self.beta_bias).reshape(rows, h, 1)
        weights = torch.softmax(xs * alpha + ms * beta + gamma, dim=-1)      # (R, h, C)
        t_mix = (nn.functional.linear((weights * xs).sum(-1).reshape(batch, n, h), self.mix_value_weight,
                                      self.mix_bias)
                 + nn.functional.linear((weights * ms).sum(-1).reshape(batch, n, h), self.mix_missing_weight)
                 + nn.functional.linear(weights.reshape(batch, n, h * c), self.mix_steps_weight))
        norm = model.temporal_norm
        pre = newest + t_mix
        centred = pre - pre.mean(-1, keepdim=True)
        scale = torch.rsqrt((centred * centred + norm.eps).mean(-1, keepdim=True))
        temporal = centred * scale * norm.weight + norm.bias                 # (B, N, d): _layer_norm's
        # The keys as (B, d, N) made by a product, not a transpose: a matmul by a transposed activation
        # exports as a FULLY_CONNECTED with non-constant weights, which XNNPACK does not take (the graph
        # ran in two delegate partitions with TFLite's own kernel between: 1.2× the scorer's time).
        keys = centred.transpose(1, 2) * scale.transpose(1, 2)
        p = nn.functional.linear(temporal, self.p_weight, self.p_bias).reshape(batch, n * h, d)
        logits = torch.matmul(p, keys).reshape(batch, n, h, n) + self.prior
        s_w = torch.softmax(logits, dim=-1)                               # (B, N, h, N)
        z = torch.matmul(s_w.reshape(batch, n * h, n), temporal).reshape(batch, n, h * d)
        s_mix = nn.functional.linear(z, self.u_weight, self.u_bias)
        spatial = _layer_norm(temporal + s_mix, model.spatial_norm)
        gate = torch.sigmoid(model.gate(torch.cat([temporal, spatial], dim=-1)))
        fused = spatial + gate * (temporal - spatial)
        delta = model.head_out(torch.relu(model.head_hidden(fused)))          # (B, N, 1)
        forecast = (full[..., c - 1:c] + delta).reshape(batch, n)            # persistence + correction
        return forecast, weights.mean(dim=1).reshape(batch, n, c), s_w.mean(dim=2)


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
