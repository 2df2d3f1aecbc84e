"""A sensor back from a fault is heard again only once what its score compares has left the fault (skab38 round).

A model tier with a profile scores each sensor's distance from normal of an EW level of the forecasts of the window's
ticks. The forecasts made while the sensor's gap was in the window are off (SKAB valve1/1: 3–12 × its error scale), so
when the gap has left the window the level still rests on them: a quiet of the window alone let that level open a
false alert (skab37). The quiet now lasts the level's settling too, with a profiled tier; the fallback, which has no
level, keeps the window alone.

A real pipeline (the tiny bundle, ONNX, the profile on) on the demo simulator's stream, one sensor withheld for five
ticks (a `missing` fault), beside a twin on the same stream without the gap.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from conftest import REPO, bundle_root, demo_dict, sim_rows, tiny_bundle

from agent.config import from_dict
from agent.pipeline import Pipeline

SENSOR = 4                       # S02_occ
GAP = range(400, 405)            # the ticks it is withheld (missing_s 60: a fault from its second tick)


def config(chain: list[str]):
    d = demo_dict(bundle_root())
    d["warmup"]["ticks"] = 300
    d["sinks"] = []
    d["scoring"].update(chain=chain, bundle=str(tiny_bundle()), profile={"enabled": True, "min_ticks": 10})
    d["faults"] = {"missing_s": 60}
    return from_dict(d, base_dir=str(REPO))


@functools.lru_cache(maxsize=None)
def stream():
    return sim_rows(config(["numpy"]), 0.2, seed=23, anomalies="none")


def run(chain: list[str], gap: bool) -> tuple[list[float | None], int | None]:
    """The sensor's score per tick (None while warming) and the tick its fault ended."""
    pipe = Pipeline(config(chain))
    scores, ended = [], None
    for k, row in enumerate(stream()):
        if gap and k in GAP:
            missing = row.missing.copy()
            missing[SENSOR] = True
            row = dataclasses.replace(row, values=np.where(missing, np.nan, row.values), missing=missing)
        res = pipe.step(row)
        if any(f.event == "fault_end" for f in res.faults):
            ended = k
        scores.append(None if res.sensor_scores is None else float(res.sensor_scores[SENSOR]))
    return scores, ended


def first_heard(scores: list[float | None], after: int) -> int:
    return next(k for k in range(after, len(scores)) if scores[k])


def test_a_sensor_back_from_a_fault_is_heard_again_with_the_score_it_would_have_had_without_the_gap():
    with_gap, ended = run(["onnx", "numpy"], gap=True)
    without, _ = run(["onnx", "numpy"], gap=False)
    assert ended is not None and ended > GAP[0]
    heard = first_heard(with_gap, ended)
    steps = 32
    # quiet for the window and the level's settling (⌈3 × 5⌉ ticks), then heard: not a tick more
    assert heard == ended + steps + 15
    # from then on its score is the twin's, within noise: the gap's forecasts have left what it compares
    # (main, quiet for the window alone: 2.3 against 0.7 on its first ticks, falling to the twin's over ~12 ticks)
    after = np.array(with_gap[heard:heard + 30]) - np.array(without[heard:heard + 30])
    assert np.abs(after).max() < 0.5, after.round(2)


def test_the_fallback_without_a_level_is_heard_again_once_the_gap_has_left_the_window():
    scores, ended = run(["numpy"], gap=True)
    assert ended is not None
    assert first_heard(scores, ended) == ended + 32
