"""Which sensors are neighbours: the spatial prior for the fusion scorer and the attention model."""
from __future__ import annotations

import numpy as np


def group_of(spec) -> str:
    return spec.group or spec.name.split("_", 1)[0]


def quantity_of(spec) -> str:
    return spec.name.split("_", 1)[1] if "_" in spec.name else spec.name


def neighbours(specs, topology: str) -> dict[str, list[str]]:
    """Neighbour names per sensor.

    corridor: the same quantity at the adjacent stations (groups in order of first appearance,
    upstream to downstream); group: the other sensors of the same station/machine; none: no
    neighbours. A sensor's explicit `neighbours` list always wins.
    """
    groups: list[str] = []
    for s in specs:
        g = group_of(s)
        if g not in groups:
            groups.append(g)
    by_key = {(group_of(s), quantity_of(s)): s.name for s in specs}
    out: dict[str, list[str]] = {}
    for s in specs:
        if s.neighbours is not None:
            out[s.name] = list(s.neighbours)
        elif topology == "corridor":
            gi = groups.index(group_of(s))
            near = [groups[j] for j in (gi - 1, gi + 1) if 0 <= j < len(groups)]
            out[s.name] = [by_key[(g, quantity_of(s))] for g in near if (g, quantity_of(s)) in by_key]
        elif topology == "group":
            out[s.name] = [o.name for o in specs if o.name != s.name and group_of(o) == group_of(s)]
        else:
            out[s.name] = []
    return out


def adjacency(specs, topology: str) -> np.ndarray:
    """(N, N) row-normalised neighbour weights; a row of zeros for a sensor without neighbours."""
    names = [s.name for s in specs]
    index = {n: i for i, n in enumerate(names)}
    a = np.zeros((len(names), len(names)))
    for name, near in neighbours(specs, topology).items():
        for other in near:
            a[index[name], index[other]] = 1.0
    rows = a.sum(axis=1, keepdims=True)
    return np.divide(a, rows, out=np.zeros_like(a), where=rows > 0)
