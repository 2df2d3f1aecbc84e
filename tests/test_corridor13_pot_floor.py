"""POT's value stays at its starting point when the risk outruns the live peak rate (corridor13).

corridor12 saw the tails' tier learn peaks at 0.4 % of ticks against a risk of 1.6 %: with r = risk · n / n_peaks
past 1 every 256 calm ticks recomputed the value lower, below the starting point where no peak can be learned
again, and it slid all run. Here a real AdaptiveThreshold is fed a quiet stream: the value must stop at the
starting point, say so once, and come back above it once threshold.memory_ticks re-takes the fit."""
from __future__ import annotations

import logging

import numpy as np

from agent.config import ThresholdConfig
from agent.threshold import AdaptiveThreshold, calibrate


def calibrated(cfg: ThresholdConfig) -> AdaptiveThreshold:
    cal = np.abs(np.random.default_rng(13).standard_normal(3000))
    return AdaptiveThreshold(cfg, calibrate(cal, cfg))


def test_a_quiet_stream_holds_the_value_at_the_starting_point(caplog):
    """Risk 1 % against a 2 % calibrated peak rate; then 8,000 scores none of which is a peak: the peak rate
    falls under the risk after ~3,000 ticks, and the value must not go under the starting point."""
    thr = calibrated(ThresholdConfig(risk=0.01))
    start, first = thr.init, thr.value
    assert first > start                               # r = 0.5 at calibration: POT extrapolates above init
    quiet = np.full(8000, 0.5 * start)
    with caplog.at_level(logging.WARNING, logger="stad.threshold"):
        values = []
        for s in quiet:
            thr.update(float(s))
            values.append(thr.value)
    assert min(values) == start                         # it reached the starting point and stayed there
    assert values[-1] == start
    held = [r for r in caplog.records if "starting point" in r.getMessage()]
    assert len(held) == 1
    assert "threshold.memory_ticks" in held[0].getMessage()
    assert "threshold.risk 0.01 " in held[0].getMessage()


def test_memory_ticks_re_takes_the_starting_point_on_the_recent_scores():
    """The same quiet start, then a stream like the calibration's with memory_ticks 1000: the refit takes its
    starting point from the recent scores and the value is above it again (the guard only holds, never fits)."""
    thr = calibrated(ThresholdConfig(risk=0.01, memory_ticks=1000))
    for s in np.full(3500, 0.5 * thr.init):
        thr.update(float(s))
    live = np.abs(np.random.default_rng(14).standard_normal(2000))
    for s in live:
        thr.update(float(s))
    assert thr.n_peaks > 0                              # refitted on the last 1000 learned scores: peaks again
    assert 1000 <= thr.n < 1000 + 256
    assert thr.value > thr.init
