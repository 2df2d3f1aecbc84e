"""A prototype (perf74, issue 16): the forecaster in streaming form — past steps' keys and values kept in a
ring between ticks, the graph computing one step's projections instead of T.

Why try it: issue 16 says "past steps' keys and values do not change between ticks except for the newest: a
streaming model computes one step per tick". In model.py's forward a context row's key is

    k = W_k (value·e_v + missing·e_m + step_embedding[c]) + b_k
      = value·(W_k e_v) + missing·(W_k e_m)   +   (W_k step_embedding[c] + b_k)
        └── position-free: fixed once the row is read ┘   └── c = the row's place in the window ┘

(no layer norm between the embedding and the projections: temporal_norm comes after the attention, so the
split is exact). The step embedding is by the row's *place in the window*, which moves by one every tick: what
stays the same between ticks is the position-free part only. So the streaming form keeps that part in a ring
(one (N, d) key row and one value row computed per tick, for the row that enters the context) and adds the
step part as a constant (C, d) table; the query, the softmax and everything after are model.py's own.

What it is measured against: the shipped artifact is already convert/fold.py's form, in which the position-free
part is not a d-vector at all but two scalars times two constant vectors — the window itself is the "ring".
This module exists to measure whether holding the d-vectors instead cuts the tick (docs/measured/speed.md,
the perf74 round).

Graph inputs (batch 1): newest_values, newest_missing (1, N) — the newest context row (the window's row T-2:
the query and the persistence term); key_ring, value_ring (1, C, N, d) — the context rows' position-free key and
value parts, oldest first (StreamRing). Outputs as model.py's.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .model import SpatioTemporalForecaster

STREAM_INPUTS = ("newest_values", "newest_missing", "key_ring", "value_ring")


class StreamingForecaster(nn.Module):
    """SpatioTemporalForecaster fed by a ring of its context rows' position-free keys and values."""

    def __init__(self, model: SpatioTemporalForecaster, by_head: bool = False):
        super().__init__()
        self.spec = model.spec
        self.model = model
        self.by_head = by_head      # rings (1, N, h, C, hd): the softmax over the last axis, no transposes in the graph
        t = model.temporal
        with torch.no_grad():
            self.register_buffer("key_steps", model.step_embedding @ t.k.weight.T + t.k.bias)      # (C, d)
            self.register_buffer("value_steps", model.step_embedding @ t.v.weight.T + t.v.bias)

    def position_free(self) -> dict[str, np.ndarray]:
        """The four d-vectors a ring row is made of: key = value·key_value + missing·key_missing (likewise the value)."""
        m, t = self.model, self.model.temporal
        with torch.no_grad():
            parts = {"key_value": t.k.weight @ m.value_embedding, "key_missing": t.k.weight @ m.missing_embedding,
                     "value_value": t.v.weight @ m.value_embedding, "value_missing": t.v.weight @ m.missing_embedding}
        return {k: v.detach().numpy() for k, v in parts.items()}     # the model's dtype

    def forward(self, newest_values, newest_missing, key_ring, value_ring):
        model, t = self.model, self.model.temporal
        n, context, d = self.spec.sensors, self.spec.steps - 1, self.spec.d_model
        h, hd = t.heads, t.head_dim
        newest = (newest_values.unsqueeze(-1) * model.value_embedding
                  + newest_missing.unsqueeze(-1) * model.missing_embedding
                  + model.step_embedding[context - 1] + model.sensor_embedding).reshape(n, d)
        if self.by_head:
            q = t.q(newest).reshape(n, h, 1, hd) * (1.0 / math.sqrt(hd))
            steps = context, h, hd
            k = key_ring.reshape(n, h, context, hd) + self.key_steps.reshape(steps).permute(1, 0, 2)
            v = value_ring.reshape(n, h, context, hd) + self.value_steps.reshape(steps).permute(1, 0, 2)
            weights = torch.softmax((q * k).sum(-1), dim=-1)                              # (N, h, C)
            mixed = (weights.unsqueeze(-1) * v).sum(2).reshape(n, d)
            temporal = model.temporal_norm(newest + t.out(mixed)).reshape(1, n, d)
            forecast, s_weights = model.spatial_and_head(temporal, newest_values)
            return forecast, weights.mean(1).reshape(1, n, context), s_weights
        q = t.q(newest).reshape(1, n, h, hd) * (1.0 / math.sqrt(hd))                  # (1, N, h, hd)
        k = (key_ring.reshape(context, n, d) + self.key_steps.unsqueeze(1)).reshape(context, n, h, hd)
        v = (value_ring.reshape(context, n, d) + self.value_steps.unsqueeze(1)).reshape(context, n, h, hd)
        weights = torch.softmax((q * k).sum(-1), dim=0)                                 # (C, N, h)
        mixed = (weights.unsqueeze(-1) * v).sum(0).reshape(n, d)                         # (N, d)
        temporal = model.temporal_norm(newest + t.out(mixed)).reshape(1, n, d)
        forecast, s_weights = model.spatial_and_head(temporal, newest_values)
        return forecast, weights.mean(-1).T.reshape(1, n, context), s_weights


