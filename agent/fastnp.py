"""numpy functions the per-tick code calls most, without their `__array_function__` dispatch.

At a few dozen sensors a numpy call is nearly all fixed cost, and for `np.where`, `np.copyto`,
`np.ravel_multi_index`, `np.concatenate`, `np.dot`, `np.count_nonzero`, `np.einsum` and `np.clip` much of it is the
dispatch every call makes first (a Python dispatcher call, then a check of every argument for an `__array_function__`
override), which only matters for array-likes other than ndarray. The agent's per-tick code
passes ndarrays and scalars only, so it calls what those functions call after the dispatch: the
same C functions, the same results bit for bit, at ~0.2–0.7 µs less per call (numpy 2.4, 18
elements: `where` 1.24 → 0.50 µs, `copyto` 0.51 → 0.16, `count_nonzero` 0.18 → 0.04, `einsum`
1.76 → 0.98). A numpy without these attributes gets the public functions.

`count_nonzero` here takes no `axis`; `einsum` no `optimize` (the agent never asks for either).
"""
from __future__ import annotations

import numpy as np


def _bare(func):
    """The implementation behind a dispatched numpy function (the function itself if none)."""
    return getattr(func, "_implementation", func)


where = _bare(np.where)
copyto = _bare(np.copyto)
ravel_multi_index = _bare(np.ravel_multi_index)
concatenate = _bare(np.concatenate)
dot = _bare(np.dot)                     # (0.52 → 0.31 µs a gemv at N = 16)
try:                                    # what np.count_nonzero(a) and np.einsum(...) call in the end
    from numpy._core.multiarray import c_einsum as einsum
    from numpy._core.multiarray import count_nonzero
except ImportError:                     # pragma: no cover - another numpy layout
    einsum, count_nonzero = np.einsum, np.count_nonzero
# np.clip(a, lo, hi) goes through Python (its dispatcher, then _methods._clip) before this ufunc; the
# ufunc is min(max(a, lo), hi) in one call: the same values (a selection, no arithmetic; NaN kept) for
# bounds that are not zero (with a zero bound a zero's sign may differ).
clip = getattr(getattr(np, "_core", np), "umath", np).clip


def const(value, dtype=np.float64) -> np.ndarray:
    """`value` as a read-only 0-d array, for a per-tick operand beside an array: the same result,
    bit for bit, as the Python number (a float with a float64 array, or compared with any real
    array: float64 either way), without the conversion numpy makes of a Python scalar on every
    call (16 elements: `a * 0.5` 0.43 → 0.28 µs, `a == 0` 0.55 → 0.28, `np.maximum(a, 0.0)` 0.48 →
    0.33). Not for an integer array's arithmetic (a float64 0-d would make its result float)."""
    out = np.array(value, dtype)
    out.flags.writeable = False
    return out


def max_of(a: np.ndarray) -> float:
    """`float(np.maximum.reduce(a))` of a non-empty 1-D float array, bit for bit, at ~0.5 µs where a ufunc
    reduce costs 1.5–2.5 µs (numpy 2.4, 18 elements; perf51): the entry `argmax` picks. argmax returns the
    first largest entry, or the first NaN when there is one, so a pick that is neither zero nor NaN is the
    reduce's value (equal non-zero floats are the same bits). A NaN, or a largest value of zero — whose sign,
    with +0 and −0 both in `a`, the reduce's order decides — is the reduce's own."""
    v = float(a[a.argmax()])
    return v if v != 0.0 and v == v else float(np.maximum.reduce(a))
