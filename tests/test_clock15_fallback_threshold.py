"""`threshold.numpy`: the numpy fallback's own threshold keys, the model tiers keeping `threshold`'s (clock15).

Why: the clock's scale (`threshold.clock_scale_*`) helps the fallback on every corridor figure and makes
the attention tier raise more alerts (docs/measured/accuracy-corridor.md, clock14); one setting for every
tier could not give a gateway that runs the fallback alone the gain. These load the override through
the config loader and check-config, and run the real pipeline — the shipped demo bundle (int8 TFLite)
and the fallback — on the corridor simulator.
"""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import yaml

from agent.clock_scale import MIN_CYCLES
from agent.config import from_dict
from agent.pipeline import Pipeline

from conftest import DEMO_BUNDLE, REPO, demo_dict, sim_rows, threshold_problems

PERIOD = 3600.0            # the shortest period the config allows: an hour, in 4 bins of 15 min
BINS = 4
STEPS = 32                 # configs/demo.yaml's window
WARM = int(PERIOD // 30) + STEPS - 1   # the warm-up's scored ticks cover one period, every bin once
CLOCK = {"clock_scale_period_s": PERIOD, "clock_scale_bins": BINS, "clock_scale_raise_only": True}


def test_the_block_changes_the_fallbacks_keys_only_and_nothing_without_it(tmp_path):
    d = demo_dict(tmp_path)
    d["threshold"] = {"risk": 0.002, "quiet_s": 600, "numpy": {**CLOCK, "risk": 0.0005}}
    thr = from_dict(d, base_dir=str(REPO)).threshold
    fallback = thr.for_tier("numpy")
    assert (fallback.clock_scale_period_s, fallback.clock_scale_bins, fallback.clock_scale_raise_only) == \
        (PERIOD, BINS, True)
    assert fallback.risk == 0.0005 and fallback.quiet_s == 600          # a key not given is threshold's
    assert thr.for_tier("tflite") is thr and thr.clock_scale_period_s == 0 and thr.risk == 0.002
    d["threshold"] = {"risk": 0.002}
    plain = from_dict(d, base_dir=str(REPO)).threshold
    assert plain.for_tier("numpy") is plain                            # no block: the same settings object
    d["threshold"] = {"risk": 0.002, "numpy": {"risk": None}}          # null: threshold's
    assert from_dict(d, base_dir=str(REPO)).threshold.for_tier("numpy").risk == 0.002


def test_every_bad_key_of_the_block_is_reported_with_its_path(tmp_path):
    problems = threshold_problems(tmp_path, (
        "{recurring_period_s: 86400, numpy: {clock_scale_perod_s: 86400, method: quantile, risk: two, "
        "recurring_tolerance_s: 50000, memory_ticks: 100, discord_ticks: 8}}"))
    assert problems == [
        "threshold.numpy.clock_scale_perod_s: unknown key (did you mean 'clock_scale_period_s'?)",
        "threshold.numpy.method: not per tier: `threshold.method` is every tier's (a checkpoint is taken with one method)",
        "threshold.numpy.discord_ticks: not per tier: the discord path (`threshold.discord_ticks`) watches the "
        "readings, not a tier's scores",
        "threshold.numpy.risk: expected a number, got str 'two'",
    ]
    # with every value typed right, the fallback's settings as it runs them are checked together
    problems = threshold_problems(tmp_path, "{recurring_period_s: 86400, numpy: {recurring_tolerance_s: 50000, "
                                            "memory_ticks: 100, clock_scale_period_s: 600}}")
    assert problems == [
        "threshold.numpy.memory_ticks: 0 (off) or at least 256 ticks, got 100",
        "threshold.numpy.clock_scale_period_s: 0 (off) or at least 3600 s, got 600.0",
        "threshold.numpy.recurring_tolerance_s: must be under half the period (43200 s), got 50000.0",
    ]
    # a problem of threshold's own is said once, at its own path
    assert threshold_problems(tmp_path, "{memory_ticks: 100, numpy: {risk: 0.01}}") == [
        "threshold.memory_ticks: 0 (off) or at least 256 ticks, got 100"]


def check_config(tmp_path, numpy: dict):
    d = demo_dict(tmp_path)
    d["threshold"]["numpy"] = numpy
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(d))
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_check_config_says_when_the_fallbacks_clock_acts_and_refuses_its_bins_narrower_than_the_tick(tmp_path):
    res = check_config(tmp_path, {"clock_scale_period_s": 86400, "clock_scale_bins": 24})
    assert res.returncode == 0, res.stderr
    assert ("threshold.numpy.clock_scale_period_s: the clock's factor acts once every bin has seen 2 periods (2.0 d) "
            "of scores, the warm-up's (24.0 h) included: from about 24.0 h after the end of warm-up") in res.stderr
    assert "threshold.clock_scale" not in res.stderr
    narrow = check_config(tmp_path, {"clock_scale_period_s": 3600, "clock_scale_bins": 240})
    assert narrow.returncode == 2
    assert "threshold.numpy.clock_scale_bins: 240 bins of 3600 s are 15 s each, shorter than the tick (30 s)" \
        in narrow.stderr


