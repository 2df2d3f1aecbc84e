"""The attention tier's threshold sees the warm-up days, as the fallback's does (clock14).

Before: the pipeline fed the warm-up's scores (`seen_block`) to the numpy fallback's threshold only;
a model tier's threshold was built from its bundle's calibration and learned from its first live
tick. Its clock's scale (`threshold.clock_scale_*`, which acts once every bin has seen MIN_CYCLES = 2
periods) therefore first acted two periods after the warm-up, not one: on the corridor bench's
1 + 2 days, not on a single tick (docs/measured/accuracy-corridor.md, corridor3's candidate (d)).
These run the shipped demo bundle (real int8 TFLite) on the corridor simulator; check-config
says when the clock first acts and refuses bins narrower than the tick (no tick falls in some).
"""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import yaml

from agent.clock_scale import MIN_CYCLES
from agent.config import load
from agent.pipeline import Pipeline

from conftest import DEMO_BUNDLE, DEMO_CONFIG, REPO, demo_dict, sim_rows

PERIOD = 3600.0            # the shortest period the config allows: an hour, in 4 bins of 15 min
BINS = 4
STEPS = 32                 # configs/demo.yaml's window: the warm-up's first scored tick is its 32nd
WARM = int(PERIOD // 30) + STEPS - 1   # its scored ticks cover one period, every bin once


def corridor(clock: bool = True):
    cfg = load(DEMO_CONFIG)
    threshold = dataclasses.replace(cfg.threshold, clock_scale_period_s=PERIOD if clock else 0.0,
                                    clock_scale_bins=BINS)
    scoring = dataclasses.replace(cfg.scoring, bundle=str(DEMO_BUNDLE), models_dir=None, chain=["tflite", "numpy"])
    return dataclasses.replace(cfg, scoring=scoring, sinks=[], threshold=threshold,
                               warmup=dataclasses.replace(cfg.warmup, ticks=WARM))


def morning(cfg, periods: int):
    """The simulated corridor's warm-up, its first scored tick at 06:00 (an hour's start), then
    `periods` hours."""
    assert cfg.window.steps == STEPS
    rows = sim_rows(cfg, days=0.25 + (periods + 1) * PERIOD / 86400, anomalies="none")
    start = rows[0].ts + 6 * 3600 - (STEPS - 1) * cfg.tick_s
    return [r for r in rows if r.ts >= start][:WARM + int(periods * PERIOD / cfg.tick_s)]


def test_the_tiers_clock_learns_the_warm_up_scored_by_the_tier_and_acts_one_period_after_it():
    cfg = corridor()
    rows = morning(cfg, MIN_CYCLES)
    hour = rows[STEPS - 1].ts
    assert hour % PERIOD == 0
    pipe = Pipeline(cfg)
    tier = pipe.chain.tiers[0]
    assert tier.TYPE == "tflite"
    for row in rows[:WARM]:
        pipe.step(row)
    thr = pipe.thresholds["tflite"]
    assert thr.clock.cycles.tolist() == [1.0] * BINS          # before: [0, 0, 0, 0]
    # what it learned is the tier's own scores of the warm-up (capped at its threshold), not numpy's
    z = pipe.normaliser.apply(np.array([r.values for r in rows[:WARM]]))
    missing = np.array([r.missing for r in rows[:WARM]])
    scores = tier.warmup_scores(z, missing)
    ts = np.array([r.ts for r in rows[:WARM]])[-len(scores):]
    capped = np.clip(scores, 0.0, thr.value)
    expected = [capped[((ts % PERIOD) // (PERIOD / BINS)) == b].mean() for b in range(BINS)]
    assert thr.clock.mean.tolist() == pytest.approx(expected, rel=1e-9)
    assert thr.clock.mean.tolist() != pytest.approx(pipe.thresholds["numpy"].clock.mean.tolist(), rel=0.01)
    judged = []
    for row in rows[WARM:]:
        res = pipe.step(row)
        judged.append((row.ts, res.threshold, thr.value))
    # the first live period completes every bin's second cycle; the next acts
    first = [(t, j, v) for t, j, v in judged if t < hour + (MIN_CYCLES - 1) * PERIOD + 3 * PERIOD / BINS]
    second = [(t, j, v) for t, j, v in judged if t >= hour + (MIN_CYCLES - 1) * PERIOD]
    assert all(j == pytest.approx(v) for _, j, v in first)     # not before every bin has seen two periods
    assert any(j != pytest.approx(v, rel=1e-3) for _, j, v in second)   # before: 1 × the fitted value


def test_the_warm_up_scores_are_what_the_tier_scores_live():
    cfg = corridor(clock=False)
    rows = morning(cfg, 1)
    assert len(rows) == WARM + 120
    pipe = Pipeline(cfg)
    live = [pipe.step(r) for r in rows]
    tier, steps = pipe.chain.tiers[0], cfg.window.steps
    assert not pipe.thresholds["tflite"].learns_warmup and pipe.thresholds["tflite"].clock is None
    scored = [r.score for r in live if not r.warming]
    assert len(scored) == len(rows) - WARM and live[WARM].tier == "tflite"
    # the live scorer's first tick knows no earlier error, as the warm-up's first scored tick does
    part = rows[WARM - steps + 1:]
    z = pipe.normaliser.apply(np.array([r.values for r in part]))
    offline = tier.warmup_scores(z, np.array([r.missing for r in part]))
    assert offline.tolist() == pytest.approx(scored, rel=1e-6, abs=1e-9)


def check_config(tmp_path, threshold: dict, tick_s: float = 30.0, warmup_ticks: int = 2880):
    d = demo_dict(tmp_path)
    d["threshold"].update(threshold)
    d["tick_s"], d["warmup"]["ticks"] = tick_s, warmup_ticks
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(d))
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_check_config_says_when_the_clock_first_acts_and_refuses_bins_no_tick_falls_in(tmp_path):
    day = {"clock_scale_period_s": 86400, "clock_scale_bins": 48}
    res = check_config(tmp_path, day)                 # the demo's warm-up: one day of 30-s ticks
    assert res.returncode == 0, res.stderr
    assert ("threshold.clock_scale_period_s: the clock's factor acts once every bin has seen 2 periods (2.0 d) of "
            "scores, the warm-up's (24.0 h) included: from about 24.0 h after the end of warm-up") in res.stderr
    assert "clock_scale" not in check_config(tmp_path, day, warmup_ticks=5760).stderr     # two days: at once
    assert "clock_scale" not in check_config(tmp_path, {}).stderr                         # off
    narrow = check_config(tmp_path, {"clock_scale_period_s": 3600, "clock_scale_bins": 240})
    assert narrow.returncode == 2
    assert ("threshold.clock_scale_bins: 240 bins of 3600 s are 15 s each, shorter than the tick (30 s)"
            in narrow.stderr) and "at most 120 bins" in narrow.stderr
