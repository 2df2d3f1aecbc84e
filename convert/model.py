"""The forecasting model: temporal attention per sensor, spatial attention across sensors, gated fusion.

Inputs (batch B, window T, sensors N), as the agent's WindowBuffer holds them:
    values  (B, T, N) float32, normalised (missing = 0)
    missing (B, T, N) float32, 1 where missing
Outputs, in this order:
    forecast            (B, N)      the newest row (index T-1), predicted from rows 0..T-2
    temporal_attention  (B, N, T-1) how much each context step mattered, per sensor (head mean)
    spatial_attention   (B, N, N)   how much each sensor looked at every other one (head mean)

Only the newest context step asks the temporal question (one query per sensor instead of T),
so temporal attention costs O(T) per sensor rather than O(T²). Every shape is fixed by T, N and
the hyperparameters: no data-dependent control flow, so ONNX and TFLite export trace cleanly.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from agent.scorers.model_scorer import INPUT_NAMES, OUTPUT_NAMES  # noqa: F401 — the agent's contract, defined once (convert/export.py, runners.py import it from here)

if TYPE_CHECKING:
    from agent.config import AgentConfig


@dataclass
class ModelSpec:
    sensors: int
    steps: int            # T: the window length; the model reads T-1 context rows
    d_model: int = 32
    heads: int = 2
    ff_hidden: int = 32
    members: int = 1      # > 1: an ensemble of that many forecasters, their outputs averaged

    def as_dict(self) -> dict:
        return asdict(self)

    def member(self) -> ModelSpec:
        return replace(self, members=1)


class _MultiHead(nn.Module):
    """Query, key, value and output projections split into `heads` heads."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by heads ({heads})")
        self.heads = heads
        self.head_dim = d_model // heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)


class SingleQueryAttention(_MultiHead):
    """Multi-head attention of one query per row against that row's L context vectors.

    query (R, d), context (R, L, d) → output (R, d), weights (R, L) averaged over heads.
    """

    def forward(self, query: torch.Tensor, context: torch.Tensor):
        rows, length, d = context.shape
        h, hd = self.heads, self.head_dim
        q = self.q(query).reshape(rows, h, 1, hd)
        k = self.k(context).reshape(rows, length, h, hd).permute(0, 2, 3, 1)   # (R, h, hd, L)
        v = self.v(context).reshape(rows, length, h, hd).permute(0, 2, 1, 3)   # (R, h, L, hd)
        logits = torch.matmul(q, k) * (1.0 / math.sqrt(hd))                     # (R, h, 1, L)
        weights = torch.softmax(logits, dim=-1)
        mixed = torch.matmul(weights, v).reshape(rows, d)                       # (R, d)
        return self.out(mixed), weights.mean(dim=1).reshape(rows, length)


class SensorAttention(_MultiHead):
    """Multi-head self-attention across the N sensors of one step, with an additive (N, N) prior.

    x (B, N, d) → output (B, N, d), weights (B, N, N) averaged over heads.
    """

    def forward(self, x: torch.Tensor, prior: torch.Tensor):
        batch, n, d = x.shape
        h, hd = self.heads, self.head_dim
        q = self.q(x).reshape(batch, n, h, hd).permute(0, 2, 1, 3)   # (B, h, N, hd)
        k = self.k(x).reshape(batch, n, h, hd).permute(0, 2, 3, 1)   # (B, h, hd, N)
        v = self.v(x).reshape(batch, n, h, hd).permute(0, 2, 1, 3)   # (B, h, N, hd)
        logits = torch.matmul(q, k) * (1.0 / math.sqrt(hd)) + prior   # (B, h, N, N)
        weights = torch.softmax(logits, dim=-1)
        mixed = torch.matmul(weights, v).permute(0, 2, 1, 3).reshape(batch, n, d)
        return self.out(mixed), weights.mean(dim=1)


