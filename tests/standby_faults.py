"""Shared by the standby tests (swap3, swap4): the demo chain whose thresholds learn from warm-up scores, tflite
broken for real, and a standby pipeline stepped beside one whose tiers were all loaded at start."""
from __future__ import annotations

import numpy as np
from conftest import DEMO_BUNDLE, REPO, demo_dict

from agent.config import from_dict

CHAIN = ["tflite", "onnx", "numpy"]
WARMUP = 300


def learning_cfg(tmp_path):
    """The demo chain without a profile, its thresholds learning from warm-up scores (the likelihood's mean path:
    it acts from the first tick, where the clock scale and the recurring level need days)."""
    d = demo_dict(tmp_path, chain=CHAIN, bundle=str(DEMO_BUNDLE), probation_ticks=100000)
    d["warmup"]["ticks"] = WARMUP
    d.setdefault("threshold", {})["likelihood"] = {"mean_ticks": 10, "also_surprisal": True, "sigmas": 6}
    return from_dict(d, base_dir=str(REPO))


def break_tflite(tfl) -> None:
    """tflite's runtime now rejects the window (its C++ interpreter's input resized): its next invoke raises."""
    tfl.interpreter._interpreter.ResizeInputTensor(tfl._in[0][0], np.array([1, 31, 18], np.int32), False)


def judged_after_a_fault(standby, loaded, ticks, window_steps: int, fault: int = 20) -> None:
    """Step both pipelines over `ticks`, tflite broken in both at tick `fault`: the standby scores the fault tick
    with numpy while onnx loads, then onnx; from a window past the load on (the fresh session's forecast history
    refilled) it scores and is judged as the tier loaded at start — its threshold learned the same warm-up
    scores, and the live ticks since it scores (one fewer: the fault's)."""
    trace = {"standby": [], "loaded": []}
    for i, r in enumerate(ticks):
        if i == fault:
            for pipe in (standby, loaded):
                break_tflite(pipe.chain.tiers[0])
        for name, pipe in (("standby", standby), ("loaded", loaded)):
            res = pipe.step(r)
            trace[name].append((res.tier, res.score, res.threshold))
            if pipe.chain.loading is not None:
                pipe.chain.loading.join(timeout=240)
    assert trace["standby"][fault][0] == "numpy" and trace["loaded"][fault][0] == "onnx"
    assert {t for t, _, _ in trace["standby"][fault + 1:]} == {"onnx"}
    later = slice(fault + 1 + 2 * window_steps, None)
    s_thr = np.array([t for _, _, t in trace["standby"][later]])
    l_thr = np.array([t for _, _, t in trace["loaded"][later]])
    assert len(s_thr) > 100
    np.testing.assert_allclose(s_thr, l_thr, rtol=0.02)
    np.testing.assert_allclose([s for _, s, _ in trace["standby"][later]], [s for _, s, _ in trace["loaded"][later]],
                               rtol=1e-4)
