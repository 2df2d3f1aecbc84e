"""`np.quantile(a, q)` (its default 'linear' method), and `np.nanmedian` by columns, without the import of numpy.ma
they make.

numpy's quantile finds the order statistics it needs through `np.unique`, which looks up
`np.ma.is_masked` and so imports numpy.ma (~1 MiB resident, never used otherwise) in the middle
of the warm-up's fit: the agent's peak. This is the same computation step by step — virtual index
(n − 1)·q, its floor and the next index (both the last element from index n − 1 on), numpy's
two-sided lerp, NaN when the data hold one, the same result types (a float for a Python float q,
float32 data giving float32 then) — on a partitioned copy, so the results are numpy's bit for bit
(tests/test_memory.py compares them on random data of both float types).
"""
from __future__ import annotations

import numpy as np


def quantile(a, q):
    """`np.quantile(a, q)` over all of `a` (flattened); `q` a number or a 1-D array in [0, 1]."""
    arr = np.array(a, copy=True).ravel()
    if arr.size == 0:
        raise ValueError("quantile of an empty array")
    weak_q = type(q) in (int, float)
    qs = np.asanyarray(q)
    if qs.ndim > 1:
        raise ValueError("q must be a number or a 1-D array")
    if not (qs.min() >= 0 and qs.max() <= 1):
        raise ValueError("quantiles must be in the range [0, 1]")
    n = arr.size
    virtual = np.asanyarray((n - 1) * qs)
    previous = np.floor(virtual, out=...)
    following = np.add(previous, 1, out=...)
    above = virtual >= n - 1
    previous[above] = -1
    following[above] = -1
    previous = previous.astype(np.intp)
    following = following.astype(np.intp)
    kth = sorted({0, n - 1, *(int(i) % n for i in previous.ravel()), *(int(i) % n for i in following.ravel())})
    arr.partition(kth)
    gamma = np.asanyarray(np.asanyarray(virtual - previous), dtype=virtual.dtype)
    gamma = float(gamma) if weak_q else gamma.reshape(virtual.shape)
    low, high = arr[previous], arr[following]
    diff = high - low
    result = np.add(low, diff * gamma, out=...)
    np.subtract(high, diff * (1 - gamma), out=result, where=gamma >= 0.5, casting="unsafe",
                dtype=type(result.dtype))
    if result.ndim == 0:
        result = result[()]
    if arr.dtype.kind in "fc" and np.isnan(arr[-1]):       # a NaN sorts last: numpy answers NaN
        result = arr[-1] if np.ndim(result) == 0 else np.full_like(result, arr[-1])
    return result


def nanmedian_columns(values: np.ndarray) -> np.ndarray:
    """`np.nanmedian(values, axis=0)` for a 2-D float array (NaN for a column with no number, without numpy's
    warning) without the import of numpy.ma it makes: under 600 rows numpy takes the median through np.ma. Each
    column's numbers sorted, the middle one or np.mean of the middle two, as np.median takes them (bit for bit:
    tests/test_memory.py)."""
    out = np.full(values.shape[1], np.nan)
    for i, col in enumerate(values.T):
        kept = np.sort(col[~np.isnan(col)])
        n = kept.size
        if n:
            out[i] = kept[n // 2] if n % 2 else np.mean(kept[n // 2 - 1:n // 2 + 1])
    return out


__all__ = ["nanmedian_columns", "quantile"]