class StreamRing:
    """The agent side: the key and value rings, oldest first, in arrays it is given (the interpreter's own input
    tensors): (1, C, N, d), or (1, N, h, C, hd) for the by-head graph, seen here as (C, N, h, hd) views.
    `push(values_row, missing_row)` per tick: one shift and one new row each."""

    def __init__(self, parts: dict[str, np.ndarray], key_ring: np.ndarray, value_ring: np.ndarray):
        rings = [r[0] if r.ndim == 4 else r[0].transpose(2, 0, 1, 3) for r in (key_ring, value_ring)]
        tail = rings[0].shape[2:]                                   # (d,) or (h, hd)
        p = {k: v.reshape(tail) for k, v in parts.items()}
        self.rings = ((rings[0], p["key_value"], p["key_missing"]), (rings[1], p["value_value"], p["value_missing"]))

    def push(self, values_row: np.ndarray, missing_row: np.ndarray) -> None:
        for ring, a, b in self.rings:
            ring[:-1] = ring[1:]                                     # numpy copies overlapping rows safely
            np.multiply.outer(values_row, a, out=ring[-1])
            ring[-1] += np.multiply.outer(missing_row, b)

    def fill(self, values: np.ndarray, missing: np.ndarray) -> None:
        """From a whole (T, N) window: its context rows 0..T-2."""
        for ring, a, b in self.rings:
            ring[...] = np.multiply.outer(values[:-1], a) + np.multiply.outer(missing[:-1], b)


class StreamNamed(nn.Module):
    """Keyword inputs and named outputs, as convert/export.py's NamedOutputs."""

    def __init__(self, model: StreamingForecaster):
        super().__init__()
        self.model = model

    def forward(self, newest_values, newest_missing, key_ring, value_ring):
        forecast, temporal, spatial = self.model(newest_values, newest_missing, key_ring, value_ring)
        return {"forecast": forecast, "temporal_attention": temporal, "spatial_attention": spatial}


def ring_shape(model: StreamingForecaster) -> tuple[int, ...]:
    spec, h = model.spec, model.model.temporal.heads
    if model.by_head:
        return 1, spec.sensors, h, spec.steps - 1, spec.d_model // h
    return 1, spec.steps - 1, spec.sensors, spec.d_model


def stream_inputs(model: StreamingForecaster, values: np.ndarray, missing: np.ndarray) -> dict[str, np.ndarray]:
    """The streaming inputs of one (T, N) window (what StreamRing holds after pushing its rows)."""
    parts = model.position_free()
    key = np.zeros(ring_shape(model), values.dtype)
    value = np.zeros_like(key)
    StreamRing(parts, key, value).fill(values, missing)
    return {"newest_values": values[None, -2].astype(values.dtype), "newest_missing": missing[None, -2].astype(values.dtype),
            "key_ring": key, "value_ring": value}