def corridor(tmp_path, numpy: dict | None, tier: bool):
    d = demo_dict(tmp_path, bundle=str(DEMO_BUNDLE) if tier else None, chain=["tflite", "numpy"])
    d["threshold"] = {**d["threshold"], **({} if numpy is None else {"numpy": numpy})}
    cfg = from_dict(d, base_dir=str(REPO))
    return dataclasses.replace(cfg, warmup=dataclasses.replace(cfg.warmup, ticks=WARM))


def morning(cfg, periods: int):
    """The simulated corridor's warm-up, its first scored tick at 06:00 (an hour's start), then
    `periods` hours (the morning rise: the busy bins are the later ones)."""
    rows = sim_rows(cfg, days=0.25 + (periods + 1) * PERIOD / 86400, anomalies="none")
    start = rows[0].ts + 6 * 3600 - (STEPS - 1) * cfg.tick_s
    return [r for r in rows if r.ts >= start][:WARM + int(periods * PERIOD / cfg.tick_s)]


def run(pipe, rows):
    """Each live tick: (the threshold it was judged against, the fallback's fitted value, score, alerts)."""
    out = []
    for row in rows:
        res = pipe.step(row)
        if not res.warming:
            out.append((res.threshold, pipe.thresholds["numpy"].value, res.score, [(a.event, a.ts, a.peak_score) for a in res.alerts]))
    return out


def test_the_fallbacks_threshold_follows_the_clock_and_the_tiers_does_not(tmp_path):
    on = corridor(tmp_path, CLOCK, tier=False)
    rows = morning(on, MIN_CYCLES + 1)
    hour = rows[STEPS - 1].ts
    assert hour % PERIOD == 0 and on.threshold.clock_scale_period_s == 0
    # the fallback alone (no bundle): its threshold learns the clock and scales once every bin has seen two periods
    alone = Pipeline(on, tiers=[])
    judged = run(alone, rows)
    thr = alone.thresholds["numpy"]
    assert thr.clock is not None and thr.clock.cycles.min() >= MIN_CYCLES
    live = [r.ts for r in rows[WARM:]]
    acting = [(j, v) for t, (j, v, _, _) in zip(live, judged) if t >= hour + MIN_CYCLES * PERIOD]
    before = [(j, v) for t, (j, v, _, _) in zip(live, judged) if t < hour + (MIN_CYCLES - 1) * PERIOD]
    assert all(j == pytest.approx(v) for j, v in before)
    assert any(j > v * 1.05 for j, v in acting)                        # raised by the clock
    assert all(j >= v * (1 - 1e-9) for j, v in acting)                # raise only
    plain = run(Pipeline(corridor(tmp_path, None, tier=False), tiers=[]), rows)
    assert all(j == pytest.approx(v) for j, v, _, _ in plain)          # without the block: never scaled
    # a restart keeps the fallback's clock (the checkpoint is restored with its own settings)
    again = Pipeline(on, tiers=[])
    again.restore(alone.state_dict())
    assert again.thresholds["numpy"].clock.mean.tolist() == thr.clock.mean.tolist()
    # with the demo bundle the tier scores: its threshold has no clock, and every tick is judged as without the block
    tiered = Pipeline(corridor(tmp_path, CLOCK, tier=True))
    with_block = run(tiered, rows)
    assert tiered.chain.tier == "tflite" and tiered.thresholds["tflite"].clock is None
    assert tiered.thresholds["numpy"].clock is not None
    without = run(Pipeline(corridor(tmp_path, None, tier=True)), rows)
    assert [(j, s, a) for j, _, s, a in with_block] == [(j, s, a) for j, _, s, a in without]
