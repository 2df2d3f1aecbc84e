"""A model tier's threshold is calibrated on the ticks its bundle was not trained on: at the start warm-up and at a hot swap.

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

The same held at the start (calib1, found by user29–31): a user trains a bundle on the plant's recordings and
starts the agent with `warmup.replay` on those same recordings. Fitted on them, pump1's threshold came out 4.539
where its manifest says 10.880, and it raised 3 false alerts before day 7's labelled event; fitted on the warm-up
ticks its manifest says it was not trained on, 2,820 of 9,404, it raised none (docs/measured/first-week.md, "The
calib1 round"). One rule for both, applied where every model tier's profile is fitted (pipeline_fit.TierFitter):
the warm-up, a hot-swap candidate, a standby loaded late, a restart's `warmup.replay`.

Fewer than `least` held-out calm ticks left (a warm-up or a ring of nothing but its training rows; `least` is what a
profile is fitted on at all: profile.min_ticks after a window's context): the fit is on every tick, as
before, and the log says that its threshold is fitted in-sample and how to judge it again (a SIGHUP once live ticks
have come). A manifest without segments (an older converter, a bundle made elsewhere): as before.
"""
from __future__ import annotations

import numpy as np


def simulations(sources) -> frozenset:
    """The (scenario, seed) of the simulations an agent's `sources` play."""
    return frozenset((s.scenario, int(s.seed)) for s in sources if getattr(s, "TYPE", None) == "simulate")


def trained_spans(data: dict | None, tick_s: float, simulated: frozenset = frozenset()) -> list[tuple[float, float]]:
    """[start, end) data-time spans of the bundle's training rows, from its manifest's `data` block. None when it
    was trained on simulations only, none of which the agent plays (`simulated`: simulations(sources)): a
    simulation's rows are its seed's, not its times' — the demo bundle's seeds 3101–3103 span the demo's own seed-7
    days from the same 2026-01-05 start, and a recording of the demo's simulation is no training row of it either."""
    trained = (data or {}).get("sources") or []
    if trained and all(t.get("type") == "simulate" for t in trained) and not any(
            (t.get("scenario"), t.get("seed")) in simulated for t in trained):
        return []
    spans = []
    for seg in (data or {}).get("segments") or []:
        try:
            first, train = float(seg["first_ts"]), int(seg.get("train", 0))
        except (KeyError, TypeError, ValueError):
            continue
        if train > 0 and np.isfinite(first):
            spans.append((first, first + train * tick_s))
    return spans


def held_out(ts: np.ndarray, calm: np.ndarray | None, data: dict | None, tick_s: float, least: int,
             simulated: frozenset = frozenset()):
    """The ticks (their data times `ts`; `calm`: which the threshold may be calibrated on, None: all) with those in the
    bundle's training spans not calm (their readings kept: the windows' context); (that calm mask, how many were taken
    out, how many calm ticks are left). With fewer than `least` calm ticks left, or none taken out, `calm` itself.
    (`simulated`: trained_spans.)"""
    ts = np.asarray(ts, np.float64)
    inside = np.zeros(len(ts), bool)
    for lo, hi in trained_spans(data, tick_s, simulated):
        inside |= (ts >= lo) & (ts < hi)
    taken = int(inside.sum())
    was = np.ones(len(ts), bool) if calm is None else np.asarray(calm, bool)
    left = int((was & ~inside).sum())
    if not taken or left < least:
        return calm, taken, left
    return was & ~inside, taken, left
