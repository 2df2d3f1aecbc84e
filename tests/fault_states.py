"""Fault-rule states as the checkpoint carries them, for the tests that restore or compare them.

Since perf40 a rule's rings and kept runs are arrays in its state() (checkpoint.py writes their raw
bytes), not lists of JSON numbers: a state no longer goes through `json.dumps`. `saved` sends one
through the checkpoint's own encode / decode instead (the arrays narrowed and read back, as a restart
reads them); `text` is a state as comparable text (the arrays as lists, NaN kept as NaN)."""
from __future__ import annotations

import json

import numpy as np

from agent.checkpoint import decode, encode


def saved(state: dict) -> dict:
    """`state` as a restart reads it back from checkpoint.bin."""
    return decode(encode({}, {"state": state}))[1]["state"]


def text(state) -> str:
    """`state` as sorted JSON text: two states compare equal when every value and array is the same."""
    return json.dumps(state, sort_keys=True, default=_plain)


def _plain(x):
    if isinstance(x, np.ndarray):
        return {"array": x.dtype.kind, "shape": list(x.shape), "values": x.tolist()}
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not a state value: {type(x).__name__}")


def assert_close(got, want, rtol: float = 1e-9, path: str = "") -> None:
    """`got` equals `want` in structure, keys, shapes, dtypes and every value but floats, which agree to
    `rtol` (NaN where NaN). For a state or outputs one machine recorded and another computes again: the
    same code rounds a sum differently on another CPU (numpy's SIMD paths; the e4f9c19 fixture, written on
    an Intel runner, differs here on an AMD EPYC by up to 4e-14 relative), so bit equality holds only on
    the machine that wrote it. Two runs on one machine are still compared as text (`text`)."""
    where = path or "the top"
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            assert_close(got[k], want[k], rtol, f"{path}/{k}")
    elif isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
        g, w = np.asarray(got), np.asarray(want)
        assert g.shape == w.shape and g.dtype.kind == w.dtype.kind, f"{where}: {g.dtype}{g.shape} != {w.dtype}{w.shape}"
        if w.dtype.kind == "f":
            assert np.allclose(g, w, rtol=rtol, atol=0.0, equal_nan=True), \
                f"{where}: largest difference {np.nanmax(np.abs(g - w))}"
        else:
            assert np.array_equal(g, w), f"{where}: {g} != {w}"
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, rtol, f"{path}[{i}]")
    elif isinstance(want, (float, np.floating)) and not isinstance(want, bool):
        assert isinstance(got, (float, int, np.floating)) and not isinstance(got, bool), f"{where}: {got!r} != {want!r}"
        assert (got != got and want != want) or abs(got - want) <= rtol * abs(want), f"{where}: {got!r} != {want!r}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"