class SpatioTemporalForecaster(nn.Module):
    def __init__(self, spec: ModelSpec, neighbour_mask: np.ndarray | None = None):
        super().__init__()
        self.spec = spec
        n, context, d = spec.sensors, spec.steps - 1, spec.d_model
        self.value_embedding = nn.Parameter(torch.randn(d) * 0.5)      # a reading's value → d
        self.missing_embedding = nn.Parameter(torch.randn(d) * 0.5)    # its missing flag → d
        self.sensor_embedding = nn.Parameter(torch.randn(n, d) * 0.1)
        self.step_embedding = nn.Parameter(torch.randn(context, d) * 0.1)
        self.temporal = SingleQueryAttention(d, spec.heads)
        self.temporal_norm = nn.LayerNorm(d)
        self.spatial = SensorAttention(d, spec.heads)
        self.spatial_norm = nn.LayerNorm(d)
        self.gate = nn.Linear(2 * d, d)
        self.head_hidden = nn.Linear(d, spec.ff_hidden)
        self.head_out = nn.Linear(spec.ff_hidden, 1)
        mask = np.zeros((n, n), np.float32) if neighbour_mask is None else np.asarray(neighbour_mask, np.float32)
        if mask.shape != (n, n):
            raise ValueError(f"neighbour mask has shape {mask.shape}, expected ({n}, {n})")
        self.register_buffer("neighbour_mask", torch.from_numpy(mask.copy()))
        self.prior_scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, values: torch.Tensor, missing: torch.Tensor):
        n, context, d = self.spec.sensors, self.spec.steps - 1, self.spec.d_model
        x = values[:, :context, :]
        m = missing[:, :context, :]
        batch = values.shape[0]
        # Elementwise embedding (no matmul on the raw inputs, so int8 export keeps float inputs).
        h = (x.unsqueeze(-1) * self.value_embedding + m.unsqueeze(-1) * self.missing_embedding
             + self.step_embedding.unsqueeze(1))                                 # (B, C, N, d)
        per_sensor = h.permute(0, 2, 1, 3).reshape(batch * n, context, d)        # (B·N, C, d)
        # The sensor's identity joins at the query: which past steps matter depends on the sensor.
        newest = (per_sensor[:, context - 1, :].reshape(batch, n, d)
                  + self.sensor_embedding).reshape(batch * n, d)                 # (B·N, d)

        t_mix, t_weights = self.temporal(newest, per_sensor)
        temporal = self.temporal_norm(newest + t_mix).reshape(batch, n, d)

        forecast, s_weights = self.spatial_and_head(temporal, x[:, context - 1, :])
        return (forecast,
                t_weights.reshape(batch, n, context),
                s_weights)

    def spatial_and_head(self, temporal: torch.Tensor, last: torch.Tensor):
        """Everything after the temporal attention, given each sensor's temporal summary (B, N, d)
        and its last observed value (B, N): the folded export (fold.py) shares this part as is."""
        s_mix, s_weights = self.spatial(temporal, self.prior_scale * self.neighbour_mask)
        spatial = self.spatial_norm(temporal + s_mix)

        gate = torch.sigmoid(self.gate(torch.cat([temporal, spatial], dim=-1)))
        fused = gate * temporal + (1.0 - gate) * spatial
        delta = self.head_out(torch.relu(self.head_hidden(fused))).reshape(last.shape)
        return last + delta, s_weights                                           # persistence + correction


class EnsembleForecaster(nn.Module):
    """`spec.members` forecasters trained apart (different seeds), one graph: the forecast and both
    attention maps are the members' means.

    Why: bundles trained the same way with different seeds sit at different points of the
    false-alarm / miss trade-off on real plant data (SKAB: F1 0.77 to 0.86 on the same files), so a
    user who trains one bundle gets a coin toss. The mean of K forecasts varies across seeds about
    √K less; the price is K× the model's inference cost per tick.
    """

    def __init__(self, spec: ModelSpec, neighbour_mask: np.ndarray | None = None,
                 members: list[nn.Module] | None = None):
        super().__init__()
        if spec.members < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {spec.members}")
        self.spec = spec
        if members is None:
            members = [SpatioTemporalForecaster(spec.member(), neighbour_mask) for _ in range(spec.members)]
        if len(members) != spec.members:
            raise ValueError(f"{len(members)} members given, the spec says {spec.members}")
        self.members = nn.ModuleList(members)

    def forward(self, values: torch.Tensor, missing: torch.Tensor):
        outputs = [m(values, missing) for m in self.members]
        scale = 1.0 / len(outputs)
        return tuple(sum(parts) * scale for parts in zip(*outputs))


def neighbour_mask_from_config(cfg: AgentConfig) -> np.ndarray:
    """1 where the config's topology makes two sensors neighbours, and on the diagonal."""
    from agent.topology import adjacency

    a = adjacency(cfg.sensor_specs(), cfg.topology) > 0
    return (a | np.eye(a.shape[0], dtype=bool)).astype(np.float32)


def build_model(spec: ModelSpec, neighbour_mask: np.ndarray | None = None) -> nn.Module:
    """The spec's forecaster: one, or an EnsembleForecaster of `spec.members`."""
    if spec.members > 1:
        return EnsembleForecaster(spec, neighbour_mask)
    return SpatioTemporalForecaster(spec, neighbour_mask)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
