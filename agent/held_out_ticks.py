"""A hot-swap candidate's threshold is calibrated on the recent ticks it was not trained on.

Why (user29, measured again by user30): a bundle trained on the plant's recordings, delivered right after the
agent warmed up on those same recordings, had its profile (the per-sensor error scale) and its threshold fitted
on the recent ticks (agent/recent_ticks.py) — then nearly all its own training rows. Its forecast errors there
are in-sample small, so its threshold came out low (4.481) and on held-out live data it alerted where the
running bundle did not: rejected in shadow (alert-decision agreement 0.700). The same bundle six minutes later,
with ~1,100 live ticks among the recent ones, got 5.824 and agreement 0.925.

The bundle's manifest says what it was trained on: each segment's first tick (`data.segments[].first_ts`) and how
many of its rows were in the training part (`train`; the converter splits each segment by time, or a whole
recording by recording: convert/data.py). A segment is rows on the tick grid, so its training rows span
[first_ts, first_ts + train · tick_s). The recent ticks within those spans are not calm to the candidate's fit: its
threshold is calibrated on the scores of the ticks the model never saw, scored as live ticks will be. Their readings
stay (the windows over the held-out ticks keep their context, and the profile — its levels' normal, its error scale
— is fitted on every tick as before): making them missing as well put a window of missing rows before each held-out
stretch, whose forecasts then erred widely — on the demo bundle it raised a threshold from 3.9 to 15.2 for ticks
it had not been trained on at all. The validation rows count as held out: only early stopping and the bundle's own
threshold looked at them.

Fewer than `least` held-out calm ticks left (a ring of nothing but its training rows; the hot swap asks for what a
profile is fitted on at all: profile.min_ticks after a window's context): the fit is on every recent tick, as
before, and the log says that its threshold is fitted in-sample and how to judge it again (a SIGHUP once live ticks
have come). A manifest without segments (an older converter, a bundle made elsewhere): as before.
"""
from __future__ import annotations

import numpy as np


def trained_spans(data: dict | None, tick_s: float) -> list[tuple[float, float]]:
    """[start, end) data-time spans of the bundle's training rows, from its manifest's `data` block."""
    spans = []
    for seg in (data or {}).get("segments") or []:
        try:
            first, train = float(seg["first_ts"]), int(seg.get("train", 0))
        except (KeyError, TypeError, ValueError):
            continue
        if train > 0 and np.isfinite(first):
            spans.append((first, first + train * tick_s))
    return spans


def held_out(recent, data: dict | None, tick_s: float, least: int):
    """`recent` (z, missing, ts, calm: Pipeline.recent_ticks()'s copy) with the ticks in the bundle's training spans
    not calm (their readings kept: the windows' context); (those ticks, how many were taken out, how many calm ticks
    are left). With fewer than `least` calm ticks left, or none taken out, `recent` itself."""
    if recent is None:
        return recent, 0, 0
    z, missing, ts, calm = recent
    inside = np.zeros(len(ts), bool)
    for lo, hi in trained_spans(data, tick_s):
        inside |= (ts >= lo) & (ts < hi)
    taken = int(inside.sum())
    left = int((calm & ~inside).sum())
    if not taken or left < least:
        return recent, taken, left
    return (z, missing, ts, calm & ~inside), taken, left
